// A flag covers the whole device (TS 29.511 equipment status, PROTOCOL.md §6.3): a dual-IMEI
// handset flagged on one IMEI - by a peer registry through the ledger, by an authority, by its
// owner, or in a flag-batch - answers BLACKLISTED on both, and no claim, transfer or found naming
// its other IMEI gets through while the flag stands.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519 } from "../attestation/index.js";
import { signingKey, type SigningKey } from "../registry/keys.js";
import { claimProofFor, claimWithCode } from "./support/claim.js";
import { SimulatedPeer, checkPeerFlagApplied } from "../registry/ledger/conformance.js";
import { freshImei, fullView, getJson, refHandset, SimDevice, startHarness, postCose, waitFor } from "./support/registry-sim.js";
import { send, startFederation } from "./support/ledger-sim.js";
import { buildRequest, type RequestInput } from "../registry/request-codec.js";

const newKey = (): SigningKey => signingKey(generateEd25519().privateKey);

async function eir(url: string, imei: string): Promise<string> {
  return (await getJson(`${url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`)).body.status;
}

test("a peer's flag on IMEI 1 of a dual-IMEI handset blacklists IMEI 2 and blocks found, transfer and claim naming IMEI 2", async (t) => {
  const P = newKey();
  const f = await startFederation({ names: ["A"], extraPeers: () => [{ publicKey: P.publicKey, name: "P" }] });
  t.after(() => f.close());
  const A = f.member("A");
  const p = new SimulatedPeer({ broker: f.broker.url, key: P, federationKey: f.federationKey });
  await p.connect();
  t.after(() => p.close());

  // An owned dual-IMEI handset, and an unclaimed one.
  const dual = async () => {
    const hs = refHandset([A.key.publicKey], { imei: freshImei(), imei2: freshImei() });
    const d = new SimDevice({ broker: A.brokerUrl, ta: hs.ta, endorsement: hs.endorsement });
    await d.connect();
    t.after(() => d.crash());
    await waitFor(() => A.registry.store.imeis.of(d.did).length === 2 && A.registry.store.devices.get(d.did), "enrolment of both IMEIs");
    return { hs, d, imei1: hs.ta.id.imei, imei2: hs.ta.id.imei2! };
  };
  const owned = await dual();
  const owner = newKey();
  const c = await claimWithCode((r) => send(A, owner, r), owner, owned.hs.ta, owned.imei2);
  assert.equal(c.status, 200, JSON.stringify(c.body));
  const loose = await dual();

  // The peer knows the phones by IMEI 1 only.
  assert.ok((await checkPeerFlagApplied(A.url, p, owned.imei1)).ok, "the peer's flag on IMEI 1 applies");
  assert.ok((await checkPeerFlagApplied(A.url, p, loose.imei1)).ok, "the peer's flag on IMEI 1 applies");
  assert.equal(await eir(A.url, owned.imei2), "BLACKLISTED", "IMEI 2 of the same handset");
  assert.equal(await eir(A.url, loose.imei2), "BLACKLISTED", "IMEI 2 of the same handset");
  const view = await fullView(A.url, A.authority, owned.imei2);
  assert.equal(view.body.status, "BLACKLISTED");
  assert.equal(view.body.peerFlags?.[0]?.registry, "P");

  const found = await send(A, owner, { type: "found", imei: owned.imei2 });
  assert.equal(found.body.code, "E_FLAGGED_BY_OTHER", JSON.stringify(found.body));
  const transfer = await send(A, owner, { type: "transfer", imei: owned.imei2, key: newKey().coseKey });
  assert.equal(transfer.body.code, "E_FLAGGED", JSON.stringify(transfer.body));
  const thief = newKey();
  const claim = await claimWithCode((r) => send(A, thief, r), thief, loose.hs.ta, loose.imei2);
  assert.equal(claim.body.code, "E_FLAGGED", JSON.stringify(claim.body));
  assert.equal(A.registry.store.owners.current(loose.d.did), undefined, "nobody owns the flagged handset");
  assert.equal(await eir(A.url, owned.imei2), "BLACKLISTED");
});

test("the registry's own flags (owner report, authority flag, flag-batch) on IMEI 1 blacklist IMEI 2 too", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const post = (k: SigningKey, r: RequestInput) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(k.signer, r, h.registryKey.kid));
  const dual = async () => {
    const hs = h.handset({ imei: freshImei(), imei2: freshImei() });
    const d = h.device(hs);
    await d.connect();
    await waitFor(() => h.registry.store.imeis.of(d.did).length === 2, "enrolment of both IMEIs");
    return { hs, d, imei1: hs.ta.id.imei, imei2: hs.ta.id.imei2! };
  };
  const a = await dual();
  const owner = newKey();
  assert.equal((await claimWithCode((r) => post(owner, r), owner, a.hs.ta, a.imei1)).status, 200);
  assert.equal((await post(owner, { type: "report-stolen", imei: a.imei1 })).status, 200);
  assert.equal(await eir(h.url, a.imei2), "BLACKLISTED");

  const b = await dual();
  assert.equal((await post(h.authority, { type: "flag", imei: b.imei1 })).status, 200);
  assert.equal(await eir(h.url, b.imei2), "BLACKLISTED");
  const thief = newKey();
  const claim = await claimWithCode((r) => post(thief, r), thief, b.hs.ta, b.imei2);
  assert.equal(claim.body.code, "E_FLAGGED", JSON.stringify(claim.body));

  const c = await dual();
  const batch = await post(h.authority, { type: "flag-batch", imei: c.imei1, imeis: [c.imei1] });
  assert.equal(batch.status, 200, JSON.stringify(batch.body));
  assert.equal(await eir(h.url, c.imei2), "BLACKLISTED");
  const claim2 = await claimWithCode((r) => post(thief, r), thief, c.hs.ta, c.imei2);
  assert.equal(claim2.body.code, "E_FLAGGED", JSON.stringify(claim2.body));
});
