// Freshness of attestations: the handset answers exactly the nonce asked; the registry accepts a
// token only for a nonce it issued to that device, once (RFC 9711 §4.1, PROTOCOL §4.2-4.3).
import { randomBytes } from "node:crypto";
import { decodeAttestation, decodeHello, deviceTopic, encodeChallenge, encodeHeartbeat } from "../../../protocol/messages.js";
import type { Scenario } from "../scenario.js";
import type { Session } from "../session.js";
import { enrol, staysStatus } from "../flows.js";
import { checkToken } from "./lifecycle.js";

export const nonce: Scenario = {
  name: "nonce",
  title: "Wrong or reused nonce",
  reqs: ["REQ-AT-01", "REQ-AT-02", "REQ-AT-03"],
  description:
    "The handset answers a challenge the suite sends with a token for exactly that nonce. After it rebooted (its boot count moved on) and went off, the attacker replays its first attestation (a used nonce), answers a fresh challenge with it (a wrong nonce), answers with another handset's token (a foreign key) and sends a heartbeat claiming lock 0. None may be accepted: a registry that accepted the old token would see the boot count go backwards and flag the device, so the status must stay WHITELISTED.",
  async run(s: Session) {
    const h = await s.handset();
    const other = await s.handset();
    const mark = s.observer.mark;
    await enrol(s, h);
    await enrol(s, other);
    const hello0 = s.observer.of(h.did, "hello", mark)[0]!;
    const att0 = await s.waitFor("REQ-AT-01", "the first attestation", () => s.observer.of(h.did, "attestation", mark)[0]);

    // The handset's side: a token for exactly the nonce asked.
    const mine = new Uint8Array(randomBytes(32));
    const m1 = s.observer.mark;
    await s.observer.publish(deviceTopic(h.did, "challenge"), encodeChallenge({ nonce: mine }));
    const ans = await s.waitFor("REQ-AT-01", "an attestation for the suite's challenge", () => s.observer.of(h.did, "attestation", m1)[0]);
    const v = checkToken(s, h, decodeAttestation(ans.payload).token, helloEndorsement(hello0.payload));
    s.check("REQ-AT-01", Buffer.from(v.token.nonce).equals(Buffer.from(mine)), "the token's eat_nonce is not the challenge's nonce");
    s.step("the handset answers a challenge with a token for exactly its nonce");

    // Reboot (boot count + 1, attested), then power off.
    await h.powerOff(true);
    const m2 = s.observer.mark;
    await h.powerOn();
    await s.waitFor("REQ-AT-01", "an attestation after the reboot", () => s.observer.of(h.did, "attestation", m2)[0]);
    await new Promise((r) => setTimeout(r, 50));
    await h.powerOff(true);

    // (a) the first attestation replayed (its nonce was used)
    await s.observer.publish(deviceTopic(h.did, "attestation"), att0.payload);
    // (b) a hello replayed: the registry challenges; answered with the old token (wrong nonce)
    const m3 = s.observer.mark;
    await s.observer.publish(deviceTopic(h.did, "hello"), hello0.payload);
    const ch = await s.observer.waitFor((m) => (m.did === h.did && m.kind === "challenge" ? m : undefined), s.timeoutMs, "a challenge answering the replayed hello", m3).catch((e: Error) => s.fail("REQ-AT-02", e.message));
    await s.observer.publish(deviceTopic(h.did, "attestation"), att0.payload);
    // (c) another handset's token for that very challenge, on h's topic
    const m4 = s.observer.mark;
    await s.observer.publish(deviceTopic(other.did, "challenge"), ch.payload);
    const foreign = await s.waitFor("REQ-AT-02", "the other handset's answer", () => s.observer.of(other.did, "attestation", m4)[0]);
    await s.observer.publish(deviceTopic(h.did, "attestation"), foreign.payload);
    // (d) an unsigned heartbeat claiming lock 0 and an old boot count
    await s.observer.publish(deviceTopic(h.did, "heartbeat"), encodeHeartbeat({ bootcount: 0, lock: 0, seq: 0, tampered: false }));
    s.step("replayed token, wrong nonce, foreign token and a lying heartbeat sent");

    // Barrier: a hello after the attacks is answered only once they were received.
    const m5 = s.observer.mark;
    await s.observer.publish(deviceTopic(h.did, "hello"), hello0.payload);
    await s.waitFor("REQ-AT-02", "the registry's answer to a later hello", () => s.observer.of(h.did, "challenge", m5)[0]);
    await staysStatus(s, "REQ-AT-02", h.imei, "WHITELISTED", 400, "after replayed and foreign attestations");
  },
};

function helloEndorsement(payload: Uint8Array): Uint8Array {
  try {
    return decodeHello(payload).endorsement;
  } catch {
    return new Uint8Array(0); // the verification that follows says why
  }
}
