// Job results (PROTOCOL.md §4.6) from someone who can publish on a device's result topic: a
// FAILED needs the same proof as SUCCEEDED and REJECTED (a token of the device bound to the
// command), a result only moves an open job, and a job that ended - settled, refused, or
// superseded by a newer command - is never reopened by a later message, genuine or not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519 } from "../attestation/index.js";
import { encodeResult, commandNonce } from "../protocol/messages.js";
import { buildRequest, type RequestInput } from "../registry/request-codec.js";
import { claimProofFor, claimWithCode } from "./support/claim.js";
import { signingKey } from "../registry/keys.js";
import { openCommand } from "../registry/commands.js";
import { startHarness, postCose, waitFor } from "./support/registry-sim.js";

test("a FAILED result without the device's token changes nothing; an ended or superseded job is never reopened", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs, { respond: false });
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const owner = signingKey(generateEd25519().privateKey);
  const send = (r: RequestInput) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(owner.signer, r, h.registryKey.kid));
  assert.equal((await claimWithCode(send, owner, hs.ta, hs.ta.id.imei)).status, 200);
  assert.equal((await send({ type: "report-stolen", imei: hs.ta.id.imei })).status, 200);
  const lock = await waitFor(() => d.commands.find((c) => c.topic === "command"), "the lock");
  await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SENT", "the lock sent");
  const refusals = () => h.log.named("command.result-refused").length;

  // (1) FAILED with no token: anyone could have sent it.
  await d.publish("result", encodeResult({ seq: 1, status: "FAILED", code: 6 }));
  await waitFor(() => refusals() === 1, "the tokenless FAILED refused");
  await h.registry.idle();
  assert.equal(h.registry.store.commands.get(d.did, 1)!.status, "SENT", "a tokenless FAILED moved the job");

  // (2) The handset applies it; a genuine FAILED (enforcement failed) is recorded, the job stays open.
  assert.equal(hs.ta.applyCommand(lock.bytes), 0);
  const failed = encodeResult({ seq: 1, status: "FAILED", code: 6, token: hs.ta.attest(commandNonce(lock.bytes)) });
  await d.publish("result", failed);
  await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "FAILED", "the genuine FAILED");
  assert.equal(openCommand(h.registry.store, d.did)?.seq, 1);

  // (3) found issues seq 2 and supersedes seq 1: a replay of the genuine FAILED for seq 1 does not revive it.
  assert.equal((await send({ type: "found", imei: hs.ta.id.imei })).status, 200);
  await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SUPERSEDED", "seq 1 superseded");
  const before = refusals();
  await d.publish("result", failed);
  await waitFor(() => refusals() > before || h.registry.store.commands.get(d.did, 1)?.status !== "SUPERSEDED", "the replayed FAILED handled");
  await h.registry.idle();
  assert.equal(h.registry.store.commands.get(d.did, 1)!.status, "SUPERSEDED", "a result reopened a superseded job");

  // (4) seq 2 settles; its recorded SUCCEEDED replayed, or a FAILED for it, changes nothing.
  const unlock = await waitFor(() => d.commands.find((c) => c.topic === "command" && c.bytes !== lock.bytes && !Buffer.from(c.bytes).equals(Buffer.from(lock.bytes))), "the unlock");
  assert.equal(hs.ta.applyCommand(unlock.bytes), 0);
  const token = hs.ta.attest(commandNonce(unlock.bytes));
  await d.publish("result", encodeResult({ seq: 2, status: "SUCCEEDED", code: 3, token }));
  await waitFor(() => h.registry.store.commands.get(d.did, 2)?.status === "SUCCEEDED", "the unlock settled");
  const n = refusals();
  await d.publish("result", encodeResult({ seq: 2, status: "FAILED", code: 7, token }));
  await waitFor(() => refusals() > n, "the late FAILED refused");
  await h.registry.idle();
  assert.equal(h.registry.store.commands.get(d.did, 2)!.status, "SUCCEEDED");
  assert.equal(openCommand(h.registry.store, d.did), undefined, "the job stays ended");
});
