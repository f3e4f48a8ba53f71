// A minimal deterministic CBOR writer (RFC 8949 §4.2.1 "Core Deterministic Encoding"):
// shortest-form heads, definite lengths only. It writes into linear memory at a caller-given
// address and returns the address just past what it wrote; nothing is allocated. The caller
// reserves room (every item the TA emits has a bounded size) and orders map keys itself.

/** Major types (RFC 8949 §3.1). */
export const MT_UINT: u32 = 0;
export const MT_NINT: u32 = 1;
export const MT_BSTR: u32 = 2;
export const MT_TSTR: u32 = 3;
export const MT_ARRAY: u32 = 4;
export const MT_MAP: u32 = 5;
export const MT_TAG: u32 = 6;

/** Bytes the head of an item with argument `v` takes in shortest form (RFC 8949 §4.2.1). */
export function cborHeadSize(v: u64): i32 {
  if (v < 24) return 1;
  if (v <= 0xff) return 2;
  if (v <= 0xffff) return 3;
  if (v <= 0xffffffff) return 5;
  return 9;
}

/**
 * Writes the head of a data item: major type `major` (0..7) with argument `v`, shortest form
 * (RFC 8949 §3: additional info 0..23 inline, 24/25/26/27 for 1/2/4/8 following bytes, big-endian).
 */
export function cborHead(p: usize, major: u32, v: u64): usize {
  const mt = <u8>(major << 5);
  const n = cborHeadSize(v);
  if (n == 1) {
    store<u8>(p, mt | <u8>v);
    return p + 1;
  }
  // additional info 24 + log2(n - 1): 2 -> 24, 3 -> 25, 5 -> 26, 9 -> 27
  store<u8>(p, mt | <u8>(n == 2 ? 24 : n == 3 ? 25 : n == 5 ? 26 : 27));
  for (let i = 1; i < n; i++) {
    store<u8>(p + <usize>i, <u8>(v >> (<u64>(n - 1 - i) << 3)));
  }
  return p + <usize>n;
}

/** An unsigned integer (major type 0). */
export function cborUint(p: usize, v: u64): usize {
  return cborHead(p, MT_UINT, v);
}

/** Any integer: major type 0 for v >= 0, major type 1 with argument -1 - v otherwise (§3.1). */
export function cborInt(p: usize, v: i64): usize {
  return v >= 0 ? cborHead(p, MT_UINT, <u64>v) : cborHead(p, MT_NINT, <u64>(-1 - v));
}

/** A byte string (major type 2): head, then `len` bytes copied from `src`. */
export function cborBytes(p: usize, src: usize, len: i32): usize {
  p = cborHead(p, MT_BSTR, <u64>len);
  memory.copy(p, src, <usize>len);
  return p + <usize>len;
}

/** A text string (major type 3) from `len` bytes of UTF-8 at `src` (not validated here). */
export function cborText(p: usize, src: usize, len: i32): usize {
  p = cborHead(p, MT_TSTR, <u64>len);
  memory.copy(p, src, <usize>len);
  return p + <usize>len;
}

/** The head of an array of `n` items (major type 4); the items follow. */
export function cborArray(p: usize, n: i32): usize {
  return cborHead(p, MT_ARRAY, <u64>n);
}

/** The head of a map of `n` pairs (major type 5); keys sorted by their encodings follow. */
export function cborMap(p: usize, n: i32): usize {
  return cborHead(p, MT_MAP, <u64>n);
}

/** A tag head (major type 6); the tagged item follows. */
export function cborTag(p: usize, tag: u64): usize {
  return cborHead(p, MT_TAG, tag);
}
