// Arithmetic modulo L = 2^252 + 27742317777372353535851937790883648493, the order of the
// Ed25519 base point (RFC 8032 §5.1). Scalars are 32-byte little-endian strings; the work is
// done in signed 21-bit limbs held as i64 (after ref10's sc_reduce / sc_muladd, rolled into
// loops). Constant time: every loop bound and memory index is public, carries are arithmetic
// shifts and the final subtraction of L is a masked select.

// Limb scratch: S = 24 limbs (the 512-bit work value), A and B = 12 limbs each. Wiped after use.
const S: usize = memory.data(24 * 8 + 24 * 8, 8);
const A: usize = S + 24 * 8;
const B: usize = A + 12 * 8;

// L in 21-bit limbs (limbs 6..11 are 0; 2^252 is limb 12 = 1, i.e. 2^21 in limb 11).
const L21: usize = memory.data<i64>([1430509, 1626855, 1442968, 997804, 1960495, 683900]);
// 2^252 = -(L - 2^252) mod L, as signed 21-bit digits: folding limb i >= 12 adds
// s[i] * FOLD[j] to limb i - 12 + j (ref10's 666643, 470296, ... constants).
const FOLD: usize = memory.data<i64>([666643, 470296, 654183, -997805, 136657, -683901]);
// L little-endian, for the public canonicity test.
const L_BYTES: usize = memory.data<u8>([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10
]);

// @ts-ignore: decorator
@inline function limb(p: usize, i: i32): i64 {
  return load<i64>(p + (<usize>i << 3));
}
// @ts-ignore: decorator
@inline function setLimb(p: usize, i: i32, v: i64): void {
  store<i64>(p + (<usize>i << 3), v);
}

/** Splits `nbytes` little-endian bytes into `n` 21-bit limbs; the last limb takes the rest. */
function unpack(dst: usize, src: usize, nbytes: i32, n: i32): void {
  for (let i = 0; i < n - 1; i++) {
    const bit = 21 * i; // 4-byte loads stay inside the input: (21 * i >> 3) + 4 <= nbytes
    setLimb(dst, i, <i64>((load<u32>(src + <usize>(bit >> 3)) >> <u32>(bit & 7)) & 0x1fffff));
  }
  const top = 21 * (n - 1) - 8 * (nbytes - 8);
  setLimb(dst, n - 1, <i64>(load<u64>(src + <usize>(nbytes - 8)) >> <u64>top));
}

/** Rounded carries from limb lo up to limb hi - 1 into hi: limbs lo..hi-1 end in [-2^20, 2^20). */
function carry(lo: i32, hi: i32): void {
  for (let i = lo; i < hi; i++) {
    const s = limb(S, i);
    const c = (s + (1 << 20)) >> 21;
    setLimb(S, i + 1, limb(S, i + 1) + c);
    setLimb(S, i, s - (c << 21));
  }
}

/** Folds limb i >= 12 into limbs i-12 .. i-7 (2^252 = FOLD mod L) and clears it. */
function fold(i: i32): void {
  const s = limb(S, i);
  for (let j = 0; j < 6; j++) setLimb(S, i - 12 + j, limb(S, i - 12 + j) + s * load<i64>(FOLD + (<usize>j << 3)));
  setLimb(S, i, 0);
}

/** Reduces the 24-limb value in S modulo L and writes it, canonical, to out32; wipes S. */
function reduce(out: usize): void {
  carry(0, 23);
  for (let i = 23; i >= 12; i--) {
    fold(i);
    carry(i - 12, i - 1);
  }
  // |value| < 2^252 + 2^231 now; two more folds of the overflow bring it into (-L, L).
  carry(11, 12);
  fold(12);
  carry(0, 11);
  carry(11, 12);
  fold(12);
  carry(0, 11);
  // value + L is in (0, 2L): normalise with floor carries, then subtract L unless that borrows.
  for (let i = 0; i < 6; i++) setLimb(S, i, limb(S, i) + load<i64>(L21 + (<usize>i << 3)));
  setLimb(S, 11, limb(S, 11) + (1 << 21));
  for (let i = 0; i < 11; i++) {
    const s = limb(S, i);
    const c = s >> 21;
    setLimb(S, i + 1, limb(S, i + 1) + c);
    setLimb(S, i, s - (c << 21));
  }
  // T = value - L into limbs 12..23 (free now), with floor borrows; its top limb is signed.
  let t: i64 = 0;
  for (let i = 0; i < 12; i++) {
    t = limb(S, i) - (i < 6 ? load<i64>(L21 + (<usize>i << 3)) : 0) + (t >> 21);
    if (i == 11) t -= 1 << 21;
    setLimb(S, 12 + i, i == 11 ? t : t & 0x1fffff);
  }
  const keep = t >> 63; // all ones if value < L (T < 0): keep S, else take T
  // Pack the 12 limbs (the last one up to 22 bits) into 32 little-endian bytes.
  let acc: u64 = 0;
  let bits: u64 = 0;
  let o: usize = 0;
  for (let i = 0; i < 12; i++) {
    const s = limb(S, i);
    const x = limb(S, 12 + i);
    acc |= <u64>(x ^ ((x ^ s) & keep)) << bits;
    bits += 21;
    if (bits >= 32) {
      store<u32>(out + o, <u32>acc);
      o += 4;
      acc >>= 32;
      bits -= 32;
    }
  }
  store<u32>(out + o, <u32>acc); // o == 28: the last 29 bits
  memory.fill(S, 0, 24 * 8 + 24 * 8);
}

/** out32 = in64 mod L, for a 64-byte little-endian integer (RFC 8032 §5.1.6/§5.1.7). out may
 *  overlap in. */
export function scReduce(out32: usize, in64: usize): void {
  unpack(S, in64, 64, 24);
  reduce(out32);
}

/** out32 = (a * b + c) mod L for 32-byte a, b, c, each < 2^256 (RFC 8032 §5.1.6 step 6). */
export function scMulAdd(out32: usize, a: usize, b: usize, c: usize): void {
  unpack(A, a, 32, 12);
  unpack(B, b, 32, 12);
  unpack(S, c, 32, 12);
  memory.fill(S + 12 * 8, 0, 12 * 8);
  for (let i = 0; i < 12; i++) {
    const ai = limb(A, i);
    for (let j = 0; j < 12; j++) setLimb(S, i + j, limb(S, i + j) + ai * limb(B, j));
  }
  reduce(out32);
}

/** True if the 32-byte little-endian s is < L (RFC 8032 §5.1.7 step 1). Variable time: for
 *  public values only (signatures). */
export function scIsCanonical(s: usize): bool {
  for (let i = 31; i >= 0; i--) {
    const x = load<u8>(s + <usize>i);
    const l = load<u8>(L_BYTES + <usize>i);
    if (x != l) return x < l;
  }
  return false;
}
