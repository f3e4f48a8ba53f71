// Signed notes (C2SP signed-note) and checkpoints (C2SP tlog-checkpoint): known answers from
// golang.org/x/mod/sumdb/note's own tests (key strings, a signature, a two-signer note) and from
// the tlog-checkpoint text; every mangling refused; hostile bytes never throw.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { nodeSigner, toHex } from "../attestation/index.js";
import { privateKeyFromSeed } from "../attestation/cose/key.js";
import { ed25519NoteSigner, openNote, parseVerifierKey, signNote, verifierKey, keyId, SIG_ED25519 } from "../registry/ledger/note.js";
import { checkpointText, openCheckpoint, parseCheckpointText, signCheckpoint } from "../registry/ledger/checkpoint.js";

// golang.org/x/mod/sumdb/note note_test.go
const PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

const seed = new Uint8Array(Buffer.from(PETER_SKEY.split("+").slice(4).join("+"), "base64")).subarray(1);
const peterSigner = ed25519NoteSigner("PeterNeumann", nodeSigner(privateKeyFromSeed(seed)));
const peter = parseVerifierKey(PETER_VKEY);
const enoch = parseVerifierKey(ENOCH_VKEY);

test("known answers: key ID, verifier key and signature of golang.org/x/mod/sumdb/note", () => {
  assert.ok(peter.ok && enoch.ok);
  assert.equal(toHex(peterSigner.id), "c74f20a3");
  assert.equal(toHex(keyId("PeterNeumann", SIG_ED25519, peter.value.publicKey)), "c74f20a3");
  assert.equal(verifierKey("PeterNeumann", nodeSigner(privateKeyFromSeed(seed)).publicKey), PETER_VKEY);
  assert.equal(signNote(TEXT, [peterSigner]), `${TEXT}\n${PETER_SIG}`);
});

test("open: known keys verified, unknown ones ignored, none known refused, a bad known signature rejects the note", () => {
  assert.ok(peter.ok && enoch.ok);
  const both = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
  const one = openNote(both, [peter.value]);
  assert.ok(one.ok);
  assert.equal(one.value.text, TEXT);
  assert.deepEqual(one.value.verified.map((s) => `${s.name}+${s.id}`), ["PeterNeumann+c74f20a3"]);
  assert.deepEqual(one.value.unverified.map((s) => `${s.name}+${s.id}`), ["EnochRoot+af0cfe78"]);
  const two = openNote(both, [peter.value, enoch.value]);
  assert.ok(two.ok && two.value.verified.length === 2 && two.value.unverified.length === 0);
  assert.deepEqual(openNote(both, []), { ok: false, code: "E_LEDGER_LOG", reason: "no signature by a known key" });
  const bad = `${TEXT}\n${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`;
  assert.equal((openNote(bad, [peter.value]) as { code: string }).code, "E_LEDGER_SIGNATURE");
  // Go's malformed notes
  for (const m of [TEXT, `${TEXT}\n`, `${TEXT}\n${PETER_SIG.slice(0, -1)}`, `\u0001${TEXT}\n${PETER_SIG}`, `${TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`, `${TEXT}\n${PETER_SIG}Unexpected line.\n`, `${TEXT}\n${PETER_SIG.repeat(101)}`]) {
    assert.equal((openNote(m, [peter.value]) as { code?: string }).code, "E_LEDGER_SHAPE", JSON.stringify(m));
  }
  assert.equal(openNote(new Uint8Array([0xff, 0x0a, 0x0a]), [peter.value]).ok, false, "not UTF-8");
});

test("verifier keys: every substring and every one-character change is refused", () => {
  const b = Buffer.from(PETER_VKEY);
  for (let i = 0; i <= b.length; i++) for (let j = i + 1; j <= b.length; j++) if (i !== 0 || j !== b.length) assert.equal(parseVerifierKey(b.subarray(i, j).toString()).ok, false);
  for (let i = 0; i < b.length; i++) {
    const c = Buffer.from(b);
    c[i]!++;
    assert.equal(parseVerifierKey(c.toString()).ok, false, c.toString());
  }
  assert.equal(parseVerifierKey("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==").ok, false);
  assert.equal(parseVerifierKey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").ok, false);
});

test("checkpoints: the tlog-checkpoint example parses; ours sign, open and refuse manglings", () => {
  const ex = parseCheckpointText("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
  assert.ok(ex.ok && ex.value.origin === "example.com/behind-the-sofa" && ex.value.size === 20852163 && Buffer.from(ex.value.root).toString("base64") === "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
  for (const t of ["o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "o\n1\nCsUYap\n", "o\n1\n", "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"]) {
    assert.equal(parseCheckpointText(t).ok, false, JSON.stringify(t));
  }
  assert.ok(peter.ok);
  const c = { origin: "PeterNeumann", size: 7, root: new Uint8Array(32).fill(9) };
  const note = signCheckpoint(c, [peterSigner]);
  assert.ok(note.startsWith(checkpointText(c) + "\n— PeterNeumann "));
  const o = openCheckpoint(note, peter.value, "PeterNeumann");
  assert.ok(o.ok && o.value.checkpoint.size === 7);
  assert.equal(openCheckpoint(note, peter.value, "another/origin").ok, false);
  assert.equal(openCheckpoint(note.replace("\n7\n", "\n8\n"), peter.value, "PeterNeumann").ok, false);
});

test("property: hostile notes never throw and never verify", () => {
  assert.ok(peter.ok);
  const good = signNote(TEXT, [peterSigner]);
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.nat(), fc.integer({ min: 1, max: 120 }), (junk, at, x) => {
      assert.equal(openNote(junk, [peter.value]).ok, false);
      const m = Buffer.from(good);
      m[at % m.length] = (m[at % m.length]! + x) & 0xff;
      assert.equal(openNote(new Uint8Array(m), [peter.value]).ok, false, "any one byte changed");
      assert.doesNotThrow(() => openCheckpoint(junk, peter.value, "x"));
    }),
    { numRuns: 300 },
  );
});
