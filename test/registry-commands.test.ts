// Signed commands and their jobs (PROTOCOL.md §4.5, §4.6, §5) over a real broker: a handset
// offline when flagged locks on reconnect (persistent session, retained desired state), a lost
// result is recovered by re-sending, and results that do not prove the commanded state are dropped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeSign1, decodeStrict, generateEd25519, verifySign1, fromHex, ueidFromImei } from "../attestation/index.js";
import { isCborMap } from "../attestation/cbor/value.js";
import { encodeResult, commandNonce } from "../protocol/messages.js";
import { buildRequest } from "../registry/request-codec.js";
import { claimWithCode } from "./support/claim.js";
import { signingKey, type SigningKey } from "../registry/keys.js";
import { openCommand } from "../registry/commands.js";
import { startHarness, postCose, waitFor, type Harness } from "./support/registry-sim.js";

const newKey = (): SigningKey => signingKey(generateEd25519().privateKey);

async function enrolAndClaim(h: Harness, respond = true) {
  const hs = h.handset();
  const d = h.device(hs, { respond });
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const owner = newKey();
  const c = await claimWithCode((r) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(owner.signer, r, h.registryKey.kid)), owner, hs.ta, hs.ta.id.imei);
  assert.equal(c.status, 200);
  const report = (type: "report-stolen" | "found", extra: { message?: string } = {}) =>
    postCose(`${h.url}/antitheft/v1/requests`, buildRequest(owner.signer, { type, imei: hs.ta.id.imei, ...extra }, h.registryKey.kid));
  return { hs, d, owner, report };
}

test("commands are §5 COSE_Sign1 under the registry key, bound to the device, with increasing seq", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { hs, d, report } = await enrolAndClaim(h, false);
  assert.equal((await report("report-stolen", { message: "Please call" })).status, 200);
  const got = await waitFor(() => d.commands.find((c) => c.topic === "command"), "command");
  const s = decodeSign1(got.bytes);
  assert.equal(s.cwtTag, false, "tag 18 alone");
  assert.ok(verifySign1(got.bytes, h.registryKey.publicKey).ok, "signed by the registry key");
  assert.deepEqual([...s.protectedBytes], [0xa1, 0x01, 0x27]);
  const p = decodeStrict(s.payload); // deterministic encoding enforced by the strict decoder
  assert.ok(isCborMap(p));
  assert.deepEqual([...p.keys()], [1, 2, 3, 4, 5]);
  assert.deepEqual([...(p.get(1) as Uint8Array)], [...ueidFromImei(hs.ta.id.imei)]);
  assert.deepEqual([...(p.get(2) as Uint8Array)], [...fromHex(d.did)]);
  assert.equal(p.get(3), 1);
  assert.equal(p.get(4), 1);
  assert.equal(p.get(5), "Please call");
  const desired = await waitFor(() => d.commands.find((c) => c.topic === "desired"), "desired");
  assert.deepEqual([...desired.bytes], [...got.bytes], "the retained desired state is the same command");
  assert.equal((await report("found")).status, 200);
  await waitFor(() => h.registry.store.commands.get(d.did, 2), "second command");
  assert.equal(h.registry.store.commands.get(d.did, 1)!.status, "SUPERSEDED");
  assert.equal(h.registry.store.commands.get(d.did, 2)!.action, 2);
});

test("a handset offline when reported stolen locks when it reconnects", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { hs, d, report } = await enrolAndClaim(h);
  await d.disconnect();
  assert.equal((await report("report-stolen")).status, 200);
  await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SENT", "published to the broker");
  assert.equal(hs.ta.lockState, 0);
  await d.connect();
  await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SUCCEEDED", "lock result after reconnect");
  assert.equal(hs.ta.lockState, 2);
  assert.equal(h.registry.store.devices.get(d.did)!.lockState, 2);
  // The queued command, the retained desired state and the re-send on hello all arrive; the TA
  // applied one and the others were duplicates or stale: still exactly one accepted sequence.
  assert.equal(hs.ta.lastSeq, 1);
});

test("a lost result is recovered: the open command is re-sent on heartbeat until a result arrives", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { hs, d, report } = await enrolAndClaim(h, false); // the agent takes commands but never answers
  assert.equal((await report("report-stolen")).status, 200);
  await waitFor(() => d.commands.length >= 2, "command + desired");
  await waitFor(() => h.registry.store.commands.get(d.did, 1)!.status === "SENT", "the broker's acknowledgement recorded");
  const before = d.commands.length;
  await d.heartbeat();
  await waitFor(() => d.commands.length > before, "re-send on heartbeat");
  assert.equal(d.commands.at(-1)!.topic, "command");
  // Now the handset answers: apply and report.
  await d.disconnect();
  const again = h.device({ ta: hs.ta, endorsement: hs.endorsement });
  await again.connect();
  await waitFor(() => !openCommand(h.registry.store, d.did), "result");
  assert.equal(h.registry.store.commands.get(d.did, 1)!.status, "SUCCEEDED");
});

test("an attestation showing the commanded state settles a job whose result was lost", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { hs, d, report } = await enrolAndClaim(h, false);
  assert.equal((await report("report-stolen")).status, 200);
  const cmd = await waitFor(() => d.commands.find((c) => c.topic === "command"), "command");
  assert.equal(hs.ta.applyCommand(cmd.bytes), 0); // applied, but the result never left the handset
  await d.hello(); // -> challenge -> attestation with lock 2, last_seq 1
  await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SUCCEEDED", "settled by attestation");
  assert.equal(h.registry.store.devices.get(d.did)!.lockState, 2);
});

test("results that do not prove the commanded state are dropped and logged", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { hs, d, report } = await enrolAndClaim(h, false);
  assert.equal((await report("report-stolen")).status, 200);
  const cmd = await waitFor(() => d.commands.find((c) => c.topic === "command"), "command");
  await h.registry.idle();
  const refusals = () => h.log.named("command.result-refused").length;
  // SUCCEEDED without a token.
  await d.publish("result", encodeResult({ seq: 1, status: "SUCCEEDED", code: 2 }));
  await waitFor(() => refusals() === 1, "refusal 1");
  // A token for a challenge nonce, not for this command.
  await d.publish("result", encodeResult({ seq: 1, status: "SUCCEEDED", code: 2, token: hs.ta.attest(new Uint8Array(32)) }));
  await waitFor(() => refusals() === 2, "refusal 2");
  // The right nonce but the handset is not locked (the TA never applied it).
  await d.publish("result", encodeResult({ seq: 1, status: "SUCCEEDED", code: 2, token: hs.ta.attest(commandNonce(cmd.bytes)) }));
  await waitFor(() => refusals() === 3, "refusal 3");
  // A token from another device key.
  const other = h.handset();
  other.ta.lockState = 2;
  other.ta.lastSeq = 1;
  await d.publish("result", encodeResult({ seq: 1, status: "SUCCEEDED", code: 2, token: other.ta.attest(commandNonce(cmd.bytes)) }));
  await waitFor(() => refusals() === 4, "refusal 4");
  // The wrong LwM2M code for a lock.
  assert.equal(hs.ta.applyCommand(cmd.bytes), 0);
  await d.publish("result", encodeResult({ seq: 1, status: "SUCCEEDED", code: 3, token: hs.ta.attest(commandNonce(cmd.bytes)) }));
  await waitFor(() => refusals() === 5, "refusal 5");
  // A result for a command that does not exist.
  await d.publish("result", encodeResult({ seq: 77, status: "SUCCEEDED", code: 2, token: hs.ta.attest(commandNonce(cmd.bytes)) }));
  await waitFor(() => refusals() === 6, "refusal 6");
  // The right device, nonce and state, but a registration-purpose token (EAT intuse 2): a result
  // proof is generic (PROTOCOL §4.3), whatever else is right.
  await d.publish("result", encodeResult({ seq: 1, status: "SUCCEEDED", code: 2, token: hs.ta.attest(commandNonce(cmd.bytes), undefined, 2) }));
  await waitFor(() => refusals() === 7, "refusal 7");
  assert.match(String(h.log.named("command.result-refused").at(-1)?.reason ?? JSON.stringify(h.log.named("command.result-refused").at(-1))), /E_PURPOSE/);
  await h.registry.idle();
  assert.equal(h.registry.store.commands.get(d.did, 1)!.status, "SENT");
  // The genuine result counts.
  await d.publish("result", encodeResult({ seq: 1, status: "SUCCEEDED", code: 2, token: hs.ta.attest(commandNonce(cmd.bytes)) }));
  await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SUCCEEDED", "genuine result");
  assert.equal(refusals(), 7);
});

test("sequence numbers start above the attested last_seq; a stale REJECTED unlock is issued again above the TA's last_seq", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset();
  hs.ta.lastSeq = 41; // e.g. a handset whose previous registry database was lost
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const owner = newKey();
  const send = (r: Parameters<typeof buildRequest>[1]) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(owner.signer, r, h.registryKey.kid));
  await claimWithCode(send, owner, hs.ta, hs.ta.id.imei);
  const r = await send({ type: "report-stolen", imei: hs.ta.id.imei });
  assert.deepEqual(r.body.commands, [{ seq: 42, action: "lock" }]);
  await waitFor(() => h.registry.store.commands.get(d.did, 42)?.status === "SUCCEEDED", "lock");
  // The TA has meanwhile accepted higher sequence numbers than the registry knows: it refuses 43.
  hs.ta.lastSeq = 50;
  const f = await send({ type: "found", imei: hs.ta.id.imei });
  assert.deepEqual(f.body.commands, [{ seq: 43, action: "unlock" }]);
  await waitFor(() => h.registry.store.commands.get(d.did, 43)?.status === "REJECTED", "rejection");
  const rejected = h.registry.store.commands.get(d.did, 43)!;
  assert.equal(rejected.resultCode, 7, "LwM2M unlock failed");
  assert.equal(rejected.resultError, -32);
  // The signed refusal showed last_seq 50: the registry issues the unlock again as 51, once.
  await waitFor(() => h.registry.store.commands.get(d.did, 51)?.status === "SUCCEEDED", "the re-issued unlock");
  assert.equal(hs.ta.lockState, 0, "the owner's found took effect without a second report");
  assert.equal(h.registry.store.devices.get(d.did)!.lastSeq, 51);
  for (const seq of [44, 45, 46, 47, 48, 49, 50]) assert.equal(h.registry.store.commands.get(d.did, seq), undefined, `no command ${seq}`);
  assert.equal(openCommand(h.registry.store, d.did), undefined, "the job is over");
});

test("a REJECTED result without the device's token does not end the job (it could be anyone's)", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs, { tokenlessRejections: true });
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const owner = newKey();
  const send = (r: Parameters<typeof buildRequest>[1]) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(owner.signer, r, h.registryKey.kid));
  await claimWithCode(send, owner, hs.ta, hs.ta.id.imei);
  hs.ta.lastSeq = 50; // the TA will refuse the registry's seq 1
  const r = await send({ type: "report-stolen", imei: hs.ta.id.imei });
  const seq = r.body.commands[0].seq as number;
  await waitFor(() => d.commands.some((c) => c.result !== 0), "the TA's refusal");
  await waitFor(() => h.log.named("command.result-refused").some((f) => f.seq === seq && String(f.reason).includes("REJECTED without a token")), "the refused result to be logged");
  const cmd = h.registry.store.commands.get(d.did, seq)!;
  assert.notEqual(cmd.status, "REJECTED", "an unauthenticated refusal closed the job");
  assert.equal(openCommand(h.registry.store, d.did)?.seq, seq, "the lock stays open and keeps being re-sent");
});
