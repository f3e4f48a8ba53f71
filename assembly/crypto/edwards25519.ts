// The twisted Edwards curve edwards25519 (RFC 8032 §5.1; RFC 7748 §4.1) in extended
// coordinates, after ref10 (SUPERCOP, public domain). A point is a region of linear memory:
//   p2      X, Y, Z              (projective)          x = X/Z, y = Y/Z
//   p3      X, Y, Z, T           (extended)            also XY = ZT
//   p1p1    X, Y, Z, T           (completed)           x = X/Z, y = Y/T
//   precomp y+x, y-x, 2dxy       (affine, Z = 1)
//   cached  Y+X, Y-X, Z, 2dT
// each field element FE = 40 bytes at offsets 0, 40, 80, 120.
import { wipe } from "./ct";
import {
  FE, FE_D, FE_D2, FE_SQRTM1, fe0, fe1, feAdd, feCarry, feCopy, feFromBytes, feInvert,
  feIsNegative, feIsNonZero, feMul, feNeg, fePow22523, feSq, feSub, feToBytes
} from "./field25519";

/** Bytes of a point in p3 / p1p1 / cached form (p2 and precomp use the first 120). */
export const GE: usize = 160;
const X: usize = 0;
const Y: usize = 40;
const Z: usize = 80;
const T: usize = 120;

// The base-point table (ref10 ge_scalarmult_base): TABLE[i][j] = (j + 1) * 256^i * B as
// precomp points, i < 32, j < 8; 30 KiB computed on first use instead of shipped in the binary.
const ENTRY: usize = 120;
const ROW: usize = 8 * ENTRY;
const TABLE: usize = memory.data(32 * <i32>ROW, 16);
let tableReady = false;

// Odd multiples A, 3A, ..., 15A (cached) for verification; also the batch-inversion scratch
// (32 field elements) while the table is built.
const AI: usize = memory.data(8 * <i32>GE, 16);
const SLIDE_A: usize = memory.data(256, 8);
const SLIDE_B: usize = memory.data(256, 8);
const DIGITS: usize = memory.data(64, 8);

// Point scratch.
const PT: usize = memory.data(5 * <i32>GE + 4 * <i32>FE, 16);
const R1: usize = PT;             // p1p1 results
const U3: usize = PT + GE;        // p3 intermediate
const SEL: usize = PT + 2 * GE;   // selected precomp / cached
const A2: usize = PT + 3 * GE;    // 2A (verify) / doubled row base (table)
const Q3: usize = PT + 4 * GE;    // p3 running point (table)
const F0: usize = PT + 5 * GE;    // field temporaries
const F1: usize = F0 + FE;
const F2: usize = F0 + 2 * FE;
const F3: usize = F0 + 3 * FE;
const PT_SIZE: i32 = 5 * <i32>GE + 4 * <i32>FE;

// y of the base point B = 4/5 (RFC 8032 §5.1), encoded; x is even (sign bit 0).
const BASE_Y: usize = memory.data<u8>([
  0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66
]);

/** p3 identity (0, 1, 1, 0). */
export function geIdentity(h: usize): void {
  fe0(h + X);
  fe1(h + Y);
  fe1(h + Z);
  fe0(h + T);
}

/** r (p1p1) = 2p, p in p2 or p3 form (ref10 ge_p2_dbl; dbl-2008-hwcd). r must not be p. */
export function geDbl(r: usize, p: usize): void {
  feSq(r + X, p + X);
  feSq(r + Z, p + Y);
  feSq(r + T, p + Z);
  feAdd(r + T, r + T, r + T);
  feAdd(r + Y, p + X, p + Y);
  feSq(F0, r + Y);
  feAdd(r + Y, r + Z, r + X);
  feSub(r + Z, r + Z, r + X);
  feSub(r + X, F0, r + Y);
  feSub(r + T, r + T, r + Z);
}

/** r (p2) = p (p1p1). r may be p. */
export function geToP2(r: usize, p: usize): void {
  feMul(r + X, p + X, p + T);
  feMul(r + Y, p + Y, p + Z);
  feMul(r + Z, p + Z, p + T);
}

/** r (p3) = p (p1p1). r must not be p. */
export function geToP3(r: usize, p: usize): void {
  feMul(r + X, p + X, p + T);
  feMul(r + Y, p + Y, p + Z);
  feMul(r + Z, p + Z, p + T);
  feMul(r + T, p + X, p + Y);
}

/** r (cached) = p (p3). */
export function geToCached(r: usize, p: usize): void {
  feAdd(r + X, p + Y, p + X);
  feSub(r + Y, p + Y, p + X);
  feCopy(r + Z, p + Z);
  feMul(r + T, p + T, FE_D2);
}

/**
 * r (p1p1) = p (p3) + q, or p - q when `sub`; q is cached (`cached` true) or precomp (Z = 1).
 * ref10 ge_add / ge_sub / ge_madd / ge_msub (add-2008-hwcd-3). The flags are never secret.
 */
export function geAdd(r: usize, p: usize, q: usize, cached: bool, sub: bool): void {
  feAdd(r + X, p + Y, p + X);
  feSub(r + Y, p + Y, p + X);
  feMul(r + Z, r + X, sub ? q + Y : q + X);
  feMul(r + Y, r + Y, sub ? q + X : q + Y);
  feMul(r + T, cached ? q + T : q + Z, p + T);
  if (cached) {
    feMul(r + X, p + Z, q + Z);
    feAdd(F0, r + X, r + X);
  } else {
    feAdd(F0, p + Z, p + Z);
  }
  feSub(r + X, r + Z, r + Y);
  feAdd(r + Y, r + Z, r + Y);
  if (sub) {
    feSub(r + Z, F0, r + T);
    feAdd(r + T, F0, r + T);
  } else {
    feAdd(r + Z, F0, r + T);
    feSub(r + T, F0, r + T);
  }
}

// Encodes p given zinv = 1/Z (RFC 8032 §5.1.2): y with the sign of x in bit 255.
function encode(s: usize, p: usize, zinv: usize): void {
  feMul(F2, p + X, zinv);
  feMul(F3, p + Y, zinv);
  feToBytes(s, F3);
  store<u8>(s, load<u8>(s, 31) ^ <u8>(feIsNegative(F2) << 7), 31);
}

/** Encodes p (p2/p3) as 32 bytes (RFC 8032 §5.1.2). Constant time. */
export function geToBytes(s: usize, p: usize): void {
  feInvert(F1, p + Z);
  encode(s, p, F1);
  wipe(F0, 4 * <i32>FE);
}

/** Encodes two points with one inversion (Montgomery's trick). Constant time. */
export function geToBytes2(s1: usize, p1: usize, s2: usize, p2: usize): void {
  feMul(F0, p1 + Z, p2 + Z);
  feInvert(F0, F0);        // 1 / (Z1 Z2)
  feMul(F1, F0, p2 + Z);   // 1 / Z1
  encode(s1, p1, F1);
  feMul(F1, F0, p1 + Z);   // 1 / Z2
  encode(s2, p2, F1);
  wipe(F0, 4 * <i32>FE);
}

/**
 * Decodes 32 bytes into h (p3) as ref10 and OpenSSL do (RFC 8032 §5.1.3 with two
 * relaxations node:crypto shares): y is taken mod p even when >= p, and x = 0 with the sign
 * bit set decodes to x = 0. Returns false when x^2 = (y^2 - 1)/(d y^2 + 1) has no root.
 * Variable time: for public keys and constants only.
 */
export function geFromBytes(h: usize, s: usize): bool {
  const u = F0;
  const v = F1;
  const v3 = F2;
  const vxx = F3;
  feFromBytes(h + Y, s);
  fe1(h + Z);
  feSq(u, h + Y);
  feMul(v, u, FE_D);
  feSub(u, u, h + Z);          // u = y^2 - 1
  feAdd(v, v, h + Z);          // v = d y^2 + 1
  feSq(v3, v);
  feMul(v3, v3, v);            // v^3
  feSq(h + X, v3);
  feMul(h + X, h + X, v);
  feMul(h + X, h + X, u);      // u v^7
  fePow22523(h + X, h + X);    // (u v^7)^((p-5)/8)
  feMul(h + X, h + X, v3);
  feMul(h + X, h + X, u);      // x = u v^3 (u v^7)^((p-5)/8)
  feSq(vxx, h + X);
  feMul(vxx, vxx, v);
  feSub(v3, vxx, u);           // v x^2 - u
  if (feIsNonZero(v3)) {
    feAdd(v3, vxx, u);         // v x^2 + u
    if (feIsNonZero(v3)) return false;
    feMul(h + X, h + X, FE_SQRTM1);
  }
  if (feIsNegative(h + X) != (load<u8>(s, 31) >> 7)) feNeg(h + X, h + X);
  feMul(h + T, h + X, h + Y);
  return true;
}

// Builds TABLE: rows of (j+1) * P for P = 256^i * B, computed projectively, then made affine
// with batched inversions (Montgomery's trick) over 32 entries at a time, scratch in AI.
function buildTable(): void {
  const P = A2;
  geFromBytes(P, BASE_Y);
  for (let i: usize = 0; i < 32; i++) {
    geToCached(SEL, P);
    memory.copy(Q3, P, GE);
    const row = TABLE + i * ROW;
    memory.copy(row, Q3, 3 * FE);
    for (let j: usize = 1; j < 8; j++) {
      geAdd(R1, Q3, SEL, true, false);
      geToP3(Q3, R1);
      memory.copy(row + j * ENTRY, Q3, 3 * FE); // X, Y, Z for now
    }
    // next P = 256 P = 2^5 * (8 P)
    geDbl(R1, Q3);
    for (let k = 0; k < 4; k++) {
      geToP2(U3, R1);
      geDbl(R1, U3);
    }
    geToP3(P, R1);
  }
  const prefix = AI;
  const acc = F0;
  const zinv = F1;
  const x = F2;
  const y = F3;
  for (let c: usize = 0; c < 256; c += 32) {
    fe1(acc);
    for (let k: usize = 0; k < 32; k++) {
      feCopy(prefix + k * FE, acc);
      feMul(acc, acc, TABLE + (c + k) * ENTRY + Z);
    }
    feInvert(acc, acc); // 1 / (Z_0 ... Z_31)
    for (let k: isize = 31; k >= 0; k--) {
      const e = TABLE + (c + <usize>k) * ENTRY;
      feMul(zinv, acc, prefix + <usize>k * FE);
      feMul(acc, acc, e + Z);
      feMul(x, e + X, zinv);
      feMul(y, e + Y, zinv);
      feAdd(e + X, y, x);
      feCarry(e + X);
      feSub(e + Y, y, x);
      feCarry(e + Y);
      feMul(e + Z, x, y);
      feMul(e + Z, e + Z, FE_D2);
    }
  }
  tableReady = true;
}

// @ts-ignore: decorator
@inline function ensureTable(): void {
  if (!tableReady) buildTable();
}

// @ts-ignore: decorator
@inline function mask64(x: i32): u64 {
  return <u64><i64>x; // 0 or -1, sign-extended
}

// OR of the 8 row entries' u64 word at byte offset k, each under its mask.
// @ts-ignore: decorator
@inline function pick(e: usize, m0: u64, m1: u64, m2: u64, m3: u64, m4: u64, m5: u64, m6: u64,
  m7: u64): u64 {
  return (load<u64>(e) & m0) | (load<u64>(e, 120) & m1) | (load<u64>(e, 240) & m2) |
    (load<u64>(e, 360) & m3) | (load<u64>(e, 480) & m4) | (load<u64>(e, 600) & m5) |
    (load<u64>(e, 720) & m6) | (load<u64>(e, 840) & m7);
}

/**
 * SEL = b * 256^pos * B as precomp, for a secret digit b in [-8, 8], in constant time: every
 * entry of the row is read and combined under masks, and a negative b swaps y+x with y-x and
 * negates 2dxy under a mask (ref10 select / cmov). Two limbs travel in each u64.
 */
function select(pos: usize, b: i32): void {
  const neg = b >> 31;                     // -1 if b < 0
  const babs = b - ((neg & b) << 1);
  const nm = mask64(neg);
  const row = TABLE + pos * ROW;
  const m0 = mask64(((babs ^ 1) - 1) >> 31);
  const m1 = mask64(((babs ^ 2) - 1) >> 31);
  const m2 = mask64(((babs ^ 3) - 1) >> 31);
  const m3 = mask64(((babs ^ 4) - 1) >> 31);
  const m4 = mask64(((babs ^ 5) - 1) >> 31);
  const m5 = mask64(((babs ^ 6) - 1) >> 31);
  const m6 = mask64(((babs ^ 7) - 1) >> 31);
  const m7 = mask64(((babs ^ 8) - 1) >> 31);
  // b == 0 selects nothing above: then y+x = y-x = 1 (the identity (1, 1, 0))
  const zero: i32 = ((babs - 1) >> 31) & 1;
  const one = <u64>zero;
  for (let k: usize = 0; k < FE; k += 8) {
    const p = pick(row + k, m0, m1, m2, m3, m4, m5, m6, m7) | (k == 0 ? one : 0);
    const m = pick(row + FE + k, m0, m1, m2, m3, m4, m5, m6, m7) | (k == 0 ? one : 0);
    const s = (p ^ m) & nm;
    store<u64>(SEL + k, p ^ s);
    store<u64>(SEL + FE + k, m ^ s);
    const t = pick(row + 2 * FE + k, m0, m1, m2, m3, m4, m5, m6, m7);
    const n = ((0 - t) & 0xffffffff) | ((0 - (t >> 32)) << 32); // both i32 limbs negated
    store<u64>(SEL + 2 * FE + k, t ^ ((t ^ n) & nm));
  }
}

/**
 * h (p3) = a * B for a 32-byte scalar a < 2^255, in constant time (ref10 ge_scalarmult_base):
 * a = sum e[i] 16^i with signed digits e[i] in [-8, 8]; odd and even digits are summed
 * separately from TABLE, the odd half multiplied by 16 in between. Wipes its scratch.
 */
export function geScalarMultBase(h: usize, a: usize): void {
  ensureTable();
  for (let i: usize = 0; i < 32; i++) {
    const x = <i32>load<u8>(a + i);
    store<i8>(DIGITS + 2 * i, <i8>(x & 15));
    store<i8>(DIGITS + 2 * i + 1, <i8>(x >> 4));
  }
  let carry: i32 = 0;
  for (let i: usize = 0; i < 63; i++) {
    let e = <i32>load<i8>(DIGITS + i) + carry;
    carry = (e + 8) >> 4;
    store<i8>(DIGITS + i, <i8>(e - (carry << 4)));
  }
  store<i8>(DIGITS + 63, <i8>(<i32>load<i8>(DIGITS + 63) + carry));
  geIdentity(h);
  for (let i: usize = 1; i < 64; i += 2) {
    select(i >> 1, <i32>load<i8>(DIGITS + i));
    geAdd(R1, h, SEL, false, false);
    geToP3(h, R1);
  }
  geDbl(R1, h);
  for (let k = 0; k < 3; k++) {
    geToP2(U3, R1);
    geDbl(R1, U3);
  }
  geToP3(h, R1);
  for (let i: usize = 0; i < 64; i += 2) {
    select(i >> 1, <i32>load<i8>(DIGITS + i));
    geAdd(R1, h, SEL, false, false);
    geToP3(h, R1);
  }
  wipe(DIGITS, 64);
  wipe(PT, PT_SIZE);
}

/** Signed sliding-window digits of a 256-bit scalar: odd, |digit| <= max (ref10 slide). */
function slide(r: usize, a: usize, max: i32): void {
  for (let i: usize = 0; i < 256; i++) {
    store<i8>(r + i, <i8>(1 & (load<u8>(a + (i >> 3)) >> <u8>(i & 7))));
  }
  for (let i: usize = 0; i < 256; i++) {
    let ri = <i32>load<i8>(r + i);
    if (ri == 0) continue;
    for (let b: usize = 1; b <= 6 && i + b < 256; b++) {
      const rb = <i32>load<i8>(r + i + b);
      if (rb == 0) continue;
      if (ri + (rb << <i32>b) <= max) {
        ri += rb << <i32>b;
        store<i8>(r + i + b, 0);
      } else if (ri - (rb << <i32>b) >= -max) {
        ri -= rb << <i32>b;
        for (let k = i + b; k < 256; k++) {
          if (load<i8>(r + k) == 0) {
            store<i8>(r + k, 1);
            break;
          }
          store<i8>(r + k, 0);
        }
      } else break;
    }
    store<i8>(r + i, <i8>ri);
  }
}

/**
 * r (p2) = a * A + b * B, variable time (public inputs only: verification). A is p3; a and b
 * are 32-byte scalars. A uses odd multiples up to 15A, B the odd multiples up to 7B in TABLE
 * row 0 (ref10 ge_double_scalarmult_vartime).
 */
export function geDoubleScalarMultVartime(r: usize, a: usize, A: usize, b: usize): void {
  ensureTable();
  slide(SLIDE_A, a, 15);
  slide(SLIDE_B, b, 7);
  geToCached(AI, A);
  geDbl(R1, A);
  geToP3(A2, R1);
  for (let i: usize = 1; i < 8; i++) {
    geAdd(R1, A2, AI + (i - 1) * GE, true, false);
    geToP3(U3, R1);
    geToCached(AI + i * GE, U3);
  }
  fe0(r + X);
  fe1(r + Y);
  fe1(r + Z);
  let i: isize = 255;
  while (i >= 0 && load<i8>(SLIDE_A + <usize>i) == 0 && load<i8>(SLIDE_B + <usize>i) == 0) i--;
  for (; i >= 0; i--) {
    geDbl(R1, r);
    const da = <i32>load<i8>(SLIDE_A + <usize>i);
    const db = <i32>load<i8>(SLIDE_B + <usize>i);
    if (da != 0) {
      geToP3(U3, R1);
      geAdd(R1, U3, AI + <usize>(abs(da) >> 1) * GE, true, da < 0);
    }
    if (db != 0) {
      geToP3(U3, R1);
      geAdd(R1, U3, TABLE + <usize>(abs(db) - 1) * ENTRY, false, db < 0);
    }
    geToP2(r, R1);
  }
}
