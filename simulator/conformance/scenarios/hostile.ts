// Hostile payloads on every topic: whatever arrives, receivers drop what they cannot read and
// carry on (PROTOCOL §2).
import { randomBytes } from "node:crypto";
import { encodeDeterministic } from "../../../attestation/index.js";
import { DEVICE_TOPICS, deviceTopic, encodeChallenge, MAX_PAYLOAD_BYTES } from "../../../protocol/messages.js";
import type { Scenario } from "../scenario.js";
import type { Session } from "../session.js";
import { accepted, claim, enrol, lockAndConfirm, staysStatus } from "../flows.js";
import { CONTACT, MESSAGE } from "./lifecycle.js";

const TEXT = { message: MESSAGE, contact: CONTACT };

/** Garbage for one topic: not CBOR, empty, truncated, wrong shapes, oversized. */
function hostile(valid: Uint8Array): { name: string; bytes: Uint8Array }[] {
  const te = new TextEncoder();
  return [
    { name: "empty", bytes: new Uint8Array(0) },
    { name: "text", bytes: te.encode("online; DROP TABLE devices;") },
    { name: "random", bytes: new Uint8Array(randomBytes(512)) },
    { name: "truncated", bytes: valid.subarray(0, Math.max(1, valid.length >> 1)) },
    { name: "wrong version", bytes: encodeDeterministic(new Map<string, unknown>([["v", 2], ["seq", 1]])) },
    { name: "wrong types", bytes: encodeDeterministic(new Map<string, unknown>([["v", 1], ["seq", "one"], ["nonce", 7], ["token", "x"], ["status", 9]])) },
    { name: "nested", bytes: new Uint8Array([...new Array(200).fill(0x81), 0x00]) },
    { name: "indefinite", bytes: new Uint8Array([0xbf, 0x61, 0x76, 0x01, 0xff]) },
    { name: "oversized", bytes: new Uint8Array(MAX_PAYLOAD_BYTES + 1024).fill(0xa1) },
    { name: "huge seq", bytes: encodeDeterministic(new Map<number, unknown>([[1, new Uint8Array(15)], [2, new Uint8Array(16)], [3, 2 ** 40], [4, 1]])) },
  ];
}

export const hostilePayloads: Scenario = {
  name: "hostile-payloads",
  title: "Hostile payloads on every topic",
  reqs: ["REQ-SEC-07"],
  description:
    "Empty, textual, random, truncated, wrongly versioned, wrongly typed, deeply nested, indefinite-length and oversized payloads are published on each of the nine topics of an enrolled handset (retained ones too) and on malformed topics. Afterwards the handset still answers a challenge, the status has not moved, and a theft report still locks the handset end to end.",
  async run(s: Session) {
    const h = await s.handset();
    const mark = s.observer.mark;
    await enrol(s, h);
    const owner = s.owner();
    await claim(s, h, owner);
    const valid = s.observer.of(h.did, "hello", mark)[0]!.payload;
    for (const kind of DEVICE_TOPICS) {
      for (const p of hostile(valid)) {
        await s.observer.publish(deviceTopic(h.did, kind), p.bytes, false);
      }
    }
    for (const topic of [`at/v1/d/${h.did.toUpperCase()}/hello`, `at/v1/d/${h.did}/unknown`, "at/v1/d/+/hello", `at/v1/d/${h.did}/hello/extra`, "at/v1/d//hello"]) {
      await s.observer.publish(topic.includes("+") ? "at/v1/d/x/hello" : topic, new Uint8Array(randomBytes(64))).catch(() => undefined);
    }
    // Retained garbage on the desired state: read again at every reconnect. Then removed.
    await s.observer.publish(deviceTopic(h.did, "desired"), new Uint8Array(randomBytes(100)), true);
    s.step(`${DEVICE_TOPICS.length * hostile(valid).length} hostile messages published`);

    const nonceBytes = new Uint8Array(randomBytes(32));
    const m1 = s.observer.mark;
    await s.observer.publish(deviceTopic(h.did, "challenge"), encodeChallenge({ nonce: nonceBytes }));
    await s.waitFor("REQ-SEC-07", "the handset to answer a challenge after the hostile payloads", () => s.observer.of(h.did, "attestation", m1)[0]);
    await staysStatus(s, "REQ-SEC-07", h.imei, "WHITELISTED", 100, "after hostile payloads");
    s.step("the handset still answers; the status did not move");
    await s.observer.publish(deviceTopic(h.did, "desired"), new Uint8Array(0), true);
    await lockAndConfirm(s, h, () => accepted(s, "REQ-SEC-07", owner.signer, { type: "report-stolen", imei: h.imei, ...TEXT }), TEXT, "REQ-SEC-07");
    s.step("a theft report still locks the handset");
  },
};
