// The REQ-LG checks of registry/ledger/conformance.ts (docs/LEDGER.md §10) run against our
// registry through the protocol only (MQTT + HTTP), with simulated peer registries - and negative
// controls showing each check can fail: a registry that does not pin the peer fails REQ-LG-03 and
// REQ-LG-05.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519 } from "../attestation/index.js";
import { signingKey } from "../registry/keys.js";
import {
  SimulatedPeer, REQ_LG, checkAudit, checkForkAlarm, checkHeadSurvives, checkHostileLedgerPayloads, checkNoClearImei, checkOnlyOriginClears, checkPeerFlagApplied,
} from "../registry/ledger/conformance.js";
import { fullView, getJson, freshImei, refHandset, SimDevice, waitFor } from "./support/registry-sim.js";
import { claimWithCode } from "./support/claim.js";
import { ownedHandset, send, startFederation, type Member } from "./support/ledger-sim.js";

test("REQ-LG-01..08 hold for our registry, driven over MQTT and HTTP only", async (t) => {
  const P = signingKey(generateEd25519().privateKey);
  const Q = signingKey(generateEd25519().privateKey);
  const f = await startFederation({
    names: ["A", "B"],
    extraPeers: (name) => (name === "A" ? [{ publicKey: P.publicKey, name: "P" }, { publicKey: Q.publicKey, name: "Q" }] : []),
  });
  t.after(() => f.close());
  const [A, B] = f.members as [Member, Member];
  const p = new SimulatedPeer({ broker: f.broker.url, key: P, federationKey: f.federationKey });
  const q = new SimulatedPeer({ broker: f.broker.url, key: Q, federationKey: f.federationKey });
  await p.connect();
  await q.connect();
  t.after(() => Promise.all([p.close(), q.close()]));
  const results = [];

  const h = await ownedHandset(f, A);
  t.after(() => h.device.crash());
  assert.equal((await send(A, h.owner, { type: "report-stolen", imei: h.imei })).status, 200);
  await f.converged();

  const imei = freshImei();
  const applied = await checkPeerFlagApplied(A.url, p, imei);
  results.push(applied);
  results.push(await checkOnlyOriginClears(A.url, p, q, imei, applied.seq));
  results.push(await checkNoClearImei(A.url, [h.imei]));
  const audited = await checkAudit([{ url: A.url, publicKey: A.key.publicKey }, { url: B.url, publicKey: B.key.publicKey }]);
  results.push(audited);
  results.push(await checkHostileLedgerPayloads(A.url, q, [A.registry.ledger!.logHex, p.logHex, q.logHex]));
  const before = (await getJson(`${A.url}/antitheft/v1/ledger/sth`)).body;
  await A.restart();
  results.push(await checkHeadSurvives(A.url, A.key.publicKey, before));
  results.push(await checkForkAlarm(A.url, q));
  for (const r of results) assert.ok(r.ok, `${r.id} (${REQ_LG[r.id].text}): ${r.detail}`);
  assert.deepEqual([...new Set(results.map((r) => r.id))].sort(), ["REQ-LG-01", "REQ-LG-02", "REQ-LG-03", "REQ-LG-04", "REQ-LG-05", "REQ-LG-06", "REQ-LG-08"]);

  // Negative controls: B does not pin P or Q, so it neither applies P's flag nor sees Q's fork.
  assert.equal((await checkPeerFlagApplied(B.url, p, freshImei(), 400)).ok, false, "REQ-LG-03 fails when the peer is not pinned");
  assert.equal((await checkForkAlarm(B.url, q, 400)).ok, false, "REQ-LG-05 fails without an alarm");
  assert.equal((await checkNoClearImei(B.url, [h.imei])).ok, false, "REQ-LG-02 cannot pass on an empty log");
});

test("a peer's flag blocks claim and transfer, and the owner's found while it stands", async (t) => {
  const P = signingKey(generateEd25519().privateKey);
  const f = await startFederation({ names: ["A"], extraPeers: () => [{ publicKey: P.publicKey, name: "P" }] });
  t.after(() => f.close());
  const A = f.member("A");
  const p = new SimulatedPeer({ broker: f.broker.url, key: P, federationKey: f.federationKey });
  await p.connect();
  t.after(() => p.close());
  // An owned handset, stolen at A and flagged by P too: the owner's "found" cannot lift P's flag.
  const h = await ownedHandset(f, A);
  t.after(() => h.device.crash());
  assert.equal((await send(A, h.owner, { type: "report-stolen", imei: h.imei })).status, 200);
  assert.ok((await checkPeerFlagApplied(A.url, p, h.imei)).ok);
  await waitFor(async () => (await fullView(A.url, A.authority, h.imei)).body.peerFlags?.length === 1, "P's flag at A");
  const found = await send(A, h.owner, { type: "found", imei: h.imei });
  assert.equal(found.status, 409, JSON.stringify(found.body));
  assert.equal(found.body.code, "E_FLAGGED_BY_OTHER");
  assert.match(found.body.message, /registry P/);
  const transfer = await send(A, h.owner, { type: "transfer", imei: h.imei, key: signingKey(generateEd25519().privateKey).coseKey });
  assert.equal(transfer.body.code, "E_FLAGGED");
  assert.match(transfer.body.message, /another registry/);
  assert.equal((await getJson(`${A.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${h.imei}`)).body.status, "BLACKLISTED");
  // An enrolled, unclaimed handset flagged by P cannot be claimed at A.
  const hs = refHandset([A.key.publicKey]);
  const d = new SimDevice({ broker: A.brokerUrl, ta: hs.ta, endorsement: hs.endorsement });
  await d.connect();
  t.after(() => d.crash());
  await waitFor(() => A.registry.store.devices.get(d.did), "enrolment");
  assert.ok((await checkPeerFlagApplied(A.url, p, hs.ta.id.imei)).ok);
  const owner = signingKey(generateEd25519().privateKey);
  const claim = await claimWithCode((r) => send(A, owner, r), owner, hs.ta, hs.ta.id.imei);
  assert.equal(claim.status, 409, JSON.stringify(claim.body));
  assert.equal(claim.body.code, "E_FLAGGED");
});
