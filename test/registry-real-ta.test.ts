// The registry against the real Trusted App (build/ta.wasm through agent/device-ta.ts): the TA
// accepts the registry's signed commands, refuses forged and replayed ones, and its result
// tokens (nonce = SHA-512(command)[0..32]) settle the registry's jobs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fromHex, generateEd25519, ueidFromImei } from "../attestation/index.js";
import { buildRequest } from "../registry/request-codec.js";
import { claimWithCode } from "./support/claim.js";
import { signCommand } from "../registry/commands.js";
import { signingKey } from "../registry/keys.js";
import { postCose, getJson, realHandset, startHarness, waitFor } from "./support/registry-sim.js";

test("real TA: claim, report-stolen locks with the message, found unlocks; forged and replayed commands are refused", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = await realHandset([h.registryKey.publicKey]);
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const owner = signingKey(generateEd25519().privateKey);
  const send = (r: Parameters<typeof buildRequest>[1]) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(owner.signer, r, h.registryKey.kid));
  const claim = await claimWithCode(send, owner, hs.ta, hs.imei);
  assert.equal(claim.status, 200, JSON.stringify(claim.body));

  const r = await send({ type: "report-stolen", imei: hs.imei, message: "Stolen - please return", contact: "+44 20 7946 0000" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SUCCEEDED", "the TA's signed result");
  const rec = hs.ta.dev.lockState();
  assert.equal(rec.lockState, 2);
  assert.equal(rec.lastSeq, 1);
  assert.equal(rec.message, "Stolen - please return");
  assert.equal(rec.contact, "+44 20 7946 0000");
  assert.equal(h.registry.store.devices.get(d.did)!.lockState, 2);
  assert.deepEqual((await getJson(`${h.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${hs.imei}`)).body, { status: "BLACKLISTED" });

  // The TA decides: a command under another key, and the accepted command again, change nothing.
  const lock = h.registry.store.commands.get(d.did, 1)!.cose;
  const forged = signCommand(signingKey(generateEd25519().privateKey), { ueid: ueidFromImei(hs.imei), deviceKid: fromHex(d.did), seq: 2, action: 2 });
  assert.ok(hs.ta.applyCommand(forged) < 0, "forged unlock refused");
  assert.ok(hs.ta.applyCommand(lock) < 0, "replayed lock refused (sequence not above the last)");
  assert.equal(hs.ta.dev.lockState().lockState, 2);

  assert.equal((await send({ type: "found", imei: hs.imei })).status, 200);
  await waitFor(() => h.registry.store.commands.get(d.did, 2)?.status === "SUCCEEDED", "unlock result");
  assert.equal(hs.ta.dev.lockState().lockState, 0);
  assert.deepEqual((await getJson(`${h.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${hs.imei}`)).body, { status: "WHITELISTED" });
});
