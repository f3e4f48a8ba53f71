// A C2SP tlog-witness: cosigns (C2SP tlog-cosignature, cosignature/v1) a checkpoint only when it
// is consistent with the last one it cosigned, answers the spec's status codes, keeps its state
// across restarts, and so never lets a log get a fork cosigned.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generateEd25519 } from "../attestation/index.js";
import { signingKey } from "../registry/keys.js";
import { consistencyProof } from "../registry/ledger/merkle.js";
import { ed25519NoteSigner, ed25519NoteVerifier, openNote, parseNote } from "../registry/ledger/note.js";
import { signCheckpoint } from "../registry/ledger/checkpoint.js";
import { cosignatureSigner, cosignatureTime, cosignatureVerifier, cosignerKey, parseCosignerKey } from "../registry/ledger/cosignature.js";
import { Witness } from "../registry/ledger/witness.js";
import { SqliteWitnessStore } from "../registry/ledger/witness-store.js";
import { serveWitness } from "../registry/ledger/witness-http.js";
import { History } from "./support/ledger-views.js";
import { tempDir } from "./support/registry-sim.js";

const ORIGIN = "registry.example/ledger";
const logKey = signingKey(generateEd25519().privateKey);
const logSigner = ed25519NoteSigner(ORIGIN, logKey.signer);
const logVerifier = ed25519NoteVerifier(ORIGIN, logKey.publicKey);
const b64 = (h: Uint8Array) => Buffer.from(h).toString("base64");
const cp = (h: History, size = h.entries.length, signer = logSigner) => signCheckpoint({ origin: ORIGIN, size, root: h.tree.root(size) }, [signer]);
const req = (old: number, proof: Uint8Array[], note: string) => `old ${old}\n${proof.map((p) => `${b64(p)}\n`).join("")}\n${note}`;

function witness(path: string, name: string, now = () => 1_700_000_000_000) {
  const key = signingKey(generateEd25519().privateKey);
  const store = new SqliteWitnessStore(path);
  return { w: new Witness({ cosigner: cosignatureSigner(name, key.signer, now), logs: [logVerifier], store, now }), key, store, verifier: cosignatureVerifier(name, key.publicKey) };
}

test("cosignature/v1: the spec example's timestamp; keys round-trip; the cosigned note opens under log and witness keys", () => {
  const line = "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
  assert.equal(cosignatureTime(new Uint8Array(Buffer.from(line, "base64")).subarray(4)), 1679315147, "tlog-cosignature's example: time 1679315147");
  const k = signingKey(generateEd25519().privateKey);
  const v = parseCosignerKey(cosignerKey("witness.example/w1", k.publicKey));
  assert.ok(v.ok && v.value.name === "witness.example/w1");
  assert.equal(parseCosignerKey(cosignerKey("witness.example/w1", k.publicKey).replace("+", "+0")).ok, false);
});

test("add-checkpoint: 200 with a cosignature, 409 with the size, 422 for a branch, 409 for another root, 404, 403, 400; state survives a restart", async (t) => {
  const dir = tempDir("at-witness-");
  t.after(() => dir.cleanup());
  const db = join(dir.path, "w1.sqlite");
  let { w, store, verifier } = witness(db, "witness.example/w1");
  const honest = new History(logKey).grow(5, 1);
  const cp5 = cp(honest);
  const a = w.addCheckpoint(req(0, [], cp5));
  assert.equal(a.status, 200, a.body);
  const opened = openNote(cp5 + a.body, [logVerifier, verifier]);
  assert.ok(opened.ok && opened.value.verified.length === 2, JSON.stringify(opened));
  assert.equal(cosignatureTime(new Uint8Array(Buffer.from(a.body.trim().split(" ")[2]!, "base64")).subarray(4)), 1_700_000_000);

  assert.deepEqual(w.addCheckpoint(req(0, [], cp5)), { status: 409, type: "text/x.tlog.size", body: "5\n" });
  assert.equal(w.addCheckpoint(req(5, [], cp5)).status, 200, "the same checkpoint again is cosigned again");
  honest.grow(3, 1);
  const cp8 = cp(honest);
  assert.equal(w.addCheckpoint(req(5, consistencyProof(honest.tree, 5, 8), cp8)).status, 200);
  assert.equal(w.addCheckpoint(req(5, consistencyProof(honest.tree, 5, 8), cp8)).status, 409, "old 5 is no longer the latest");

  // A branch from 4 (before the cosigned 8), proved consistent on its own terms: refused.
  const branch = new History(logKey, honest, 4).grow(5, 9);
  assert.equal(w.addCheckpoint(req(8, consistencyProof(branch.tree, 8, 9), cp(branch))).status, 422);
  assert.equal(w.addCheckpoint(req(8, [], cp(branch, 8))).status, 409, "same size, another root");
  const other = new History(signingKey(generateEd25519().privateKey)).grow(1, 1);
  assert.equal(w.addCheckpoint(req(0, [], signCheckpoint({ origin: "unknown.example/log", size: 1, root: other.tree.root() }, [ed25519NoteSigner("unknown.example/log", logKey.signer)]))).status, 404);
  assert.equal(w.addCheckpoint(req(8, [], cp(honest, 8, ed25519NoteSigner(ORIGIN, signingKey(generateEd25519().privateKey).signer)))).status, 403);
  assert.equal(w.addCheckpoint(req(9, [], cp8)).status, 400, "old beyond size");
  for (const junk of ["", "old 01\n\n" + cp8, "old 8\nnot base64\n\n" + cp8, `old 8\n${"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64)}\n${cp8}`, "old 8\n\nnot a note", new Uint8Array([0xff])]) {
    assert.equal(w.addCheckpoint(junk).status, 400, JSON.stringify(junk));
  }
  store.close();
  ({ w, store } = witness(db, "witness.example/w1"));
  t.after(() => store.close());
  assert.deepEqual(w.addCheckpoint(req(0, [], cp5)), { status: 409, type: "text/x.tlog.size", body: "8\n" }, "the witness remembers after a restart");

  // Over HTTP.
  const s = await serveWitness(w);
  t.after(() => s.close());
  const post = (body: string) => fetch(`${s.url}/add-checkpoint`, { method: "POST", body, signal: AbortSignal.timeout(10_000) });
  const r = await post(req(0, [], cp5));
  assert.equal(r.status, 409);
  assert.equal(r.headers.get("content-type"), "text/x.tlog.size");
  assert.equal(await r.text(), "8\n");
  const ok = await post(req(8, [], cp8));
  assert.equal(ok.status, 200);
  assert.ok(parseNote(cp8 + (await ok.text())).ok);
  assert.equal((await fetch(`${s.url}/add-checkpoint`)).status, 405);
});

test("a log cannot get a fork cosigned by a quorum: witnesses that cosigned one branch refuse the other", (t) => {
  const dir = tempDir("at-witness-");
  t.after(() => dir.cleanup());
  const ws = [witness(join(dir.path, "1.sqlite"), "w1.example/w"), witness(join(dir.path, "2.sqlite"), "w2.example/w")];
  t.after(() => ws.forEach((x) => x.store.close()));
  const honest = new History(logKey).grow(6, 1);
  for (const x of ws) assert.equal(x.w.addCheckpoint(req(0, [], cp(honest))).status, 200);
  const branch = new History(logKey, honest, 3).grow(5, 7); // size 8, branching at 3
  const cosigs = ws.map((x) => x.w.addCheckpoint(req(6, consistencyProof(branch.tree, 6, 8), cp(branch))));
  assert.deepEqual(cosigs.map((c) => c.status), [422, 422]);
  honest.grow(2, 1);
  for (const x of ws) assert.equal(x.w.addCheckpoint(req(6, consistencyProof(honest.tree, 6, 8), cp(honest))).status, 200, "the honest extension still is");
});
