// Hostile payloads on every topic the registry reads (PROTOCOL.md §2): garbage, truncated,
// wrongly shaped, oversized, and well-formed-but-forged messages. The registry logs and drops
// each; none crashes it and none changes a byte of its database; it keeps serving afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { connect } from "mqtt";
import { encodeDeterministic } from "../attestation/index.js";
import {
  encodeAttestation, encodeHeartbeat, encodeHello, encodeReceipt, encodeResult, deviceTopic, type DeviceTopicKind,
} from "../protocol/messages.js";
import type { Store } from "../registry/store.js";
import { startHarness, waitFor, type Harness } from "./support/registry-sim.js";

const TABLES = ["devices", "endorsements", "imei_bindings", "owners", "flags", "commands", "request_ids", "events"];
function snapshot(store: Store): Record<string, string> {
  return Object.fromEntries(TABLES.map((t) => [t, JSON.stringify(store.db.prepare(`SELECT * FROM ${t}`).all())]));
}

const KINDS: DeviceTopicKind[] = ["status", "hello", "attestation", "heartbeat", "receipt", "result"];

function truncations(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let n = 0; n < b.length; n += Math.max(1, Math.floor(b.length / 12))) out.push(b.subarray(0, n));
  return out;
}

/** Payloads that must change nothing, for a topic of `kind` about device `did`. */
function hostile(h: Harness, kind: DeviceTopicKind, valid: { hello: Uint8Array; token: Uint8Array }): Uint8Array[] {
  const te = new TextEncoder();
  const random = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 300 }), { seed: 42 + kind.length, numRuns: 25 });
  const shaped = [
    encodeDeterministic(new Map<string, unknown>([["v", 2]])),
    encodeDeterministic([1, 2, 3]),
    encodeDeterministic(new Map<string, unknown>([["v", 1], ["seq", -1], ["status", "SUCCEEDED"], ["code", 99]])),
    encodeDeterministic(new Map<string, unknown>([["v", 1], ["token", "not bytes"]])),
    encodeDeterministic(new Map<string, unknown>([["v", 1], ["endorsement", new Uint8Array(10)], ["bootcount", 1], ["lock", 7], ["seq", 0]])),
    Uint8Array.of(0xbf, 0x61, 0x76, 0x01, 0xff), // indefinite-length map
    Uint8Array.of(0xa2, 0x61, 0x76, 0x01, 0x61, 0x76, 0x01), // duplicate key
    new Uint8Array(64).fill(0x81), // deep nesting
    te.encode("onlinee"),
    te.encode("OFFLINE"),
    Uint8Array.of(0xff, 0xfe, 0x6f),
    new Uint8Array(16 * 1024 + 1).fill(0xa0), // over the size limit
  ];
  const specific: Uint8Array[] = [];
  if (kind === "hello") specific.push(...truncations(valid.hello));
  if (kind === "attestation") {
    specific.push(encodeAttestation({ token: valid.token }), ...truncations(encodeAttestation({ token: valid.token })));
    specific.push(encodeAttestation({ token: randomBytes(200) }));
  }
  if (kind === "result") {
    specific.push(encodeResult({ seq: 1, status: "SUCCEEDED", code: 2 }), encodeResult({ seq: 1, status: "SUCCEEDED", code: 2, token: valid.token }));
    specific.push(encodeResult({ seq: 9, status: "FAILED", code: 6 }));
  }
  if (kind === "receipt") specific.push(encodeReceipt({ seq: 9 }), ...truncations(encodeReceipt({ seq: 1 })));
  if (kind === "heartbeat") specific.push(...truncations(encodeHeartbeat({ bootcount: 1, lock: 0, seq: 0, tampered: false })));
  return [...random, ...shaped, ...specific];
}

test("garbage, truncated, forged and oversized payloads on every topic change nothing and crash nothing", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  // State worth protecting: an enrolled handset with an owner, a flag and an open command.
  const hs = h.handset();
  const d = h.device(hs, { respond: false });
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  await h.registry.idle();
  const valid = {
    hello: encodeHello({ endorsement: hs.endorsement, bootcount: 1, lock: 0, seq: 0 }),
    token: hs.ta.attest(new Uint8Array(32).fill(1)), // answers no challenge
  };
  const before = snapshot(h.registry.store);
  const attacker = await connect(h.broker.url, { clientId: "attacker", protocolVersion: 4 });
  t.after(() => attacker.endAsync());
  await new Promise<void>((r) => attacker.once("connect", () => r()));
  const unknownDid = "0123456789abcdef0123456789abcdef";
  let sent = 0;
  for (const kind of KINDS) {
    for (const did of [d.did, unknownDid]) {
      const payloads = hostile(h, kind, valid);
      await Promise.all(payloads.map((p) => attacker.publishAsync(deviceTopic(did, kind), Buffer.from(p), { qos: 1 })));
      sent += payloads.length;
    }
  }
  // Malformed topics next to the real ones.
  for (const topic of ["at/v1/d/NOT-A-DID/hello", `at/v1/d/${d.did}/hello/extra`, `at/v1/d/${d.did.toUpperCase()}/hello`]) {
    await attacker.publishAsync(topic, Buffer.from(valid.hello), { qos: 1 });
  }
  // A sentinel after everything: once it is logged, every earlier message has been handled.
  const sentinel = "fedcba9876543210fedcba9876543210";
  await attacker.publishAsync(deviceTopic(sentinel, "hello"), Buffer.from("sentinel"), { qos: 1 });
  await waitFor(() => h.log.events.some((e) => e.fields.did === sentinel), "the sentinel", 20_000);
  await h.registry.idle();
  assert.ok(sent > 400, `sent ${sent} hostile payloads`);
  assert.deepEqual(TABLES.filter((t) => snapshot(h.registry.store)[t] !== before[t]), [], "the database changed");
  assert.equal(h.log.events.filter((e) => e.level === "error").length, 0, JSON.stringify(h.log.events.filter((e) => e.level === "error").slice(0, 3)));
  // Each was logged and dropped - except receipts naming no command, which are ignored quietly.
  // (The start-up notice about OEM roots pinned without TAC ranges is configuration, not traffic.)
  const dropped = h.log.events.filter((e) => e.level === "warn" && e.event !== "oem.unranged").length;
  const quiet = h.log.events.filter((e) => e.event === "command.receipt").length;
  // Of the 3 malformed topics, the one with an extra level matches no subscription: 2 arrive.
  assert.equal(dropped + quiet, sent + 2 + 1, `${dropped} warnings + ${quiet} ignored receipts for ${sent} payloads, 2 bad topics and the sentinel`);
  // Still serving: a new handset enrols.
  const fresh = h.handset();
  const f = h.device(fresh);
  await f.connect();
  await waitFor(() => h.registry.store.devices.get(f.did), "enrolment after the storm");
});
