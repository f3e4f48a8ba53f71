// Builds the Ed25519 verification edge-case table (RFC 8032 §5.1.7 strictness): S out of range,
// non-canonical encodings (y >= p, x = 0 with the sign bit set), the small-order points as A and
// as R, mixed-order points, and signatures CONSTRUCTED so that the cofactorless equation
// [S]B = R + [k]A holds, so that the verdict turns only on the implementation's policy
// (canonical checks, small-order rejection, cofactored or not). Curve arithmetic: @noble/curves.
// Cases are deterministic (no randomness), so the table is the same on every run.
import { createHash } from "node:crypto";
import { ed25519, ED25519_TORSION_SUBGROUP } from "@noble/curves/ed25519.js";
import { concat, hex, unhex } from "./ta.js";

type Point = InstanceType<typeof ed25519.Point>;
const Point = ed25519.Point;
export const P = Point.Fp.ORDER; // 2^255 - 19
export const L = Point.Fn.ORDER; // 2^252 + 27742317777372353535851937790883648493
const D = mod(-121665n * inv(121666n), P); // RFC 8032 §5.1: d = -121665/121666

export interface EdgeCase {
  group: string;
  name: string;
  publicKey: Uint8Array;
  signature: Uint8Array;
  message: Uint8Array;
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}
function pow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b = mod(b, m);
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
function inv(a: bigint): bigint {
  return pow(a, P - 2n, P);
}
export function leToInt(b: Uint8Array): bigint {
  return BigInt("0x" + (hex(b.slice().reverse()) || "0"));
}
export function intToLe(n: bigint, len = 32): Uint8Array {
  return unhex(n.toString(16).padStart(len * 2, "0")).reverse();
}
function sha512(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(createHash("sha512").update(concat(...parts)).digest());
}
const text = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

/**
 * Lenient decoding (what a permissive verifier would do): y is taken mod p even when the
 * encoding is >= p, and x = 0 with the sign bit set decodes to x = 0. Undefined if off-curve.
 * RFC 8032 §5.1.3 describes the strict version, which refuses both.
 */
export function decodeLenient(enc: Uint8Array): Point | undefined {
  const sign = enc[31]! >> 7;
  const yRaw = leToInt(enc) & ((1n << 255n) - 1n);
  const y = mod(yRaw, P);
  const u = mod(y * y - 1n, P);
  const v = mod(D * y * y + 1n, P);
  // x = sqrt(u/v) by §5.1.3: x = u v^3 (u v^7)^((p-5)/8), then fix by sqrt(-1) if needed
  let x = mod(u * pow(v, 3n, P) * pow(u * pow(v, 7n, P), (P - 5n) / 8n, P), P);
  const vx2 = mod(v * x * x, P);
  if (vx2 === mod(-u, P)) x = mod(x * pow(2n, (P - 1n) / 4n, P), P);
  else if (vx2 !== u) return undefined;
  if (Number(x & 1n) !== sign) x = mod(-x, P);
  return Point.fromAffine({ x, y });
}

/** Encoding of y = p + k (k in 0..18), a non-canonical encoding of y = k, with a sign bit. */
export function nonCanonicalY(k: number, sign: number): Uint8Array {
  const e = intToLe(P + BigInt(k));
  e[31] |= sign << 7;
  return e;
}

/** The 8 small-order points (canonical) and the 6 non-canonical encodings of small-order points. */
export function smallOrderEncodings(): { name: string; enc: Uint8Array }[] {
  const list = ED25519_TORSION_SUBGROUP.map((h, i) => ({ name: `torsion[${i}] ${h.slice(0, 8)}..${h.slice(-4)}`, enc: unhex(h) }));
  const withSign = (h: string) => {
    const e = unhex(h);
    e[31] |= 0x80;
    return e;
  };
  list.push(
    { name: "y=p (=0) sign 0, non-canonical order-4", enc: nonCanonicalY(0, 0) },
    { name: "y=p (=0) sign 1, non-canonical order-4", enc: nonCanonicalY(0, 1) },
    { name: "y=p+1 (=1) sign 0, non-canonical identity", enc: nonCanonicalY(1, 0) },
    { name: "y=p+1 (=1) sign 1, non-canonical identity, x=0 with sign set", enc: nonCanonicalY(1, 1) },
    { name: "y=1 x=0 with sign set (identity)", enc: withSign(ED25519_TORSION_SUBGROUP[0]!) },
    { name: "y=-1 x=0 with sign set (order 2)", enc: withSign(ED25519_TORSION_SUBGROUP[4]!) },
  );
  return list;
}

/**
 * Discrete log in the torsion subgroup (cyclic of order 8): j with P = [j]G8 for the
 * small-order point P, G8 a generator. Lets the message search test [k]A + R = O by k mod 8.
 */
function torsionLog(): (pt: Point) => number {
  const gen = Point.fromHex(ED25519_TORSION_SUBGROUP[1]!);
  const table = new Map<string, number>();
  let acc = Point.ZERO;
  for (let j = 0; j < 8; j++, acc = acc.add(gen)) table.set(acc.toHex(), j);
  if (table.size !== 8) throw new Error("torsion[1] does not generate the torsion subgroup");
  return (pt) => {
    const j = table.get(pt.toHex());
    if (j === undefined) throw new Error("not a small-order point");
    return j;
  };
}

/** RFC 8032 §5.1.5: clamped scalar a of a seed, and the public key A = [a]B. */
function expand(seed: Uint8Array): { a: bigint; A: Uint8Array } {
  const h = sha512(seed).slice(0, 32);
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  const a = leToInt(h);
  return { a, A: Point.BASE.multiply(mod(a, L)).toBytes() };
}
const hashK = (R: Uint8Array, A: Uint8Array, M: Uint8Array) => mod(leToInt(sha512(R, A, M)), L);
const sig = (R: Uint8Array, S: bigint) => concat(R, intToLe(S));

/**
 * Finds a message (deterministic search over "tag-0", "tag-1", ...) whose k = H(R||A||M) makes
 * `holds(k)` true; falls back to the first message (the equation then does not hold).
 */
function findMessage(tag: string, R: Uint8Array, A: Uint8Array, holds: (k: bigint) => boolean): { M: Uint8Array; k: bigint; found: boolean } {
  for (let i = 0; i < 256; i++) {
    const M = text(`${tag}-${i}`);
    const k = hashK(R, A, M);
    if (holds(k)) return { M, k, found: true };
  }
  const M = text(`${tag}-0`);
  return { M, k: hashK(R, A, M), found: false };
}

export function buildEdgeCases(): EdgeCase[] {
  const cases: EdgeCase[] = [];
  const add = (group: string, name: string, publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array) =>
    cases.push({ group, name, publicKey, signature, message });

  const seed = sha512(text("antitheft edge-case seed")).slice(0, 32);
  const { a, A } = expand(seed);
  const r = mod(leToInt(sha512(text("antitheft edge-case nonce"))), L);
  const R = Point.BASE.multiply(r).toBytes();
  const M0 = text("edge-case message");
  const S0 = mod(r + hashK(R, A, M0) * a, L);
  const valid = sig(R, S0);

  // --- S range (RFC 8032 §5.1.7 step 1: S must be < L) ---
  add("S", "valid signature (baseline)", A, valid, M0);
  for (let j = 1n; j <= 15n; j++) add("S", `S + ${j}L (same residue, S >= L)`, A, sig(R, S0 + j * L), M0);
  for (const s of [L, L + 1n, L + 2n, L + 7n, L + 8n, L + 19n, (1n << 253n) - 1n, (1n << 255n) - 1n, (1n << 256n) - 1n]) {
    add("S", `S = ${s === L ? "L" : s > L && s < L + 100n ? `L+${s - L}` : `0x${s.toString(16).slice(0, 6)}..`}`, A, sig(R, s), M0);
  }
  add("S", "S = L-1", A, sig(R, L - 1n), M0);
  add("S", "S = 0", A, sig(R, 0n), M0);

  // --- the small-order points as A: R = [r]B, S = r, message chosen so [k]A = O ---
  const small = smallOrderEncodings();
  const log = torsionLog();
  const logs = new Map(small.map((T) => [T, log(decodeLenient(T.enc)!)]));
  for (const T of small) {
    const j = BigInt(logs.get(T)!);
    const { M, found } = findMessage(`A-${hex(T.enc).slice(0, 8)}`, R, T.enc, (k) => (k * j) % 8n === 0n);
    add("small-order A", `${T.name}; [S]B = R + [k]A ${found ? "holds" : "fails"}`, T.enc, sig(R, r), M);
  }

  // --- the small-order points as R: A regular, S = k*a, so [8][S]B = [8]R + [8][k]A (cofactored
  // equation holds); the cofactorless equation holds only for R = identity ---
  for (const T of small) {
    const M = text(`R-${hex(T.enc).slice(0, 8)}`);
    const k = hashK(T.enc, A, M);
    add("small-order R", `${T.name}; S = k*a`, A, sig(T.enc, mod(k * a, L)), M);
  }

  // --- small-order A and small-order R together, S = 0: [k]A = -R where achievable ---
  for (const TA of small) {
    for (const TR of small) {
      const [ja, jr] = [BigInt(logs.get(TA)!), BigInt(logs.get(TR)!)];
      // solvable iff some k has k*ja + jr = 0 (mod 8); search only then
      const solvable = [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n].some((k) => (k * ja + jr) % 8n === 0n);
      const tag = `AR-${hex(TA.enc).slice(0, 6)}-${hex(TR.enc).slice(0, 6)}`;
      const { M, found } = solvable
        ? findMessage(tag, TR.enc, TA.enc, (k) => (k * ja + jr) % 8n === 0n)
        : { M: text(`${tag}-0`), found: false };
      add("small-order A and R", `A ${TA.name} | R ${TR.name}; S=0, equation ${found ? "holds" : "fails"}`, TA.enc, sig(TR.enc, 0n), M);
    }
  }

  // --- mixed-order A = [a]B + T (low-order component): S = r + k*a, message with [k]T = O ---
  const pointA = Point.fromBytes(A);
  for (const T of small.slice(1, 8)) {
    const Amixed = pointA.add(Point.fromBytes(T.enc)).toBytes();
    const j = BigInt(logs.get(T)!);
    const hit = findMessage(`mixA-${hex(T.enc).slice(0, 8)}`, R, Amixed, (k) => (k * j) % 8n === 0n);
    add("mixed-order A", `A + ${T.name}; [k]T = O (cofactorless equation holds)`, Amixed, sig(R, mod(r + hit.k * a, L)), hit.M);
    const miss = findMessage(`mixA-miss-${hex(T.enc).slice(0, 8)}`, R, Amixed, (k) => (k * j) % 8n !== 0n);
    add("mixed-order A", `A + ${T.name}; [k]T != O (only the cofactored equation holds)`, Amixed, sig(R, mod(r + miss.k * a, L)), miss.M);
  }

  // --- mixed-order R = [r]B + T with S = r + k*a: only the cofactored equation holds ---
  for (const T of small.slice(1, 8)) {
    const Rmixed = Point.fromBytes(R).add(Point.fromBytes(T.enc)).toBytes();
    const M = text(`mixR-${hex(T.enc).slice(0, 8)}`);
    add("mixed-order R", `R + ${T.name}; S = r + k*a`, A, sig(Rmixed, mod(r + hashK(Rmixed, A, M) * a, L)), M);
  }

  // --- non-canonical y = p + k (k = 0..18, i.e. y >= p up to 2^255-1), both signs, as A and as R.
  // The identity cases (k = 1) are built so a lenient decoder would accept them. ---
  for (let k = 0; k <= 18; k++) {
    for (const s of [0, 1]) {
      const enc = nonCanonicalY(k, s);
      const pt = decodeLenient(enc);
      const on = pt ? (pt.isSmallOrder() ? "small-order point" : "on the curve") : "not on the curve";
      const label = `y = p+${k}${k === 18 ? " (2^255-1)" : ""} sign ${s}, ${on}`;
      // as A: R = [r]B, S = r (verifies leniently when [k]A = O, e.g. the identity)
      const j = pt?.isSmallOrder() ? BigInt(log(pt)) : undefined;
      const fa = findMessage(`ncA-${k}-${s}`, R, enc, (kk) => j !== undefined && (kk * j) % 8n === 0n);
      add("non-canonical A", label, enc, sig(R, r), fa.M);
      // as R: S = k*a (verifies leniently only when R decodes to the identity)
      const M = text(`ncR-${k}-${s}`);
      add("non-canonical R", label, A, sig(enc, mod(hashK(enc, A, M) * a, L)), M);
    }
  }

  // --- single-bit flips of the valid signature's R, S, of A, and of the message ---
  for (let bit = 0; bit < 256; bit++) {
    const s1 = valid.slice();
    s1[bit >> 3] ^= 1 << (bit & 7);
    add("bit flip R", `R bit ${bit}`, A, s1, M0);
    const s2 = valid.slice();
    s2[32 + (bit >> 3)] ^= 1 << (bit & 7);
    add("bit flip S", `S bit ${bit}`, A, s2, M0);
    const a2 = A.slice();
    a2[bit >> 3] ^= 1 << (bit & 7);
    add("bit flip A", `A bit ${bit}`, a2, valid, M0);
  }
  for (let bit = 0; bit < M0.length * 8; bit++) {
    const m = M0.slice();
    m[bit >> 3] ^= 1 << (bit & 7);
    add("bit flip M", `M bit ${bit}`, A, valid, m);
  }
  return cases;
}

/**
 * A model of OpenSSL's Ed25519 verification as observed through node:crypto (OpenSSL 3.0,
 * crypto/ec/curve25519.c): S must be < L; A is decoded leniently (y taken mod p, x = 0 with the
 * sign bit set accepted, small-order points accepted); R is never decoded: [S]B - [k]A is
 * computed (cofactorless) and its canonical encoding compared with the 32 bytes of R.
 */
export function modelVerdict(c: EdgeCase): boolean {
  const R = c.signature.subarray(0, 32);
  const S = leToInt(c.signature.subarray(32, 64));
  if (S >= L) return false;
  const A = decodeLenient(c.publicKey);
  if (!A) return false;
  const k = hashK(R, c.publicKey, c.message);
  const Rcheck = Point.BASE.multiplyUnsafe(S).subtract(A.multiplyUnsafe(k));
  return hex(Rcheck.toBytes()) === hex(R);
}
