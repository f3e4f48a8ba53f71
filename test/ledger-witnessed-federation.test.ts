// Three registries and two C2SP tlog-witnesses, every member with the policy "2 of these 2": a
// flag raised at A is cosigned by both witnesses (A collects their cosignatures on its checkpoint
// and publishes it) and applied at B and C; with one witness down, A's next flag reaches B's
// mirror but not its equipment status, until a checkpoint covering it has the quorum again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { toHex } from "../attestation/index.js";
import { witnessPolicy } from "../registry/ledger/witness-policy.js";
import { parseVerifierKey, parseNote } from "../registry/ledger/note.js";
import { openCheckpoint } from "../registry/ledger/checkpoint.js";
import { parseCosignerKey } from "../registry/ledger/cosignature.js";
import { TLOG_PREFIX } from "../registry/ledger/tlog-http.js";
import { tempDir, waitFor } from "./support/registry-sim.js";
import { eir, ownedHandset, send, startFederation, type Federation, type Member } from "./support/ledger-sim.js";
import { startWitness } from "./support/witnesses.js";

async function steal(f: Federation, at: Member) {
  const h = await ownedHandset(f, at);
  const r = await send(at, h.owner, { type: "report-stolen", imei: h.imei, message: "stolen", contact: "+1 555 0100" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return h;
}

test("a flag cosigned by a quorum of witnesses applies at B and C; without the quorum it does not", async (t) => {
  const dir = tempDir("at-witnesses-");
  t.after(() => dir.cleanup());
  const w1 = await startWitness(dir.path, "w1.example/witness");
  const w2 = await startWitness(dir.path, "w2.example/witness");
  t.after(() => w1.stop());
  t.after(() => w2.stop());
  const policy = witnessPolicy({ quorum: 2, witnesses: [w1.key, w2.key] });
  const f = await startFederation({
    names: ["A", "B", "C"],
    ledgerOver: () => ({ witnesses: [{ url: w1.url, key: w1.key }, { url: w2.url, key: w2.key }], witnessPolicy: policy }),
  });
  t.after(() => f.close());
  const [A, B, C] = f.members as [Member, Member, Member];
  for (const m of f.members) for (const w of [w1, w2]) w.follow(m.registry.ledger!.verifierKey);
  const aHex = toHex(A.key.kid);

  const h1 = await steal(f, A);
  t.after(() => h1.device.crash());
  for (const m of [B, C]) await waitFor(async () => (await eir(m, h1.imei)).body.status === "BLACKLISTED", `${m.name} applies A's cosigned flag`, 20_000);
  assert.ok(B.registry.ledger!.witnessedSize(aHex) >= 1);
  // A's tlog checkpoint carries both cosignatures, which verify under the witnesses' keys.
  const note = await (await fetch(`${A.url}${TLOG_PREFIX}checkpoint`)).text();
  const vkey = parseVerifierKey(A.registry.ledger!.verifierKey);
  assert.ok(vkey.ok);
  const opened = openCheckpoint(note, vkey.value, A.registry.ledger!.origin, policy.cosigners);
  assert.ok(opened.ok && opened.value.note.verified.length === 3, note);

  // One witness down: A's next flag gets one cosignature, below the quorum.
  await w2.stop();
  const h2 = await steal(f, A);
  t.after(() => h2.device.crash());
  await waitFor(() => B.log.named("ledger.checkpoint-below-quorum").some((e) => e.log === aHex && Number(e.size) >= 2), "B sees A's checkpoint below the quorum", 20_000);
  await waitFor(() => B.registry.ledger!.db.logs.size(B.registry.ledger!.known(aHex)!.row.id) >= 2, "B mirrors A's second entry", 20_000);
  await f.idle();
  assert.equal((await eir(B, h2.imei)).body.status !== "BLACKLISTED", true, "a flag without a quorum is not applied");
  assert.equal((await eir(C, h2.imei)).body.status !== "BLACKLISTED", true);
  assert.equal((await eir(B, h1.imei)).body.status, "BLACKLISTED", "the witnessed flag stands");
  const partial = parseNote(await (await fetch(`${A.url}${TLOG_PREFIX}checkpoint`)).text());
  assert.ok(partial.ok && partial.value.sigs.length === 2, "A's checkpoint now carries A's signature and one cosignature");

  // The witness is back: A's next checkpoint has the quorum again and covers both flags.
  await w2.start();
  const h3 = await steal(f, A);
  t.after(() => h3.device.crash());
  for (const m of [B, C]) for (const h of [h2, h3]) await waitFor(async () => (await eir(m, h.imei)).body.status === "BLACKLISTED", `${m.name} applies ${h.imei}`, 20_000);
  assert.ok(parseCosignerKey(w1.key).ok);
});
