// Mutation fuzzing of the whole chain (docs/ATTESTATION.md): >= 10,000 mutated tokens and
// endorsements per run, every one refused with an AttestationError whose code is in the table;
// none crashes, none is accepted.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AttestationError, isErrorCode, type ErrorCode, type Result } from "../attestation/errors.js";
import { equalBytes } from "../attestation/bytes.js";
import { decodeStrict } from "../attestation/cbor/strict.js";
import { encodeDeterministic } from "../attestation/cbor/deterministic.js";
import { CborTag, type CborMap, type CborValue } from "../attestation/cbor/value.js";
import { createSign1 } from "../attestation/cose/sign1.js";
import { verifyAttestation, type VerifiedAttestation } from "../attestation/verifier.js";
import * as R from "./support/reference-token.js";
import { A, B, OEM, endorse, policy, tokenInput } from "./support/attestation-fixture.js";

// --- a deliberately sloppy CBOR writer: one chosen item gets a non-deterministic form -------
type How = "wide" | "reorder" | "indefinite";

/** A head one size wider than needed (RFC 8949 §4.2.1 violation), or the shortest if impossible. */
function wideHead(major: number, n: number | bigint): Uint8Array {
  const v = BigInt(n);
  const mt = major << 5;
  if (v < 24n) return Uint8Array.of(mt | 24, Number(v));
  if (v < 0x100n) return Uint8Array.of(mt | 25, 0, Number(v));
  if (v < 0x10000n) return Uint8Array.of(mt | 26, 0, 0, Number(v >> 8n), Number(v & 0xffn));
  if (v < 0x100000000n) return R.cat(Uint8Array.of(mt | 27, 0, 0, 0, 0), R.head(0, v).subarray(1));
  return R.head(major, v);
}

function countItems(v: CborValue): number {
  if (Array.isArray(v)) return 1 + v.reduce((n: number, x) => n + countItems(x), 0);
  if (v instanceof Map) return 1 + [...v].reduce((n, [k, x]) => n + countItems(k) + countItems(x), 0);
  if (v instanceof CborTag) return 1 + countItems(v.value);
  return 1;
}

function sloppy(root: CborValue, target: number, how: How): Uint8Array {
  let i = 0;
  const enc = (v: CborValue): Uint8Array => {
    let eff: How | undefined = i++ === target ? how : undefined;
    // Where the chosen form does not apply, fall back to a wide head, so every mutant differs.
    const stringy = typeof v === "string" || v instanceof Uint8Array || Array.isArray(v) || v instanceof Map;
    if (eff === "indefinite" && !stringy) eff = "wide";
    if (eff === "reorder" && !(v instanceof Map && v.size > 1)) eff = "wide";
    const head = (major: number, n: number | bigint) => (eff === "wide" ? wideHead(major, n) : R.head(major, n));
    const indef = eff === "indefinite";
    if (typeof v === "number" || typeof v === "bigint") return BigInt(v) >= 0n ? head(0, v) : head(1, -1n - BigInt(v));
    if (typeof v === "string") {
      const b = new TextEncoder().encode(v);
      return indef ? R.cat(Uint8Array.of(0x7f), R.head(3, b.length), b, Uint8Array.of(0xff)) : R.cat(head(3, b.length), b);
    }
    if (v instanceof Uint8Array) return indef ? R.cat(Uint8Array.of(0x5f), R.bstr(v), Uint8Array.of(0xff)) : R.cat(head(2, v.length), v);
    if (Array.isArray(v)) {
      const items = v.map(enc);
      return indef ? R.cat(Uint8Array.of(0x9f), ...items, Uint8Array.of(0xff)) : R.cat(head(4, v.length), ...items);
    }
    if (v instanceof Map) {
      const entries = [...v].map(([k, x]) => R.cat(enc(k), enc(x)));
      if (eff === "reorder") entries.reverse();
      return indef ? R.cat(Uint8Array.of(0xbf), ...entries, Uint8Array.of(0xff)) : R.cat(head(5, entries.length), ...entries);
    }
    if (v instanceof CborTag) return R.cat(head(6, v.tag), enc(v.value));
    const simple = v === false ? 20 : v === true ? 21 : v === null ? 22 : 23;
    return eff ? Uint8Array.of(0xf8, simple) : Uint8Array.of(0xe0 | simple); // f8 < 32 is ill-formed (§3.3)
  };
  return enc(root);
}

// --- the genuine material -------------------------------------------------------------------
const P = policy(3_600_000);
const NA = P.nonces.issue(32);
const NB = P.nonces.issue(16);
const tokenA = R.buildReferenceToken(tokenInput(A, NA));
const tokenB = R.buildReferenceToken(tokenInput(B, NB));
const endA = endorse(A);
const endB = endorse(B);

const partsOf = (b: Uint8Array) => ((decodeStrict(b) as CborTag).value as CborTag).value as CborValue[];
const payloadMap = (b: Uint8Array) => decodeStrict(partsOf(b)[2] as Uint8Array) as CborMap;
const resignToken = (payload: Uint8Array) => R.referenceSign1(payload, A.seed);
const resignEndorsement = (payload: Uint8Array) => createSign1(payload, OEM);
const rebuild = (parts: CborValue[]) => sloppy(new CborTag(61, new CborTag(18, parts)), -1, "wide");

function withClaim(target: CborMap, donor: CborMap, label: number): Uint8Array {
  const m = new Map(target);
  if (donor.has(label)) m.set(label, donor.get(label));
  else m.delete(label);
  return encodeDeterministic(m);
}

type Which = "token" | "endorsement";
const which = fc.constantFrom<Which>("token", "endorsement");
const how = fc.constantFrom<How>("wide", "reorder", "indefinite");
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), which, pos: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("truncate" as const), which, len: fc.nat() }),
  fc.record({ kind: fc.constant("extend" as const), which, extra: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant("overwrite" as const), which, pos: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant("insert" as const), which, pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant("delete" as const), which, pos: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant("reencode-outer" as const), which, target: fc.nat(), how }),
  fc.record({ kind: fc.constant("reencode-payload" as const), which, target: fc.nat(), how, resign: fc.boolean() }),
  fc.record({ kind: fc.constant("reencode-protected" as const), which, how }),
  fc.record({ kind: fc.constant("swap-claim" as const), label: fc.constantFrom(8, 10, 256, 257, 258, 259, 273), resign: fc.boolean() }),
  fc.record({ kind: fc.constant("swap-endorsed-claim" as const), label: fc.constantFrom(8, 256, 257, 258, 259) }),
  fc.record({ kind: fc.constant("swap-part" as const), which, part: fc.nat(3) }),
  fc.record({ kind: fc.constant("cross-pair" as const), swapBoth: fc.boolean() }),
  fc.record({ kind: fc.constant("wrong-nonce" as const) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

interface Case {
  token: Uint8Array;
  endorsement: Uint8Array;
  nonce: Uint8Array;
  /** Codes this mutation may legitimately produce; undefined = any table code. */
  expect?: readonly ErrorCode[];
}

const REENCODING: readonly ErrorCode[] = ["E_CBOR_NOT_DETERMINISTIC", "E_CBOR_INDEFINITE_LENGTH", "E_CBOR_MALFORMED"];
const SWAP_CODE: Record<number, ErrorCode> = {
  8: "E_KEY_MISMATCH", 10: "E_NONCE_MISMATCH", 256: "E_UEID_MISMATCH", 257: "E_UEID_MISMATCH",
  258: "E_OEMID_MISMATCH", 259: "E_HWMODEL_MISMATCH",
};

function apply(m: Mutation): Case | undefined {
  const base = { token: tokenA, endorsement: endA, nonce: NA };
  const pick = (w: Which) => (w === "token" ? tokenA : endA);
  const put = (w: Which, b: Uint8Array, expect?: readonly ErrorCode[]): Case => ({ ...base, [w]: b, ...(expect ? { expect } : {}) });
  switch (m.kind) {
    case "flip": {
      const b = pick(m.which).slice();
      b[m.pos % b.length]! ^= 1 << m.bit;
      return put(m.which, b);
    }
    case "truncate": {
      const b = pick(m.which);
      return put(m.which, b.subarray(0, m.len % b.length), ["E_CBOR_MALFORMED"]);
    }
    case "extend":
      return put(m.which, R.cat(pick(m.which), m.extra), ["E_CBOR_TRAILING_BYTES"]);
    case "overwrite": {
      const b = pick(m.which).slice();
      const i = m.pos % b.length;
      if (b[i] === m.byte) return undefined;
      b[i] = m.byte;
      return put(m.which, b);
    }
    case "insert": {
      const b = pick(m.which);
      const i = m.pos % (b.length + 1);
      return put(m.which, R.cat(b.subarray(0, i), m.bytes, b.subarray(i)));
    }
    case "delete": {
      const b = pick(m.which);
      const i = m.pos % b.length;
      return put(m.which, R.cat(b.subarray(0, i), b.subarray(i + m.n)));
    }
    case "reencode-outer": {
      // The signature covers only protected and payload: the outer re-encoding must be caught
      // by the strict decoder, not by the signature.
      const v = decodeStrict(pick(m.which));
      return put(m.which, sloppy(v, m.target % countItems(v), m.how), REENCODING);
    }
    case "reencode-payload": {
      const parts = partsOf(pick(m.which));
      const v = decodeStrict(parts[2] as Uint8Array);
      const payload = sloppy(v, m.target % countItems(v), m.how);
      if (!m.resign) return put(m.which, rebuild([parts[0]!, parts[1]!, payload, parts[3]!]), ["E_COSE_SIGNATURE"]);
      // Validly signed by the genuine key, but not deterministic: refused by the profile.
      return put(m.which, m.which === "token" ? resignToken(payload) : resignEndorsement(payload), REENCODING);
    }
    case "reencode-protected": {
      const prot = sloppy(new Map([[1, -8]]), m.how === "wide" ? 2 : 0, m.how); // item 0 = the map, 2 = the value -8
      const parts = partsOf(pick(m.which));
      const seed = m.which === "token" ? A.seed : undefined;
      const b = seed
        ? R.referenceSign1(parts[2] as Uint8Array, seed, { protectedBytes: prot })
        : rebuild([prot, parts[1]!, parts[2]!, parts[3]!]);
      return put(m.which, b, seed ? REENCODING : [...REENCODING, "E_COSE_SIGNATURE"]);
    }
    case "swap-claim": {
      const payload = withClaim(payloadMap(tokenA), payloadMap(tokenB), m.label);
      if (!m.resign) {
        const p = partsOf(tokenA);
        return { ...base, token: rebuild([p[0]!, p[1]!, payload, p[3]!]), expect: ["E_COSE_SIGNATURE"] };
      }
      // Same measurement digest on both devices: that swap changes nothing and is skipped.
      if (m.label === 273) return undefined;
      return { ...base, token: resignToken(payload), expect: [SWAP_CODE[m.label]!] };
    }
    case "swap-endorsed-claim": {
      const payload = withClaim(payloadMap(endA), payloadMap(endB), m.label);
      return { ...base, endorsement: resignEndorsement(payload), expect: [SWAP_CODE[m.label]!] };
    }
    case "swap-part": {
      // One COSE_Sign1 member from the other device's token or endorsement, no re-signing.
      const mine = partsOf(pick(m.which));
      const theirs = partsOf(m.which === "token" ? tokenB : endB);
      const parts = mine.slice();
      parts[m.part] = theirs[m.part]!;
      const b = rebuild(parts);
      if (equalBytes(b, pick(m.which))) return undefined; // identical protected headers
      const expect: ErrorCode[] = m.part === 1 ? (m.which === "token" ? ["E_KEY_MISMATCH"] : []) : ["E_COSE_SIGNATURE"];
      return put(m.which, b, expect.length ? expect : undefined);
    }
    case "cross-pair":
      return m.swapBoth
        ? { token: tokenB, endorsement: endA, nonce: NB, expect: ["E_KEY_MISMATCH"] }
        : { ...base, endorsement: endB, expect: ["E_KEY_MISMATCH"] };
    case "wrong-nonce":
      return { ...base, nonce: NB, expect: ["E_NONCE_MISMATCH"] };
  }
}

test("the genuine material verifies (so every refusal below is caused by its mutation)", () => {
  const p = policy();
  const n = p.nonces.issue(32);
  const t = R.buildReferenceToken(tokenInput(A, n));
  assert.ok(verifyAttestation({ token: t, endorsement: endA, nonce: n }, p).ok);
  // NA and NB stay unconsumed in P: a mutant that passed would consume one and be reported.
});

test("fuzz: >= 10,000 mutated tokens and endorsements, all refused with table codes", (t) => {
  const seen = new Map<string, number>();
  let runs = 0;
  fc.assert(
    fc.property(mutation, (m) => {
      const c = apply(m);
      if (c === undefined) return;
      if (equalBytes(c.token, tokenA) && equalBytes(c.endorsement, endA) && equalBytes(c.nonce, NA)) return;
      runs++;
      const r: Result<VerifiedAttestation> = verifyAttestation(c, P);
      assert.equal(r.ok, false, `accepted: ${JSON.stringify(m)}`);
      if (r.ok) return;
      assert.ok(r.error instanceof AttestationError, `${m.kind}: not an AttestationError`);
      assert.ok(isErrorCode(r.error.code), r.error.code);
      assert.notEqual(r.error.code, "E_INTERNAL", `${m.kind}: ${String(r.error.cause)}`);
      assert.notEqual(r.error.code, "E_ARGUMENT", m.kind);
      if (c.expect) assert.ok(c.expect.includes(r.error.code), `${JSON.stringify(m)} gave ${r.error.message}`);
      seen.set(r.error.code, (seen.get(r.error.code) ?? 0) + 1);
    }),
    { numRuns: 10_800 },
  );
  t.diagnostic(`${runs} mutants refused; codes: ${[...seen].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}=${n}`).join(" ")}`);
  assert.ok(runs >= 10_000, `only ${runs} mutants were distinct from the original`);
  // The mutations reach deep into the chain, not only the CBOR layer.
  for (const c of ["E_COSE_SIGNATURE", "E_KEY_MISMATCH", "E_UEID_MISMATCH", "E_NONCE_MISMATCH", "E_CBOR_NOT_DETERMINISTIC"] as const) {
    assert.ok((seen.get(c) ?? 0) > 0, `no mutant reached ${c}`);
  }
});
