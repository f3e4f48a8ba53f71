import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, verify as nodeVerify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { AttestationError, ERROR_CODES } from "../attestation/errors.js";
import { fromHex, toHex } from "../attestation/bytes.js";
import { encodeDeterministic } from "../attestation/cbor/deterministic.js";
import {
  coseKeyFromPublic, coseKeyMap, generateEd25519, kidOfCoseKey, kidOfPublic, privateKeyFromPem, privateKeyFromSeed, privateKeyToPem,
  publicKeyFromPem, publicKeyFromRaw, publicKeyToPem, rawPublicKey, toRawPublic,
} from "../attestation/cose/key.js";
import { createSign1, decodeSign1, nodeSigner, sigStructure, verifySign1, type Sign1 } from "../attestation/cose/sign1.js";
import * as R from "./support/reference-token.js";

type Code = keyof typeof ERROR_CODES;
const code = (c: Code) => (e: unknown) => e instanceof AttestationError && e.code === c;
function rejects(r: ReturnType<typeof verifySign1>, c: Code): void {
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.ok(r.error instanceof AttestationError);
    assert.equal(r.error.code, c, r.error.message);
  }
}

// RFC 8032 §7.1 TEST 1
const SEED1 = fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const PUB1 = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const signer1 = nodeSigner(privateKeyFromSeed(SEED1));
const payload = encodeDeterministic(new Map<number, unknown>([[10, fromHex("0001020304050607")], [265, "x"]]));

test("COSE_Key and kid follow contract C2", () => {
  const k = coseKeyFromPublic(PUB1);
  assert.equal(toHex(k), "a3010120062158" + "20" + toHex(PUB1));
  assert.equal(k.length, 40); // 8-byte prefix + 32 (contract C2 miscounts it as 42)
  assert.deepEqual(encodeDeterministic(coseKeyMap(PUB1)), k); // our encoder agrees with the fixed layout
  assert.deepEqual(R.coseKey(PUB1), k); // and with the reference writer
  const kid = kidOfCoseKey(k);
  assert.equal(toHex(kid), createHash("sha512").update(k).digest("hex").slice(0, 32));
  assert.deepEqual(kidOfPublic(PUB1), kid);
  assert.throws(() => coseKeyFromPublic(new Uint8Array(31)), code("E_ARGUMENT"));
});

test("RFC 8032 TEST 1: seed -> public key, and PEM (PKCS#8 / SPKI) round trips", () => {
  const priv = privateKeyFromSeed(SEED1);
  assert.deepEqual(rawPublicKey(priv), PUB1);
  const privPem = privateKeyToPem(priv);
  const pubPem = publicKeyToPem(priv);
  assert.match(privPem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(pubPem, /^-----BEGIN PUBLIC KEY-----\n/);
  assert.deepEqual(rawPublicKey(privateKeyFromPem(privPem)), PUB1);
  assert.deepEqual(rawPublicKey(publicKeyFromPem(pubPem)), PUB1);
  assert.deepEqual(toRawPublic(pubPem), PUB1);
  assert.deepEqual(rawPublicKey(publicKeyFromRaw(PUB1)), PUB1);
  const fresh = generateEd25519();
  assert.deepEqual(rawPublicKey(fresh.privateKey), rawPublicKey(fresh.publicKey));
});

test("PEM import refuses garbage, other key types and the wrong kind", () => {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecPriv = ec.privateKey.export({ format: "pem", type: "pkcs8" }) as string;
  const ecPub = ec.publicKey.export({ format: "pem", type: "spki" }) as string;
  const edPriv = privateKeyToPem(privateKeyFromSeed(SEED1));
  assert.throws(() => privateKeyFromPem("not a key"), code("E_PEM"));
  assert.throws(() => privateKeyFromPem(ecPriv), code("E_PEM"));
  assert.throws(() => publicKeyFromPem(ecPub), code("E_PEM"));
  assert.throws(() => publicKeyFromPem(edPriv), code("E_PEM"));
  assert.throws(() => publicKeyFromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), code("E_PEM"));
});

test("COSE_Sign1 round trip; layout of contract C2", () => {
  const t = createSign1(payload, signer1);
  assert.equal(toHex(t.subarray(0, 11)), "d83dd28443a10127a10450");
  assert.deepEqual(t.subarray(11, 27), kidOfPublic(PUB1));
  const r = verifySign1(t, PUB1);
  assert.ok(r.ok);
  assert.deepEqual(r.value.payload, payload);
  assert.equal(r.value.alg, -8);
  assert.equal(r.value.cwtTag, true);
  // Same bytes as the independent reference writer (Ed25519 is deterministic).
  assert.deepEqual(t, R.referenceSign1(payload, SEED1));
  // Tag 18 without tag 61, and alg -19, also verify.
  const bare = createSign1(payload, signer1, { cwtTag: false, alg: -19 });
  assert.equal(toHex(bare.subarray(0, 9)), "d28443a10132a10450"); // {1: -19}
  const rb = verifySign1(bare, PUB1);
  assert.ok(rb.ok && rb.value.alg === -19 && !rb.value.cwtTag);
});

test("oracles: node:crypto and @noble/curves verify over an independently built Sig_structure", () => {
  const t = createSign1(payload, signer1);
  const s = (verifySign1(t, PUB1) as { value: Sign1 }).value;
  const tbs = R.array(R.tstr("Signature1"), R.bstr(R.PROTECTED_EDDSA), R.bstr(new Uint8Array(0)), R.bstr(payload));
  assert.deepEqual(sigStructure(s.protectedBytes, s.payload), tbs);
  assert.ok(nodeVerify(null, tbs, publicKeyFromRaw(PUB1), s.signature));
  assert.ok(ed25519.verify(s.signature, tbs, PUB1));
  // noble signs the same bytes to the same signature (RFC 8032 signatures are deterministic).
  assert.deepEqual(ed25519.sign(tbs, SEED1), s.signature);
  // A random key, node:crypto-generated, checked by noble.
  const k = generateEd25519();
  const t2 = createSign1(payload, nodeSigner(k.privateKey));
  const s2 = decodeSign1(t2);
  assert.ok(ed25519.verify(s2.signature, sigStructure(s2.protectedBytes, s2.payload), rawPublicKey(k.publicKey)));
});

/** A validly signed COSE_Sign1 with chosen header bytes (signature over what is sent). */
function custom(prot: Uint8Array, unprot: Uint8Array, body = payload, seed = SEED1): Uint8Array {
  return R.referenceSign1(body, seed, { protectedBytes: prot, unprotected: unprot });
}
const KID = R.bstr(kidOfPublic(PUB1));
const unprotKid = R.map([R.int(4), KID]);

test("alg only from the protected header; allow-list {-8, -19}", () => {
  // alg in the unprotected header only
  rejects(verifySign1(custom(new Uint8Array(0), R.map([R.int(1), R.int(-8)], [R.int(4), KID])), PUB1), "E_COSE_ALG_UNPROTECTED");
  // no alg anywhere
  rejects(verifySign1(custom(new Uint8Array(0), unprotKid), PUB1), "E_COSE_ALG_UNSUPPORTED");
  rejects(verifySign1(custom(R.map(), unprotKid), PUB1), "E_COSE_ALG_UNSUPPORTED");
  // unknown or disallowed algs, "none"-like values
  for (const alg of [R.int(-7), R.int(0), R.int(-35), R.int(-9), R.tstr("EdDSA"), R.tstr("none"), Uint8Array.of(0xf6)]) {
    rejects(verifySign1(custom(R.map([R.int(1), alg]), unprotKid), PUB1), "E_COSE_ALG_UNSUPPORTED");
  }
  // alg in both headers
  rejects(verifySign1(custom(R.PROTECTED_EDDSA, R.map([R.int(1), R.int(-8)], [R.int(4), KID])), PUB1), "E_COSE_HEADER_DUPLICATE");
});

test("crit: unknown, empty, unprotected or absent labels are rejected; understood ones pass", () => {
  const prot = (crit: Uint8Array, ...more: [Uint8Array, Uint8Array][]) => R.map([R.int(1), R.int(-8)], [R.int(2), crit], ...more);
  rejects(verifySign1(custom(prot(R.array(R.int(99)), [R.int(99), R.int(0)]), unprotKid), PUB1), "E_COSE_CRIT_UNKNOWN");
  rejects(verifySign1(custom(prot(R.array(R.tstr("x")), [R.tstr("x"), R.int(0)]), unprotKid), PUB1), "E_COSE_CRIT_UNKNOWN");
  rejects(verifySign1(custom(prot(R.array()), unprotKid), PUB1), "E_COSE_CRIT_UNKNOWN");
  rejects(verifySign1(custom(prot(R.int(3), [R.int(3), R.int(0)]), unprotKid), PUB1), "E_COSE_CRIT_UNKNOWN");
  rejects(verifySign1(custom(prot(R.array(R.int(3))), unprotKid), PUB1), "E_COSE_CRIT_UNKNOWN"); // 3 listed, absent
  rejects(verifySign1(custom(R.PROTECTED_EDDSA, R.map([R.int(2), R.array(R.int(4))], [R.int(4), KID])), PUB1), "E_COSE_CRIT_UNKNOWN");
  // crit [3] with content type present: understood, so the message verifies.
  assert.ok(verifySign1(custom(prot(R.array(R.int(3)), [R.int(3), R.int(60)]), unprotKid), PUB1).ok);
});

test("duplicate keys and labels in both header maps are rejected", () => {
  rejects(verifySign1(custom(R.PROTECTED_EDDSA, R.map([R.int(4), KID], [R.int(4), KID])), PUB1), "E_CBOR_DUPLICATE_KEY");
  rejects(verifySign1(custom(R.cat(Uint8Array.of(0xa2), R.int(1), R.int(-8), R.int(1), R.int(-8)), unprotKid), PUB1), "E_CBOR_DUPLICATE_KEY");
  rejects(verifySign1(custom(R.map([R.int(1), R.int(-8)], [R.int(4), KID]), unprotKid), PUB1), "E_COSE_HEADER_DUPLICATE");
});

test("the signature is checked over the bytes as received, never re-encoded", () => {
  // Protected header {4: kid, 1: -8}: keys out of deterministic order, signed as sent.
  const prot = R.map([R.int(4), KID], [R.int(1), R.int(-8)]);
  const t = custom(prot, R.map());
  rejects(verifySign1(t, PUB1), "E_CBOR_NOT_DETERMINISTIC"); // the profile's default
  const r = verifySign1(t, PUB1, { strict: { deterministic: false } });
  assert.ok(r.ok, r.ok ? "" : r.error.message); // re-encoding (sorting) would have broken it
  assert.deepEqual(r.value.protectedBytes, prot);
});

test("structure: tags, array shape, member types", () => {
  const good = createSign1(payload, signer1);
  const inner = good.subarray(3); // 84 ... (drop d8 3d d2)
  rejects(verifySign1(inner, PUB1), "E_COSE_STRUCTURE"); // untagged
  rejects(verifySign1(R.cat(Uint8Array.of(0xd8, 0x3d), inner), PUB1), "E_COSE_STRUCTURE"); // 61 without 18
  rejects(verifySign1(R.cat(Uint8Array.of(0xd1), inner), PUB1), "E_COSE_STRUCTURE"); // tag 17
  rejects(verifySign1(R.tag(18, R.array(R.bstr(R.PROTECTED_EDDSA), unprotKid, R.bstr(payload))), PUB1), "E_COSE_STRUCTURE");
  rejects(verifySign1(R.tag(18, R.array(R.bstr(R.PROTECTED_EDDSA), unprotKid, Uint8Array.of(0xf6), R.bstr(new Uint8Array(64)))), PUB1), "E_COSE_STRUCTURE");
  rejects(verifySign1(R.tag(18, R.array(R.PROTECTED_EDDSA, unprotKid, R.bstr(payload), R.bstr(new Uint8Array(64)))), PUB1), "E_COSE_STRUCTURE");
  rejects(verifySign1(R.tag(18, R.array(R.bstr(R.PROTECTED_EDDSA), R.array(), R.bstr(payload), R.bstr(new Uint8Array(64)))), PUB1), "E_COSE_STRUCTURE");
  rejects(verifySign1(R.tag(18, R.array(R.bstr(R.int(1)), unprotKid, R.bstr(payload), R.bstr(new Uint8Array(64)))), PUB1), "E_COSE_STRUCTURE");
  rejects(verifySign1(custom(R.PROTECTED_EDDSA, R.map([R.int(4), R.int(7)])), PUB1), "E_COSE_STRUCTURE"); // kid not bstr
});

test("signature failures: wrong key, wrong length, S >= L (node:crypto and noble agree)", () => {
  const t = createSign1(payload, signer1);
  rejects(verifySign1(t, rawPublicKey(generateEd25519().publicKey)), "E_COSE_SIGNATURE");
  const s = decodeSign1(t);
  const short = R.tag(61, R.tag(18, R.array(R.bstr(R.PROTECTED_EDDSA), unprotKid, R.bstr(payload), R.bstr(s.signature.subarray(0, 63)))));
  rejects(verifySign1(short, PUB1), "E_COSE_SIGNATURE");
  // S + L: the same point equation holds, but RFC 8032 §5.1.7 requires S < L.
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const sig = s.signature.slice();
  let S = 0n;
  for (let i = 31; i >= 0; i--) S = (S << 8n) | BigInt(sig[32 + i]!);
  S += L;
  for (let i = 0; i < 32; i++) sig[32 + i] = Number((S >> BigInt(8 * i)) & 0xffn);
  const malleated = R.tag(61, R.tag(18, R.array(R.bstr(R.PROTECTED_EDDSA), unprotKid, R.bstr(payload), R.bstr(sig))));
  rejects(verifySign1(malleated, PUB1), "E_COSE_SIGNATURE");
  assert.equal(ed25519.verify(sig, sigStructure(R.PROTECTED_EDDSA, payload), PUB1), false);
});

test("verifySign1 never throws, whatever it is given", () => {
  for (const junk of [new Uint8Array(0), Uint8Array.of(0xd2), "d2" as unknown as Uint8Array, null as unknown as Uint8Array]) {
    const r = verifySign1(junk, PUB1);
    assert.equal(r.ok, false);
    if (!r.ok) assert.ok(r.error instanceof AttestationError && r.error.code !== "E_INTERNAL", r.error.message);
  }
});
