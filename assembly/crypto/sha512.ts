// SHA-512 (FIPS 180-4 §6.4), streaming, over raw addresses in linear memory (contract C1).
// The work is the same for every input of a given length: no data-dependent branch or index.
import { wipe } from "./ct";

/** Bytes of a caller-provided context: state H (64) || block buffer (128) || byte count (8). */
export const SHA512_CTX_SIZE: i32 = 200;
const BUF: usize = 64;
const COUNT: usize = 192;

// FIPS 180-4 §4.2.3: the 80 round constants.
const K: usize = memory.data<u64>([
  0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
  0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
  0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
  0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
  0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
  0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
  0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
  0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
  0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
  0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
  0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
  0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
  0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
  0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
  0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
  0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
  0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
  0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
  0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
  0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
]);

// FIPS 180-4 §5.3.5: the initial hash value.
const IV: usize = memory.data<u64>([
  0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
  0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
]);

// Message schedule W[0..79] (§6.4.2 step 1). It holds message words, so it is wiped in
// sha512Final (messages may be secret: seeds, HMAC keys).
const W: usize = memory.data(640, 8);

// Scratch context of the one-shot sha512().
const ONE_SHOT: usize = memory.data(SHA512_CTX_SIZE, 8);

/** Compresses one 128-byte block at `block` into the state at `ctx` (FIPS 180-4 §6.4.2). */
function compress(ctx: usize, block: usize): void {
  for (let t: usize = 0; t < 128; t += 8) {
    store<u64>(W + t, bswap<u64>(load<u64>(block + t)));
  }
  for (let t: usize = 128; t < 640; t += 8) {
    const w15 = load<u64>(W + t - 120);
    const w2 = load<u64>(W + t - 16);
    const s0 = rotr<u64>(w15, 1) ^ rotr<u64>(w15, 8) ^ (w15 >> 7);
    const s1 = rotr<u64>(w2, 19) ^ rotr<u64>(w2, 61) ^ (w2 >> 6);
    store<u64>(W + t, load<u64>(W + t - 128) + s0 + load<u64>(W + t - 56) + s1);
  }
  let a = load<u64>(ctx, 0);
  let b = load<u64>(ctx, 8);
  let c = load<u64>(ctx, 16);
  let d = load<u64>(ctx, 24);
  let e = load<u64>(ctx, 32);
  let f = load<u64>(ctx, 40);
  let g = load<u64>(ctx, 48);
  let h = load<u64>(ctx, 56);
  // Eight rounds per iteration with the working variables renamed instead of moved.
  for (let t: usize = 0; t < 640; t += 64) {
    h += (rotr<u64>(e, 14) ^ rotr<u64>(e, 18) ^ rotr<u64>(e, 41)) + (g ^ (e & (f ^ g))) +
      load<u64>(K + t, 0) + load<u64>(W + t, 0);
    d += h;
    h += (rotr<u64>(a, 28) ^ rotr<u64>(a, 34) ^ rotr<u64>(a, 39)) + ((a & b) ^ (c & (a ^ b)));
    g += (rotr<u64>(d, 14) ^ rotr<u64>(d, 18) ^ rotr<u64>(d, 41)) + (f ^ (d & (e ^ f))) +
      load<u64>(K + t, 8) + load<u64>(W + t, 8);
    c += g;
    g += (rotr<u64>(h, 28) ^ rotr<u64>(h, 34) ^ rotr<u64>(h, 39)) + ((h & a) ^ (b & (h ^ a)));
    f += (rotr<u64>(c, 14) ^ rotr<u64>(c, 18) ^ rotr<u64>(c, 41)) + (e ^ (c & (d ^ e))) +
      load<u64>(K + t, 16) + load<u64>(W + t, 16);
    b += f;
    f += (rotr<u64>(g, 28) ^ rotr<u64>(g, 34) ^ rotr<u64>(g, 39)) + ((g & h) ^ (a & (g ^ h)));
    e += (rotr<u64>(b, 14) ^ rotr<u64>(b, 18) ^ rotr<u64>(b, 41)) + (d ^ (b & (c ^ d))) +
      load<u64>(K + t, 24) + load<u64>(W + t, 24);
    a += e;
    e += (rotr<u64>(f, 28) ^ rotr<u64>(f, 34) ^ rotr<u64>(f, 39)) + ((f & g) ^ (h & (f ^ g)));
    d += (rotr<u64>(a, 14) ^ rotr<u64>(a, 18) ^ rotr<u64>(a, 41)) + (c ^ (a & (b ^ c))) +
      load<u64>(K + t, 32) + load<u64>(W + t, 32);
    h += d;
    d += (rotr<u64>(e, 28) ^ rotr<u64>(e, 34) ^ rotr<u64>(e, 39)) + ((e & f) ^ (g & (e ^ f)));
    c += (rotr<u64>(h, 14) ^ rotr<u64>(h, 18) ^ rotr<u64>(h, 41)) + (b ^ (h & (a ^ b))) +
      load<u64>(K + t, 40) + load<u64>(W + t, 40);
    g += c;
    c += (rotr<u64>(d, 28) ^ rotr<u64>(d, 34) ^ rotr<u64>(d, 39)) + ((d & e) ^ (f & (d ^ e)));
    b += (rotr<u64>(g, 14) ^ rotr<u64>(g, 18) ^ rotr<u64>(g, 41)) + (a ^ (g & (h ^ a))) +
      load<u64>(K + t, 48) + load<u64>(W + t, 48);
    f += b;
    b += (rotr<u64>(c, 28) ^ rotr<u64>(c, 34) ^ rotr<u64>(c, 39)) + ((c & d) ^ (e & (c ^ d)));
    a += (rotr<u64>(f, 14) ^ rotr<u64>(f, 18) ^ rotr<u64>(f, 41)) + (h ^ (f & (g ^ h))) +
      load<u64>(K + t, 56) + load<u64>(W + t, 56);
    e += a;
    a += (rotr<u64>(b, 28) ^ rotr<u64>(b, 34) ^ rotr<u64>(b, 39)) + ((b & c) ^ (d & (b ^ c)));
  }
  store<u64>(ctx, load<u64>(ctx, 0) + a, 0);
  store<u64>(ctx, load<u64>(ctx, 8) + b, 8);
  store<u64>(ctx, load<u64>(ctx, 16) + c, 16);
  store<u64>(ctx, load<u64>(ctx, 24) + d, 24);
  store<u64>(ctx, load<u64>(ctx, 32) + e, 32);
  store<u64>(ctx, load<u64>(ctx, 40) + f, 40);
  store<u64>(ctx, load<u64>(ctx, 48) + g, 48);
  store<u64>(ctx, load<u64>(ctx, 56) + h, 56);
}

/** Starts a hash in the SHA512_CTX_SIZE bytes at `ctx`. */
export function sha512Init(ctx: usize): void {
  memory.copy(ctx, IV, 64);
  store<u64>(ctx, 0, COUNT);
}

/** Absorbs `len` bytes at `data` (len <= 0 absorbs nothing). */
export function sha512Update(ctx: usize, data: usize, len: i32): void {
  if (len <= 0) return;
  const count = load<u64>(ctx, COUNT);
  store<u64>(ctx, count + <u64>len, COUNT);
  let fill = <i32>(count & 127);
  let n = len;
  if (fill != 0) {
    const take = min(128 - fill, n);
    memory.copy(ctx + BUF + <usize>fill, data, <usize>take);
    data += <usize>take;
    n -= take;
    if (fill + take < 128) return;
    compress(ctx, ctx + BUF);
  }
  while (n >= 128) {
    compress(ctx, data);
    data += 128;
    n -= 128;
  }
  if (n > 0) memory.copy(ctx + BUF, data, <usize>n);
}

/** Pads (FIPS 180-4 §5.1.2), writes the 64-byte digest to `out64` and wipes the context. */
export function sha512Final(ctx: usize, out64: usize): void {
  const count = load<u64>(ctx, COUNT);
  const fill = <usize>(count & 127);
  const buf = ctx + BUF;
  store<u8>(buf + fill, 0x80);
  memory.fill(buf + fill + 1, 0, 127 - fill);
  if (fill >= 112) {
    compress(ctx, buf);
    memory.fill(buf, 0, 112);
  }
  // The message length in bits, as a 128-bit big-endian integer.
  store<u64>(buf, bswap<u64>(count >> 61), 112);
  store<u64>(buf, bswap<u64>(count << 3), 120);
  compress(ctx, buf);
  for (let i: usize = 0; i < 64; i += 8) {
    store<u64>(out64 + i, bswap<u64>(load<u64>(ctx + i)));
  }
  wipe(ctx, SHA512_CTX_SIZE);
  wipe(W, 640);
}

/** One-shot SHA-512 of `len` bytes at `data` into `out64` (out64 may overlap data). */
export function sha512(data: usize, len: i32, out64: usize): void {
  sha512Init(ONE_SHOT);
  sha512Update(ONE_SHOT, data, len);
  sha512Final(ONE_SHOT, out64);
}
