import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ed25519 } from "@noble/curves/ed25519.js";
import { AttestationError, ERROR_CODES, type Result } from "../attestation/errors.js";
import { toHex } from "../attestation/bytes.js";
import { encodeDeterministic } from "../attestation/cbor/deterministic.js";
import { coseKeyMap, generateEd25519 } from "../attestation/cose/key.js";
import { decodeSign1, nodeSigner, sigStructure, verifySign1 } from "../attestation/cose/sign1.js";
import { decodeTokenClaims } from "../attestation/eat/claims.js";
import { OemRoots, verifyEndorsement } from "../attestation/endorsement.js";
import { ueidFromImei } from "../attestation/imei.js";
import { NonceStore } from "../attestation/nonce-store.js";
import { verifyAttestation, verifyDeviceToken, type AttestationPolicy } from "../attestation/verifier.js";
import { toJsonValue } from "../attestation/json.js";
import * as R from "./support/reference-token.js";
import { A, B, FakeClock, OEM, OEMID, OEM_PUBLIC_PEM, endorse, policy, tokenInput, type Device } from "./support/attestation-fixture.js";

type Code = keyof typeof ERROR_CODES;
function fails<T>(r: Result<T>, c: Code): void {
  assert.equal(r.ok, false, `expected ${c}, got ok`);
  if (!r.ok) {
    assert.ok(r.error instanceof AttestationError);
    assert.equal(r.error.code, c, r.error.message);
  }
}
function ok<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(r.error.message);
  return r.value;
}

/** A token from device `d` whose claim entries were edited, signed with `signer` (default d). */
function edited(d: Device, nonce: Uint8Array, edit: (e: [Uint8Array, Uint8Array][]) => [Uint8Array, Uint8Array][], signer: Device = d) {
  return R.referenceSign1(R.map(...edit(R.referenceClaimEntries(tokenInput(d, nonce)))), signer.seed);
}
const label = (l: number) => toHex(R.int(l));
const replace = (l: number, v: Uint8Array) => (e: [Uint8Array, Uint8Array][]) =>
  e.map(([k, x]): [Uint8Array, Uint8Array] => [k, toHex(k) === label(l) ? v : x]);
const drop = (l: number) => (e: [Uint8Array, Uint8Array][]) => e.filter(([k]) => toHex(k) !== label(l));

test("end to end: OEM endorsement + reference token + nonce verify; the nonce is single use", () => {
  const p = policy();
  const nonce = p.nonces.issue(32);
  const endorsement = endorse(A);
  const token = R.buildReferenceToken(tokenInput(A, nonce, { lockState: 0, lastSeq: 41 }));
  const v = ok(verifyAttestation({ token, endorsement, nonce }, p));
  assert.equal(v.imei, A.imei);
  assert.equal(v.imei2, A.imei2);
  assert.deepEqual(v.deviceKey, A.publicKey);
  assert.deepEqual(v.oemid, OEMID);
  assert.equal(new TextDecoder().decode(v.hwmodel), A.hwmodel);
  assert.equal(v.tampered, false);
  assert.equal(v.locked, false);
  assert.equal(v.lastSeq, 41);
  assert.equal(v.token.bootcount, 7);
  assert.equal(v.token.dbgstat, 3);
  assert.equal(v.token.measurements.length, 1);
  assert.equal(v.token.measurements[0]!.hostReported, true);
  assert.equal(v.token.measurements[0]!.contentType, 65000);
  assert.equal(v.endorsement.iss, "Example OEM");
  assert.equal(v.endorsement.iat, 1_700_000_000);
  fails(verifyAttestation({ token, endorsement, nonce }, p), "E_NONCE_REPLAYED");
  // JSON view for the CLI: bytes as hex.
  const j = toJsonValue(v) as Record<string, unknown>;
  assert.equal(j.imei, A.imei);
  assert.equal(j.deviceKey, toHex(A.publicKey));
});

test("single-SIM device, no measurement: optional claims absent, still verifies", () => {
  const p = policy();
  const nonce = p.nonces.issue(8);
  const token = R.buildReferenceToken(tokenInput(B, nonce, { measurement: new Uint8Array(0) }));
  const v = ok(verifyAttestation({ token, endorsement: endorse(B), nonce }, p));
  assert.equal(v.imei, B.imei);
  assert.equal(v.imei2, undefined);
  assert.deepEqual(v.token.measurements, []);
});

test("our deterministic encoder and the independent reference writer give identical claims and tokens", () => {
  const nonce = new Uint8Array(32).fill(7);
  const i = tokenInput(A, nonce, { lockState: 1, lastSeq: 300, bootcount: 70000 });
  const claims = new Map<number, unknown>([
    [-65539, 0], [-65538, 300], [-65537, 1], [273, [[65000, i.measurement]]], [268, 1], [267, 70000],
    [265, "https://antitheft.dev/eat/v1"], [263, 3], [259, new TextEncoder().encode(A.hwmodel)], [258, OEMID],
    [257, new Map([["imei2", ueidFromImei(A.imei2!)]])], [256, ueidFromImei(A.imei)], [10, nonce], [8, new Map([[1, coseKeyMap(A.publicKey)]])],
  ]);
  assert.deepEqual(encodeDeterministic(claims), R.referenceClaims(i));
  // Also an independent check of the signature by @noble/curves.
  const t = decodeSign1(R.buildReferenceToken(i));
  assert.ok(ed25519.verify(t.signature, sigStructure(t.protectedBytes, t.payload), A.publicKey));
});

test("TAMPERED: identity claims absent, surfaced as tampered and locked, identity from the endorsement", () => {
  const p = policy();
  const nonce = p.nonces.issue();
  const token = R.buildReferenceToken(tokenInput(A, nonce, { taState: 1, lastSeq: 9 }));
  const claims = decodeTokenClaims(decodeSign1(token).payload);
  assert.equal(claims.ueid, undefined);
  assert.equal(claims.oemid, undefined);
  assert.equal(claims.bootcount, undefined);
  const v = ok(verifyAttestation({ token, endorsement: endorse(A), nonce }, p));
  assert.equal(v.tampered, true);
  assert.equal(v.locked, true);
  assert.equal(v.lockState, 2);
  assert.equal(v.imei, A.imei);
});

test("lock state is surfaced, not an error", () => {
  for (const lockState of [1, 2]) {
    const p = policy();
    const nonce = p.nonces.issue();
    const v = ok(verifyAttestation({ token: R.buildReferenceToken(tokenInput(A, nonce, { lockState })), endorsement: endorse(A), nonce }, p));
    assert.equal(v.lockState, lockState);
    assert.equal(v.locked, true);
    assert.equal(v.tampered, false);
  }
});

test("nonces: mismatch does not burn the issued nonce; unknown, expired and wrong-size nonces", () => {
  const p = policy(60_000);
  const n1 = p.nonces.issue();
  const n2 = p.nonces.issue();
  const endorsement = endorse(A);
  fails(verifyAttestation({ token: R.buildReferenceToken(tokenInput(A, n1)), endorsement, nonce: n2 }, p), "E_NONCE_MISMATCH");
  ok(verifyAttestation({ token: R.buildReferenceToken(tokenInput(A, n2)), endorsement, nonce: n2 }, p));
  const stranger = new Uint8Array(32).fill(9);
  fails(verifyAttestation({ token: R.buildReferenceToken(tokenInput(A, stranger)), endorsement, nonce: stranger }, p), "E_NONCE_UNKNOWN");
  p.clock.advance(60_001);
  fails(verifyAttestation({ token: R.buildReferenceToken(tokenInput(A, n1)), endorsement, nonce: n1 }, p), "E_NONCE_EXPIRED");
  fails(verifyAttestation({ token: R.buildReferenceToken(tokenInput(A, n1)), endorsement, nonce: n1.subarray(0, 7) }, p), "E_NONCE_SIZE");
});

test("trust chain: unpinned OEM, forged endorsement, foreign token, cnf and kid substitution", () => {
  const p = policy();
  const nonce = p.nonces.issue();
  const tokenA = R.buildReferenceToken(tokenInput(A, nonce));
  // An endorsement by an OEM key that is not pinned.
  const rogue = nodeSigner(generateEd25519().privateKey);
  fails(verifyAttestation({ token: tokenA, endorsement: endorse(A, { oem: rogue }), nonce }, p), "E_ENDORSEMENT_UNTRUSTED");
  // The rogue key signs but claims the pinned root's kid.
  const forged = endorse(A, { oem: { publicKey: OEM.publicKey, sign: rogue.sign } });
  fails(verifyAttestation({ token: tokenA, endorsement: forged, nonce }, p), "E_COSE_SIGNATURE");
  // B's token against A's endorsement: its kid is not the endorsed key's.
  fails(verifyAttestation({ token: R.buildReferenceToken(tokenInput(B, nonce)), endorsement: endorse(A), nonce }, p), "E_KEY_MISMATCH");
  // B signs but puts A's kid in the header.
  const unprotA = R.map([R.int(4), R.bstr(R.kid(A.publicKey))]);
  const lying = R.referenceSign1(R.referenceClaims(tokenInput(A, nonce)), B.seed, { unprotected: unprotA });
  fails(verifyAttestation({ token: lying, endorsement: endorse(A), nonce }, p), "E_COSE_SIGNATURE");
  // A signs a token whose cnf is B's key.
  const cnfB = R.map([R.int(1), R.coseKey(B.publicKey)]);
  fails(verifyAttestation({ token: edited(A, nonce, replace(8, cnfB)), endorsement: endorse(A), nonce }, p), "E_KEY_MISMATCH");
  // An endorsement binding A's IMEI to B's key; A's token does not match it.
  fails(verifyAttestation({ token: tokenA, endorsement: endorse(A, { deviceKey: B.publicKey }), nonce }, p), "E_KEY_MISMATCH");
  // A root pinned to another oemid.
  const pinned = { ...p, oemRoots: new OemRoots([{ key: OEM_PUBLIC_PEM, oemid: Uint8Array.of(1, 2, 3) }]) };
  fails(verifyAttestation({ token: tokenA, endorsement: endorse(A), nonce }, pinned), "E_OEMID_MISMATCH");
});

test("identity binding: ueid, sueids, oemid and hwmodel must equal the endorsed ones", () => {
  const p = policy();
  const nonce = p.nonces.issue();
  const e = endorse(A);
  const run = (token: Uint8Array, endorsement = e, pol: AttestationPolicy = p) => verifyAttestation({ token, endorsement, nonce }, pol);
  fails(run(edited(A, nonce, replace(256, R.bstr(R.ueid(B.imei))))), "E_UEID_MISMATCH");
  fails(run(edited(A, nonce, drop(257))), "E_UEID_MISMATCH");
  fails(run(edited(A, nonce, replace(257, R.map([R.tstr("imei2"), R.bstr(R.ueid(B.imei))])))), "E_UEID_MISMATCH");
  fails(run(R.buildReferenceToken(tokenInput(A, nonce)), endorse(A, { imei2: B.imei })), "E_UEID_MISMATCH");
  const { imei2: _omit, ...single } = A;
  fails(run(R.buildReferenceToken(tokenInput(A, nonce)), endorse(single as Device)), "E_UEID_MISMATCH");
  fails(run(edited(A, nonce, replace(258, R.bstr(Uint8Array.of(9, 9, 9))))), "E_OEMID_MISMATCH");
  fails(run(edited(A, nonce, replace(259, R.bstr(new TextEncoder().encode("Other"))))), "E_HWMODEL_MISMATCH");
  const token = R.buildReferenceToken(tokenInput(A, nonce));
  fails(run(token, e, { ...p, expect: { oemid: Uint8Array.of(1, 2, 3) } }), "E_OEMID_MISMATCH");
  fails(run(token, e, { ...p, expect: { hwmodel: "Phone Z" } }), "E_HWMODEL_MISMATCH");
  ok(run(token, e, { ...p, expect: { oemid: OEMID, hwmodel: A.hwmodel } }));
});

test("claims: profile pinned, required, unknown and invalid claims (validly signed by the device)", () => {
  const p = policy();
  const nonce = p.nonces.issue();
  const run = (token: Uint8Array) => verifyAttestation({ token, endorsement: endorse(A), nonce }, p);
  fails(run(edited(A, nonce, replace(265, R.tstr("https://antitheft.dev/eat/v2")))), "E_EAT_PROFILE");
  fails(run(edited(A, nonce, replace(265, R.int(1)))), "E_EAT_CLAIM_INVALID");
  for (const l of [8, 10, 256, 258, 259, 263, 265, 267, 268, -65537, -65538, -65539]) fails(run(edited(A, nonce, drop(l))), "E_EAT_CLAIM_MISSING");
  fails(run(edited(A, nonce, (e) => [...e, [R.int(-70000), R.int(1)]])), "E_EAT_CLAIM_UNKNOWN");
  fails(run(edited(A, nonce, (e) => [[R.int(2), R.tstr("sub")], ...e])), "E_EAT_CLAIM_UNKNOWN");
  const invalid: [number, Uint8Array][] = [
    [10, R.bstr(new Uint8Array(7))], [10, R.bstr(new Uint8Array(65))], [10, R.array(R.bstr(nonce))],
    [256, R.bstr(new Uint8Array(15))], [256, R.bstr(R.ueid(A.imei).subarray(0, 14))], [257, R.map()],
    [257, R.map([R.tstr("imei3"), R.bstr(R.ueid(B.imei))])], [258, R.bstr(new Uint8Array(4))], [259, R.bstr(new Uint8Array(0))],
    [259, R.bstr(new Uint8Array(33).fill(65))], [259, R.bstr(Uint8Array.of(0xff))], [263, R.int(5)], [263, R.int(-1)],
    [267, R.tstr("7")], [268, R.int(0)], [268, R.int(6)], [268, R.int(-1)], [268, R.tstr("registration")], [273, R.array()], [273, R.array(R.array(R.int(0), R.bstr(new Uint8Array(32))))],
    [273, R.array(R.array(R.int(65000), R.bstr(new Uint8Array(0))))], [-65537, R.int(3)], [-65538, R.int(-1)],
    [-65538, R.int(2n ** 60n)], [-65539, R.int(2)], [8, R.map([R.int(2), R.coseKey(A.publicKey)])],
  ];
  for (const [l, v] of invalid) fails(run(edited(A, nonce, replace(l, v))), "E_EAT_CLAIM_INVALID");
  const badKey = R.map([R.int(1), R.map([R.int(1), R.int(1)], [R.int(-1), R.int(7)], [R.int(-2), R.bstr(A.publicKey)])]);
  fails(run(edited(A, nonce, replace(8, badKey))), "E_COSE_KEY");
  // TAMPERED tokens that keep identity claims or report unlocked are contract violations.
  const tampered = (over: (e: [Uint8Array, Uint8Array][]) => [Uint8Array, Uint8Array][]) =>
    R.referenceSign1(R.map(...over(R.referenceClaimEntries(tokenInput(A, nonce, { taState: 1 })))), A.seed);
  fails(run(tampered((e) => replace(-65537, R.int(0))(e))), "E_EAT_CLAIM_INVALID");
  fails(run(tampered((e) => [...e.slice(0, 2), [R.int(256), R.bstr(R.ueid(A.imei))], ...e.slice(2)])), "E_EAT_CLAIM_INVALID");
  ok(run(R.buildReferenceToken(tokenInput(A, nonce))));
});

test("profile headers: protected only alg, unprotected exactly {4: 16-byte kid}", () => {
  const p = policy();
  const nonce = p.nonces.issue();
  const run = (token: Uint8Array) => verifyAttestation({ token, endorsement: endorse(A), nonce }, p);
  const claims = R.referenceClaims(tokenInput(A, nonce));
  const kidA = R.bstr(R.kid(A.publicKey));
  fails(run(R.referenceSign1(claims, A.seed, { unprotected: R.map() })), "E_COSE_STRUCTURE");
  fails(run(R.referenceSign1(claims, A.seed, { unprotected: R.map([R.int(3), R.int(0)], [R.int(4), kidA]) })), "E_COSE_STRUCTURE");
  fails(run(R.referenceSign1(claims, A.seed, { unprotected: R.map([R.int(4), R.bstr(R.kid(A.publicKey).subarray(0, 8))]) })), "E_COSE_STRUCTURE");
  fails(run(R.referenceSign1(claims, A.seed, { protectedBytes: R.map([R.int(1), R.int(-8)], [R.int(3), R.int(0)]) })), "E_COSE_STRUCTURE");
  // Tag 18 alone is valid COSE (RFC 8392 §6: the CWT tag is optional) but the profile pins
  // tag 61(tag 18(...)), so a token has exactly one valid encoding.
  const bare = R.referenceSign1(claims, A.seed).subarray(2);
  assert.ok(verifySign1(bare, A.publicKey).ok);
  fails(run(bare), "E_COSE_STRUCTURE");
  ok(run(R.referenceSign1(claims, A.seed)));
});

test("verifyEndorsement alone; verifyDeviceToken for an enrolled device", () => {
  const roots = new OemRoots([OEM_PUBLIC_PEM]);
  const e = ok(verifyEndorsement(endorse(A), roots));
  assert.equal(e.claims.imei, A.imei);
  assert.deepEqual(e.deviceKid, R.kid(A.publicKey));
  const nonces = new NonceStore({ ttlMs: 1000, now: new FakeClock().now });
  const nonce = nonces.issue();
  const token = R.buildReferenceToken(tokenInput(A, nonce));
  fails(verifyDeviceToken({ token, nonce }, { deviceKey: B.publicKey }, { nonces }), "E_KEY_MISMATCH");
  fails(verifyDeviceToken({ token, nonce }, { deviceKey: A.publicKey, imei: B.imei }, { nonces }), "E_UEID_MISMATCH");
  fails(verifyDeviceToken({ token, nonce }, { deviceKey: A.publicKey, imei: A.imei }, { nonces }), "E_UEID_MISMATCH"); // imei2 not enrolled
  fails(verifyDeviceToken({ token, nonce }, { deviceKey: A.publicKey }, { nonces, expect: { hwmodel: "x" } }), "E_HWMODEL_MISMATCH");
  const v = ok(verifyDeviceToken({ token, nonce }, { deviceKey: A.publicKey, imei: A.imei, imei2: A.imei2! }, { nonces }));
  assert.equal(v.token.imei, A.imei);
  assert.equal(v.locked, false);
  fails(verifyDeviceToken({ token, nonce }, { deviceKey: A.publicKey }, { nonces }), "E_NONCE_REPLAYED");
  const n2 = nonces.issue();
  const t2 = R.buildReferenceToken(tokenInput(A, n2, { taState: 1 }));
  const v2 = ok(verifyDeviceToken({ token: t2, nonce: n2 }, { deviceKey: A.publicKey, imei: B.imei }, { nonces }));
  assert.equal(v2.tampered, true); // a TAMPERED token carries no ueid, so the enrolled IMEI is not compared
  assert.equal(v2.locked, true);
});

test("NonceStore: single use, TTL with a fake clock, unknown, bounded size", () => {
  const clock = new FakeClock();
  const s = new NonceStore({ ttlMs: 1000, now: clock.now, maxEntries: 3 });
  const a = s.issue(16);
  assert.equal(a.length, 16);
  s.consume(a);
  assert.throws(() => s.consume(a), (e: unknown) => e instanceof AttestationError && e.code === "E_NONCE_REPLAYED");
  const b = s.issue();
  clock.advance(1000);
  s.consume(b); // exactly at the TTL: still fresh
  const c = s.issue();
  clock.advance(1001);
  assert.throws(() => s.consume(c), (e: unknown) => e instanceof AttestationError && e.code === "E_NONCE_EXPIRED");
  assert.throws(() => s.consume(new Uint8Array(32)), (e: unknown) => e instanceof AttestationError && e.code === "E_NONCE_UNKNOWN");
  assert.throws(() => s.issue(7), (e: unknown) => e instanceof AttestationError && e.code === "E_NONCE_SIZE");
  assert.throws(() => s.issue(65), (e: unknown) => e instanceof AttestationError && e.code === "E_NONCE_SIZE");
  // register: externally issued nonces, each once.
  const ext = new Uint8Array(8).fill(1);
  s.register(ext);
  assert.throws(() => s.register(ext), (e: unknown) => e instanceof AttestationError && e.code === "E_NONCE_REPLAYED");
  s.consume(ext);
  // Bounded: the oldest is forgotten first.
  const small = new NonceStore({ ttlMs: 1000, now: clock.now, maxEntries: 2 });
  const [x, y, z] = [small.issue(), small.issue(), small.issue()];
  assert.equal(small.size, 2);
  assert.throws(() => small.consume(x!), (e: unknown) => e instanceof AttestationError && e.code === "E_NONCE_UNKNOWN");
  small.consume(y!);
  small.consume(z!);
  // After 2 x TTL entries are forgotten.
  clock.advance(2001);
  s.issue();
  assert.equal(s.size, 1);
  assert.throws(() => new NonceStore({ ttlMs: 0 }), (e: unknown) => e instanceof AttestationError && e.code === "E_ARGUMENT");
});

test("the error-code table in docs/ATTESTATION.md lists exactly the codes of attestation/errors.ts", () => {
  const doc = readFileSync(fileURLToPath(new URL("../../docs/ATTESTATION.md", import.meta.url)), "utf8");
  const table = new Set([...doc.matchAll(/^\|\s*`?(E_[A-Z0-9_]+)`?\s*\|/gm)].map((m) => m[1]));
  assert.deepEqual([...table].sort(), Object.keys(ERROR_CODES).sort());
});

test("intuse (RFC 9711 §4.3.3): decoded, and a relying party that requires purposes refuses any other use", () => {
  for (const intuse of [1, 2, 3, 4, 5]) {
    const p = policy();
    const nonce = p.nonces.issue();
    const token = R.buildReferenceToken({ ...tokenInput(A, nonce), intuse });
    const run = (purposes: (1 | 2 | 3 | 4 | 5)[]) => verifyAttestation({ token, endorsement: endorse(A), nonce }, { ...p, expect: { purposes } });
    // A refusal does not burn the nonce (the check comes before the nonce store's).
    fails(run(([1, 2, 3, 4, 5] as const).filter((u) => u !== intuse)), "E_PURPOSE");
    fails(run([]), "E_PURPOSE");
    assert.equal(ok(run([intuse as 1 | 2 | 3 | 4 | 5])).token.intuse, intuse);
  }
  // Without a purpose requirement any use verifies (the caller decides).
  const p = policy();
  const nonce = p.nonces.issue();
  assert.equal(ok(verifyAttestation({ token: R.buildReferenceToken({ ...tokenInput(A, nonce), intuse: 2 }), endorsement: endorse(A), nonce }, p)).token.intuse, 2);
});
