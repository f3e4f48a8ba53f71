// Enrolment and clone detection (PROTOCOL.md §4.1-4.3, §6.1) against a real aedes broker on a
// loopback port and a real SQLite file: handsets with the real TA and with the reference TA.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createEndorsement } from "../attestation/endorsement.js";
import { encodeAttestation } from "../protocol/messages.js";
import { generateEd25519, nodeSigner } from "../attestation/index.js";
import { startHarness, realHandset, getJson, fullView, waitFor, OEM, type Harness } from "./support/registry-sim.js";

async function eir(h: Harness, imei: string) {
  return getJson(`${h.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`);
}

test("a handset with the real TA enrols: hello -> challenge -> attestation -> WHITELISTED", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = await realHandset([h.registryKey.publicKey]);
  assert.equal((await eir(h, hs.imei)).status, 404, "unknown before enrolment");
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  assert.equal(d.challenges.length, 1);
  const dev = h.registry.store.devices.get(d.did)!;
  assert.deepEqual([...dev.deviceKey], [...hs.ta.publicKey]);
  assert.deepEqual(h.registry.store.imeis.didsFor(hs.imei), [d.did]);
  assert.equal(dev.lockState, 0);
  assert.equal(dev.tampered, false);
  const r = await eir(h, hs.imei);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { status: "WHITELISTED" });
  const types = h.registry.store.events.list().map((e) => e.type);
  assert.ok(types.includes("enrolled") && types.includes("imei-bound"), types.join(","));
});

test("dual-SIM: both IMEIs are bound to the device key", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset({ imei: "490154203237518", imei2: "260531793113837" });
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  assert.deepEqual(h.registry.store.imeis.didsFor("490154203237518"), [d.did]);
  assert.deepEqual(h.registry.store.imeis.didsFor("260531793113837"), [d.did]);
  assert.equal((await eir(h, "260531793113837")).body.status, "WHITELISTED");
});

test("clone: the same IMEI from a second device key greylists both and records why", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const original = h.handset();
  const clone = h.handset({ imei: original.ta.id.imei }); // another HUK, another key, same IMEI
  const a = h.device(original);
  await a.connect();
  await waitFor(() => h.registry.store.devices.get(a.did), "first enrolment");
  assert.equal((await eir(h, original.ta.id.imei)).body.status, "WHITELISTED");
  const b = h.device(clone);
  await b.connect();
  await waitFor(() => h.registry.store.devices.get(b.did), "second enrolment");
  await h.registry.idle();
  assert.equal((await eir(h, original.ta.id.imei)).body.status, "GREYLISTED");
  for (const did of [a.did, b.did]) {
    const flags = h.registry.store.flags.active(did);
    assert.equal(flags.length, 1, did);
    assert.equal(flags[0]!.kind, "clone");
    assert.equal(flags[0]!.raisedBy.role, "registry");
    assert.match(flags[0]!.reason, /IMEI presented by 2 different device keys/);
  }
  const view = await fullView(h.url, h.authority, original.ta.id.imei);
  assert.equal(view.body.devices.length, 2);
  assert.equal(view.body.devices[0].flags[0].kind, "clone");
});

test("a second, different endorsement for an enrolled device greylists it", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  await d.disconnect();
  const second = createEndorsement({ oem: OEM, issuedAt: 1_800_000_000, deviceKey: hs.ta.publicKey, imei: hs.ta.id.imei, oemid: hs.ta.id.oemid, hwmodel: hs.ta.id.hwmodel });
  const again = h.device({ ta: hs.ta, endorsement: second });
  await again.connect();
  await waitFor(() => h.registry.store.flags.active(d.did).length > 0, "clone flag");
  assert.equal(h.registry.store.flags.active(d.did)[0]!.kind, "clone");
  assert.match(h.registry.store.flags.active(d.did)[0]!.reason, /second, different endorsement/);
  assert.equal((await eir(h, hs.ta.id.imei)).body.status, "GREYLISTED");
});

test("an endorsement from an unpinned OEM gets no challenge and enrols nothing; the refusal is logged", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset();
  const rogue = nodeSigner(generateEd25519().privateKey);
  const forged = createEndorsement({ oem: rogue, issuedAt: 1, deviceKey: hs.ta.publicKey, imei: hs.ta.id.imei, oemid: hs.ta.id.oemid, hwmodel: hs.ta.id.hwmodel });
  const d = h.device({ ta: hs.ta, endorsement: forged });
  await d.connect();
  await waitFor(() => h.log.named("hello.refused").length > 0, "refusal log");
  await h.registry.idle();
  assert.equal(h.log.named("hello.refused")[0]!.reason, "E_ENDORSEMENT_UNTRUSTED");
  assert.equal(d.challenges.length, 0);
  assert.equal(h.registry.store.devices.count(), 0);
  assert.equal((await eir(h, hs.ta.id.imei)).status, 404);
});

test("attestations for an unknown, replayed or other device's nonce are refused", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs, { attest: false });
  await d.connect();
  const nonce = await waitFor(() => d.challenges[0], "challenge");
  // A nonce the registry never issued.
  await d.publish("attestation", encodeAttestation({ token: hs.ta.attest(new Uint8Array(32).fill(7)) }));
  await waitFor(() => h.log.named("attestation.refused").length === 1, "refusal 1");
  // Another device answering with this device's nonce.
  const other = h.handset();
  const o = h.device(other, { attest: false });
  await o.connect();
  await waitFor(() => o.challenges[0], "challenge 2");
  await o.publish("attestation", encodeAttestation({ token: other.ta.attest(nonce) }));
  await waitFor(() => h.log.named("attestation.refused").length === 2, "refusal 2");
  // This device, this nonce, but a registration-purpose token (EAT intuse 2): a challenge is
  // answered with a generic token only (PROTOCOL §4.3); the refusal does not spend the nonce.
  await d.publish("attestation", encodeAttestation({ token: hs.ta.attest(nonce, undefined, 2) }));
  await waitFor(() => h.log.named("attestation.refused").length === 3, "refusal 3");
  assert.equal(h.registry.store.devices.count(), 0);
  // The genuine answer enrols; the same answer again is a replay.
  await d.publish("attestation", encodeAttestation({ token: hs.ta.attest(nonce) }));
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  await d.publish("attestation", encodeAttestation({ token: hs.ta.attest(nonce) }));
  await waitFor(() => h.log.named("attestation.refused").length === 4, "refusal 4");
  assert.deepEqual(h.log.named("attestation.refused").map((f) => String(f.reason).slice(0, 15)), ["E_NONCE_UNKNOWN", "E_NONCE_UNKNOWN", "E_PURPOSE", "E_NONCE_UNKNOWN"]);
  assert.equal(h.registry.store.devices.count(), 1);
});

test("a TAMPERED TA and a rolled-back state are greylisted", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const tampered = h.handset();
  tampered.ta.tampered = true;
  const a = h.device(tampered);
  await a.connect();
  await waitFor(() => h.registry.store.devices.get(a.did), "tampered enrolment");
  await h.registry.idle();
  assert.equal(h.registry.store.devices.get(a.did)!.tampered, true);
  assert.equal((await eir(h, tampered.ta.id.imei)).body.status, "GREYLISTED");

  const rolled = h.handset();
  rolled.ta.lastSeq = 5;
  rolled.ta.bootcount = 9;
  const b = h.device(rolled);
  await b.connect();
  await waitFor(() => h.registry.store.devices.get(b.did), "enrolment");
  assert.equal((await eir(h, rolled.ta.id.imei)).body.status, "WHITELISTED");
  rolled.ta.lastSeq = 2; // an old sealed state restored
  rolled.ta.bootcount = 4;
  await b.hello();
  await waitFor(() => h.registry.store.flags.active(b.did).length > 0, "rollback flag");
  assert.equal(h.registry.store.flags.active(b.did)[0]!.kind, "tampered");
  assert.match(h.registry.store.flags.active(b.did)[0]!.reason, /backwards/);
  assert.equal((await eir(h, rolled.ta.id.imei)).body.status, "GREYLISTED");
  assert.equal(h.registry.store.devices.get(b.did)!.lastSeq, 5, "the registry keeps the highest attested seq");
});
