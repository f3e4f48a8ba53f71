// Test entries in the shared ledger (docs/LEDGER.md §2): a flag on a handset whose IMEIs are all
// test IMEIs (TAC 00xxxxxx, GSMA TS.06 Reporting Body Identifier 00, protocol/test-imei.ts) - a
// conformance run's synthetic handset - is published as an entry marked "test": true; peers keep
// it in their copy of the log (the tree stays verifiable) but do not apply it, so a conformance
// run against a live registry never blacklists anything at its peers. Negative control: the
// same report for a handset in a real range is applied by the peer (BLACKLISTED there).
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519, imeiFromTacSnr } from "../attestation/index.js";
import { signingKey } from "../registry/keys.js";
import { peekEntry } from "../registry/ledger/entry.js";
import { isTestImei } from "../protocol/test-imei.js";
import { ImeiSource } from "../simulator/conformance/session.js";
import { claimWithCode } from "./support/claim.js";
import { SimDevice, refHandset, waitFor } from "./support/registry-sim.js";
import { eir, send, startFederation, type Member } from "./support/ledger-sim.js";

async function handsetAt(home: Member, imei: string) {
  const hs = refHandset([home.key.publicKey], { imei });
  const device = new SimDevice({ broker: home.brokerUrl, ta: hs.ta, endorsement: hs.endorsement });
  await device.connect();
  await waitFor(() => home.registry.store.devices.get(device.did), "enrolment");
  const owner = signingKey(generateEd25519().privateKey);
  const r = await claimWithCode((q) => send(home, owner, q), owner, hs.ta, imei);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { imei, owner, device };
}

test("a flag on a test IMEI is a test entry: the home registry applies it, peers keep it but do not apply it", async (t) => {
  const f = await startFederation();
  t.after(() => f.close());
  const [A, B] = f.members as [Member, Member];
  const testImei = new ImeiSource().next(); // what the conformance suite's handsets get
  assert.ok(isTestImei(testImei));
  const realImei = imeiFromTacSnr("35693803777001");
  const synthetic = await handsetAt(A, testImei);
  const genuine = await handsetAt(A, realImei);
  t.after(() => { synthetic.device.crash(); genuine.device.crash(); });

  assert.equal((await send(A, synthetic.owner, { type: "report-stolen", imei: testImei })).status, 200);
  assert.equal((await send(A, genuine.owner, { type: "report-stolen", imei: realImei })).status, 200);
  assert.equal((await eir(A, testImei)).body.status, "BLACKLISTED", "at home a test handset is flagged like any other");

  // The entries of A's log: the first marked test, the second not.
  const ledgerA = A.registry.ledger!;
  const entries = [0, 1].map((i) => peekEntry(ledgerA.db.tree.entry(ledgerA.local.row.id, i)));
  assert.ok(entries.every((e) => e.ok));
  assert.equal(entries[0]!.ok && entries[0]!.value.test, true);
  assert.equal(entries[1]!.ok && entries[1]!.value.test, undefined);

  // Entries apply in order at B: once the real one is applied, the test one was processed before it.
  await waitFor(async () => (await eir(B, realImei)).body.status === "BLACKLISTED", "the real flag applied at B");
  assert.equal((await eir(B, testImei)).status, 404, "B applied no flag from the test entry");
  const peerLog = B.registry.ledger!.known(ledgerA.logHex)!;
  assert.ok(peerLog, "B mirrors A's log");
});
