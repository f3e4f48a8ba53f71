// Requests name their audience (PROTOCOL.md §6.2 "aud": the kid of the registry's command key):
// a request an owner or authority signed for one registry is refused by every other one, so a
// registry (or anyone who saw the request) cannot replay it elsewhere within its 300 s window.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519, toHex } from "../attestation/index.js";
import { buildRequest, type RequestInput } from "../registry/request-codec.js";
import { claimProofFor, claimWithCode } from "./support/claim.js";
import { signingKey, type SigningKey } from "../registry/keys.js";
import { startHarness, getJson, postCose, waitFor } from "./support/registry-sim.js";

const newKey = (): SigningKey => signingKey(generateEd25519().privateKey);

test("a request signed for another registry, or for none, is refused with E_AUDIENCE and changes nothing", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const id = await getJson(`${h.url}/antitheft/v1/registry`);
  assert.equal(id.status, 200, JSON.stringify(id.body));
  assert.equal(id.body.kid, toHex(h.registryKey.kid), "the public identity names the command key's kid");
  assert.equal(id.body.publicKey, toHex(h.registryKey.publicKey));

  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const owner = newKey();
  const elsewhere = newKey().kid; // another registry's kid
  const post = (r: RequestInput, aud: Uint8Array | null) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(owner.signer, r, aud));
  const claim: RequestInput = { type: "claim", imei: hs.ta.id.imei, key: owner.coseKey, code: "00000-00000", proof: claimProofFor(hs.ta, "00000-00000") };
  for (const [what, aud] of [["another registry", elsewhere], ["no audience", null]] as const) {
    const r = await post(claim, aud);
    assert.equal(r.body.code, "E_AUDIENCE", `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.status, 403);
  }
  assert.equal(h.registry.store.owners.current(d.did), undefined, "a request for another registry was applied here");
  assert.equal(h.log.named("request.refused").filter((e) => e.code === "E_AUDIENCE").length, 2);
  const ok = await claimWithCode((r) => post(r, h.registryKey.kid), owner, hs.ta, hs.ta.id.imei);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const stolen = await post({ type: "report-stolen", imei: hs.ta.id.imei }, elsewhere);
  assert.equal(stolen.body.code, "E_AUDIENCE");
  assert.equal((await getJson(`${h.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${hs.ta.id.imei}`)).body.status, "WHITELISTED");
});
