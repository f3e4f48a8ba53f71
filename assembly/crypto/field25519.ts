// Arithmetic in GF(2^255 - 19) for Ed25519 (RFC 8032 §5.1): ten signed limbs in radix 2^25.5
// (26, 25, 26, 25, ... bits), stored as i32 and multiplied as i64, after ref10 (SUPERCOP,
// public domain). An element is FE bytes of linear memory; every function takes addresses.
// All of it is constant time: no branch or memory index depends on a limb.
// Bounds (ref10): inputs of mul/sq may have |limb| <= 1.65 * 2^26; after a carry (mul, sq,
// carry) |limb| <= 1.01 * 2^25 (odd) / 2^26 (even); add/sub of two carried elements stay in range.

/** Bytes of one field element. */
export const FE: usize = 40;

// Constants (canonical limbs), checked by the specs: d = -121665/121666, 2d, sqrt(-1).
export const FE_D: usize = memory.data<i32>([
  56195235, 13857412, 51736253, 6949390, 114729, 24766616, 60832955, 30306712, 48412415, 21499315
]);
export const FE_D2: usize = memory.data<i32>([
  45281625, 27714825, 36363642, 13898781, 229458, 15978800, 54557047, 27058993, 29715967, 9444199
]);
export const FE_SQRTM1: usize = memory.data<i32>([
  34513072, 25610706, 9377949, 3500415, 12389472, 33281959, 41962654, 31548777, 326685, 11406482
]);

// Scratch of feInvert / fePow22523; they wipe it (it may hold values derived from secrets).
const T0: usize = memory.data(40 * 4, 8);
const T1: usize = T0 + 40;
const T2: usize = T0 + 80;
const T3: usize = T0 + 120;

// @ts-ignore: decorator
@inline function storeLimbs(h: usize, h0: i64, h1: i64, h2: i64, h3: i64, h4: i64,
  h5: i64, h6: i64, h7: i64, h8: i64, h9: i64): void {
  store<i32>(h, <i32>h0, 0);
  store<i32>(h, <i32>h1, 4);
  store<i32>(h, <i32>h2, 8);
  store<i32>(h, <i32>h3, 12);
  store<i32>(h, <i32>h4, 16);
  store<i32>(h, <i32>h5, 20);
  store<i32>(h, <i32>h6, 24);
  store<i32>(h, <i32>h7, 28);
  store<i32>(h, <i32>h8, 32);
  store<i32>(h, <i32>h9, 36);
}

/** h = 0 */
export function fe0(h: usize): void {
  memory.fill(h, 0, FE);
}

/** h = 1 */
export function fe1(h: usize): void {
  memory.fill(h, 0, FE);
  store<i32>(h, 1);
}

/** h = f */
export function feCopy(h: usize, f: usize): void {
  memory.copy(h, f, FE);
}

/** h = f + g (no carry) */
export function feAdd(h: usize, f: usize, g: usize): void {
  store<i32>(h, load<i32>(f, 0) + load<i32>(g, 0), 0);
  store<i32>(h, load<i32>(f, 4) + load<i32>(g, 4), 4);
  store<i32>(h, load<i32>(f, 8) + load<i32>(g, 8), 8);
  store<i32>(h, load<i32>(f, 12) + load<i32>(g, 12), 12);
  store<i32>(h, load<i32>(f, 16) + load<i32>(g, 16), 16);
  store<i32>(h, load<i32>(f, 20) + load<i32>(g, 20), 20);
  store<i32>(h, load<i32>(f, 24) + load<i32>(g, 24), 24);
  store<i32>(h, load<i32>(f, 28) + load<i32>(g, 28), 28);
  store<i32>(h, load<i32>(f, 32) + load<i32>(g, 32), 32);
  store<i32>(h, load<i32>(f, 36) + load<i32>(g, 36), 36);
}

/** h = f - g (no carry) */
export function feSub(h: usize, f: usize, g: usize): void {
  store<i32>(h, load<i32>(f, 0) - load<i32>(g, 0), 0);
  store<i32>(h, load<i32>(f, 4) - load<i32>(g, 4), 4);
  store<i32>(h, load<i32>(f, 8) - load<i32>(g, 8), 8);
  store<i32>(h, load<i32>(f, 12) - load<i32>(g, 12), 12);
  store<i32>(h, load<i32>(f, 16) - load<i32>(g, 16), 16);
  store<i32>(h, load<i32>(f, 20) - load<i32>(g, 20), 20);
  store<i32>(h, load<i32>(f, 24) - load<i32>(g, 24), 24);
  store<i32>(h, load<i32>(f, 28) - load<i32>(g, 28), 28);
  store<i32>(h, load<i32>(f, 32) - load<i32>(g, 32), 32);
  store<i32>(h, load<i32>(f, 36) - load<i32>(g, 36), 36);
}

/** h = -f */
export function feNeg(h: usize, f: usize): void {
  store<i32>(h, -load<i32>(f, 0), 0);
  store<i32>(h, -load<i32>(f, 4), 4);
  store<i32>(h, -load<i32>(f, 8), 8);
  store<i32>(h, -load<i32>(f, 12), 12);
  store<i32>(h, -load<i32>(f, 16), 16);
  store<i32>(h, -load<i32>(f, 20), 20);
  store<i32>(h, -load<i32>(f, 24), 24);
  store<i32>(h, -load<i32>(f, 28), 28);
  store<i32>(h, -load<i32>(f, 32), 32);
  store<i32>(h, -load<i32>(f, 36), 36);
}

/** h = f * g */
export function feMul(h: usize, f: usize, g: usize): void {
  const f0 = <i64>load<i32>(f, 0);
  const f1 = <i64>load<i32>(f, 4);
  const f2 = <i64>load<i32>(f, 8);
  const f3 = <i64>load<i32>(f, 12);
  const f4 = <i64>load<i32>(f, 16);
  const f5 = <i64>load<i32>(f, 20);
  const f6 = <i64>load<i32>(f, 24);
  const f7 = <i64>load<i32>(f, 28);
  const f8 = <i64>load<i32>(f, 32);
  const f9 = <i64>load<i32>(f, 36);
  const g0 = <i64>load<i32>(g, 0);
  const g1 = <i64>load<i32>(g, 4);
  const g2 = <i64>load<i32>(g, 8);
  const g3 = <i64>load<i32>(g, 12);
  const g4 = <i64>load<i32>(g, 16);
  const g5 = <i64>load<i32>(g, 20);
  const g6 = <i64>load<i32>(g, 24);
  const g7 = <i64>load<i32>(g, 28);
  const g8 = <i64>load<i32>(g, 32);
  const g9 = <i64>load<i32>(g, 36);
  const g1_19 = g1 * 19;
  const g2_19 = g2 * 19;
  const g3_19 = g3 * 19;
  const g4_19 = g4 * 19;
  const g5_19 = g5 * 19;
  const g6_19 = g6 * 19;
  const g7_19 = g7 * 19;
  const g8_19 = g8 * 19;
  const g9_19 = g9 * 19;
  const f1_2 = f1 << 1;
  const f3_2 = f3 << 1;
  const f5_2 = f5 << 1;
  const f7_2 = f7 << 1;
  const f9_2 = f9 << 1;
  let h0 = f0 * g0 + f1_2 * g9_19 + f2 * g8_19 + f3_2 * g7_19 + f4 * g6_19 + f5_2 * g5_19 + f6 * g4_19 + f7_2 * g3_19 + f8 * g2_19 + f9_2 * g1_19;
  let h1 = f0 * g1 + f1 * g0 + f2 * g9_19 + f3 * g8_19 + f4 * g7_19 + f5 * g6_19 + f6 * g5_19 + f7 * g4_19 + f8 * g3_19 + f9 * g2_19;
  let h2 = f0 * g2 + f1_2 * g1 + f2 * g0 + f3_2 * g9_19 + f4 * g8_19 + f5_2 * g7_19 + f6 * g6_19 + f7_2 * g5_19 + f8 * g4_19 + f9_2 * g3_19;
  let h3 = f0 * g3 + f1 * g2 + f2 * g1 + f3 * g0 + f4 * g9_19 + f5 * g8_19 + f6 * g7_19 + f7 * g6_19 + f8 * g5_19 + f9 * g4_19;
  let h4 = f0 * g4 + f1_2 * g3 + f2 * g2 + f3_2 * g1 + f4 * g0 + f5_2 * g9_19 + f6 * g8_19 + f7_2 * g7_19 + f8 * g6_19 + f9_2 * g5_19;
  let h5 = f0 * g5 + f1 * g4 + f2 * g3 + f3 * g2 + f4 * g1 + f5 * g0 + f6 * g9_19 + f7 * g8_19 + f8 * g7_19 + f9 * g6_19;
  let h6 = f0 * g6 + f1_2 * g5 + f2 * g4 + f3_2 * g3 + f4 * g2 + f5_2 * g1 + f6 * g0 + f7_2 * g9_19 + f8 * g8_19 + f9_2 * g7_19;
  let h7 = f0 * g7 + f1 * g6 + f2 * g5 + f3 * g4 + f4 * g3 + f5 * g2 + f6 * g1 + f7 * g0 + f8 * g9_19 + f9 * g8_19;
  let h8 = f0 * g8 + f1_2 * g7 + f2 * g6 + f3_2 * g5 + f4 * g4 + f5_2 * g3 + f6 * g2 + f7_2 * g1 + f8 * g0 + f9_2 * g9_19;
  let h9 = f0 * g9 + f1 * g8 + f2 * g7 + f3 * g6 + f4 * g5 + f5 * g4 + f6 * g3 + f7 * g2 + f8 * g1 + f9 * g0;
  let c: i64;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h1 + (1 << 24)) >> 25; h2 += c; h1 -= c << 25;
  c = (h5 + (1 << 24)) >> 25; h6 += c; h5 -= c << 25;
  c = (h2 + (1 << 25)) >> 26; h3 += c; h2 -= c << 26;
  c = (h6 + (1 << 25)) >> 26; h7 += c; h6 -= c << 26;
  c = (h3 + (1 << 24)) >> 25; h4 += c; h3 -= c << 25;
  c = (h7 + (1 << 24)) >> 25; h8 += c; h7 -= c << 25;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h8 + (1 << 25)) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + (1 << 24)) >> 25; h0 += c * 19; h9 -= c << 25;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  storeLimbs(h, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

/** h = f^2 */
export function feSq(h: usize, f: usize): void {
  const f0 = <i64>load<i32>(f, 0);
  const f1 = <i64>load<i32>(f, 4);
  const f2 = <i64>load<i32>(f, 8);
  const f3 = <i64>load<i32>(f, 12);
  const f4 = <i64>load<i32>(f, 16);
  const f5 = <i64>load<i32>(f, 20);
  const f6 = <i64>load<i32>(f, 24);
  const f7 = <i64>load<i32>(f, 28);
  const f8 = <i64>load<i32>(f, 32);
  const f9 = <i64>load<i32>(f, 36);
  const f6_19 = f6 * 19;
  const f7_19 = f7 * 19;
  const f8_19 = f8 * 19;
  const f9_19 = f9 * 19;
  const f0_2 = f0 * 2;
  const f1_2 = f1 * 2;
  const f2_2 = f2 * 2;
  const f3_2 = f3 * 2;
  const f4_2 = f4 * 2;
  const f5_2 = f5 * 2;
  const f6_2 = f6 * 2;
  const f7_2 = f7 * 2;
  const f8_2 = f8 * 2;
  const f5_38 = f5 * 38;
  const f7_38 = f7 * 38;
  const f9_38 = f9 * 38;
  let h0 = f0 * f0 + f1_2 * f9_38 + f2_2 * f8_19 + f3_2 * f7_38 + f4_2 * f6_19 + f5 * f5_38;
  let h1 = f0_2 * f1 + f2_2 * f9_19 + f3_2 * f8_19 + f4_2 * f7_19 + f5_2 * f6_19;
  let h2 = f0_2 * f2 + f1_2 * f1 + f3_2 * f9_38 + f4_2 * f8_19 + f5_2 * f7_38 + f6 * f6_19;
  let h3 = f0_2 * f3 + f1_2 * f2 + f4_2 * f9_19 + f5_2 * f8_19 + f6_2 * f7_19;
  let h4 = f0_2 * f4 + f1_2 * f3_2 + f2 * f2 + f5_2 * f9_38 + f6_2 * f8_19 + f7 * f7_38;
  let h5 = f0_2 * f5 + f1_2 * f4 + f2_2 * f3 + f6_2 * f9_19 + f7_2 * f8_19;
  let h6 = f0_2 * f6 + f1_2 * f5_2 + f2_2 * f4 + f3_2 * f3 + f7_2 * f9_38 + f8 * f8_19;
  let h7 = f0_2 * f7 + f1_2 * f6 + f2_2 * f5 + f3_2 * f4 + f8_2 * f9_19;
  let h8 = f0_2 * f8 + f1_2 * f7_2 + f2_2 * f6 + f3_2 * f5_2 + f4 * f4 + f9 * f9_38;
  let h9 = f0_2 * f9 + f1_2 * f8 + f2_2 * f7 + f3_2 * f6 + f4_2 * f5;
  let c: i64;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h1 + (1 << 24)) >> 25; h2 += c; h1 -= c << 25;
  c = (h5 + (1 << 24)) >> 25; h6 += c; h5 -= c << 25;
  c = (h2 + (1 << 25)) >> 26; h3 += c; h2 -= c << 26;
  c = (h6 + (1 << 25)) >> 26; h7 += c; h6 -= c << 26;
  c = (h3 + (1 << 24)) >> 25; h4 += c; h3 -= c << 25;
  c = (h7 + (1 << 24)) >> 25; h8 += c; h7 -= c << 25;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h8 + (1 << 25)) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + (1 << 24)) >> 25; h0 += c * 19; h9 -= c << 25;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  storeLimbs(h, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

/** Carries h in place to the bounds of a product (the value is unchanged mod p). */
export function feCarry(h: usize): void {
  let h0 = <i64>load<i32>(h, 0);
  let h1 = <i64>load<i32>(h, 4);
  let h2 = <i64>load<i32>(h, 8);
  let h3 = <i64>load<i32>(h, 12);
  let h4 = <i64>load<i32>(h, 16);
  let h5 = <i64>load<i32>(h, 20);
  let h6 = <i64>load<i32>(h, 24);
  let h7 = <i64>load<i32>(h, 28);
  let h8 = <i64>load<i32>(h, 32);
  let h9 = <i64>load<i32>(h, 36);
  let c: i64;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h1 + (1 << 24)) >> 25; h2 += c; h1 -= c << 25;
  c = (h5 + (1 << 24)) >> 25; h6 += c; h5 -= c << 25;
  c = (h2 + (1 << 25)) >> 26; h3 += c; h2 -= c << 26;
  c = (h6 + (1 << 25)) >> 26; h7 += c; h6 -= c << 26;
  c = (h3 + (1 << 24)) >> 25; h4 += c; h3 -= c << 25;
  c = (h7 + (1 << 24)) >> 25; h8 += c; h7 -= c << 25;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h8 + (1 << 25)) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + (1 << 24)) >> 25; h0 += c * 19; h9 -= c << 25;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  storeLimbs(h, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

/** h = f^(2^n) (n >= 1) */
export function feSqN(h: usize, f: usize, n: i32): void {
  feSq(h, f);
  for (let i = 1; i < n; i++) feSq(h, h);
}

/** Writes the canonical 32-byte little-endian encoding of f (value mod p, bit 255 clear). */
export function feToBytes(s: usize, f: usize): void {
  let h0 = <i64>load<i32>(f, 0);
  let h1 = <i64>load<i32>(f, 4);
  let h2 = <i64>load<i32>(f, 8);
  let h3 = <i64>load<i32>(f, 12);
  let h4 = <i64>load<i32>(f, 16);
  let h5 = <i64>load<i32>(f, 20);
  let h6 = <i64>load<i32>(f, 24);
  let h7 = <i64>load<i32>(f, 28);
  let h8 = <i64>load<i32>(f, 32);
  let h9 = <i64>load<i32>(f, 36);
  // Bring every limb into range first, so the quotient below is exact for any input.
  let c: i64;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  c = (h1 + (1 << 24)) >> 25; h2 += c; h1 -= c << 25;
  c = (h2 + (1 << 25)) >> 26; h3 += c; h2 -= c << 26;
  c = (h3 + (1 << 24)) >> 25; h4 += c; h3 -= c << 25;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h5 + (1 << 24)) >> 25; h6 += c; h5 -= c << 25;
  c = (h6 + (1 << 25)) >> 26; h7 += c; h6 -= c << 26;
  c = (h7 + (1 << 24)) >> 25; h8 += c; h7 -= c << 25;
  c = (h8 + (1 << 25)) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + (1 << 24)) >> 25; h0 += c * 19; h9 -= c << 25;
  // q = floor(h / p) in {0, 1} (ref10 fe_tobytes); then h - q*p by a floor carry chain.
  let q: i64 = (19 * h9 + (1 << 24)) >> 25;
  q = (h0 + q) >> 26;
  q = (h1 + q) >> 25;
  q = (h2 + q) >> 26;
  q = (h3 + q) >> 25;
  q = (h4 + q) >> 26;
  q = (h5 + q) >> 25;
  q = (h6 + q) >> 26;
  q = (h7 + q) >> 25;
  q = (h8 + q) >> 26;
  q = (h9 + q) >> 25;
  h0 += 19 * q;
  c = h0 >> 26; h1 += c; h0 -= c << 26;
  c = h1 >> 25; h2 += c; h1 -= c << 25;
  c = h2 >> 26; h3 += c; h2 -= c << 26;
  c = h3 >> 25; h4 += c; h3 -= c << 25;
  c = h4 >> 26; h5 += c; h4 -= c << 26;
  c = h5 >> 25; h6 += c; h5 -= c << 25;
  c = h6 >> 26; h7 += c; h6 -= c << 26;
  c = h7 >> 25; h8 += c; h7 -= c << 25;
  c = h8 >> 26; h9 += c; h8 -= c << 26;
  h9 &= (1 << 25) - 1; // drops 2^255 * q
  // Limbs start at bits 0, 26, 51, 77, 102 | 128, 153, 179, 204, 230.
  store<u64>(s, <u64>(h0 | (h1 << 26) | (h2 << 51)), 0);
  store<u64>(s, <u64>((h2 >> 13) | (h3 << 13) | (h4 << 38)), 8);
  store<u64>(s, <u64>(h5 | (h6 << 25) | (h7 << 51)), 16);
  store<u64>(s, <u64>((h7 >> 13) | (h8 << 12) | (h9 << 38)), 24);
}

/** Reads 32 little-endian bytes, ignoring bit 255 (RFC 8032 §5.1.3: the x sign bit). The value
 *  is taken as is, not reduced: y in [p, 2^255) means y - p, as in ref10 and OpenSSL. */
export function feFromBytes(h: usize, s: usize): void {
  const w0 = load<u64>(s, 0);
  const w1 = load<u64>(s, 8);
  const w2 = load<u64>(s, 16);
  const w3 = load<u64>(s, 24);
  const m26: u64 = (1 << 26) - 1;
  const m25: u64 = (1 << 25) - 1;
  store<i32>(h, <i32>(w0 & m26), 0);
  store<i32>(h, <i32>((w0 >> 26) & m25), 4);
  store<i32>(h, <i32>(((w0 >> 51) | (w1 << 13)) & m26), 8);
  store<i32>(h, <i32>((w1 >> 13) & m25), 12);
  store<i32>(h, <i32>((w1 >> 38) & m26), 16);
  store<i32>(h, <i32>(w2 & m25), 20);
  store<i32>(h, <i32>((w2 >> 25) & m26), 24);
  store<i32>(h, <i32>(((w2 >> 51) | (w3 << 13)) & m25), 28);
  store<i32>(h, <i32>((w3 >> 12) & m26), 32);
  store<i32>(h, <i32>((w3 >> 38) & m25), 36);
}

// Scratch of the byte-level tests below.
const BYTES: usize = memory.data(32, 8);

/** 1 if f mod p is odd ("negative", RFC 8032 §5.1.2), else 0. */
export function feIsNegative(f: usize): i32 {
  feToBytes(BYTES, f);
  return load<u8>(BYTES) & 1;
}

/** 1 if f mod p != 0, else 0 (constant time). */
export function feIsNonZero(f: usize): i32 {
  feToBytes(BYTES, f);
  const x = load<u64>(BYTES, 0) | load<u64>(BYTES, 8) | load<u64>(BYTES, 16) | load<u64>(BYTES, 24);
  return <i32>((x | (0 - x)) >> 63);
}

// z^(2^250 - 1) into T1 and z^11 into T0 (the common head of the ref10 addition chains).
function pow2250m1(z: usize): void {
  feSq(T0, z);          // z^2
  feSqN(T1, T0, 2);     // z^8
  feMul(T1, z, T1);     // z^9
  feMul(T0, T0, T1);    // z^11
  feSq(T2, T0);         // z^22
  feMul(T1, T1, T2);    // z^(2^5 - 1)
  feSqN(T2, T1, 5);
  feMul(T1, T2, T1);    // z^(2^10 - 1)
  feSqN(T2, T1, 10);
  feMul(T2, T2, T1);    // z^(2^20 - 1)
  feSqN(T3, T2, 20);
  feMul(T2, T3, T2);    // z^(2^40 - 1)
  feSqN(T2, T2, 10);
  feMul(T1, T2, T1);    // z^(2^50 - 1)
  feSqN(T2, T1, 50);
  feMul(T2, T2, T1);    // z^(2^100 - 1)
  feSqN(T3, T2, 100);
  feMul(T2, T3, T2);    // z^(2^200 - 1)
  feSqN(T2, T2, 50);
  feMul(T1, T2, T1);    // z^(2^250 - 1)
}

/** h = 1/z = z^(p - 2) (Fermat; 0 maps to 0). Constant time. */
export function feInvert(h: usize, z: usize): void {
  pow2250m1(z);
  feSqN(T1, T1, 5);     // z^(2^255 - 32)
  feMul(h, T1, T0);     // z^(2^255 - 21) = z^(p - 2)
  memory.fill(T0, 0, 160);
}

/** h = z^((p - 5) / 8) = z^(2^252 - 3), the square-root helper of RFC 8032 §5.1.3. */
export function fePow22523(h: usize, z: usize): void {
  pow2250m1(z);
  feSqN(T1, T1, 2);     // z^(2^252 - 4)
  feMul(h, T1, z);      // z^(2^252 - 3)
  memory.fill(T0, 0, 160);
}
