// A minimal strict CBOR reader (RFC 8949) for the few fixed shapes the TA accepts (signed
// commands, PROTOCOL.md §5). It reads in place from linear memory through one static cursor;
// nothing is allocated and nothing is returned by reference. It accepts only:
//   - definite lengths (additional information 31 is refused, RFC 8949 §3.2.1-§3.2.3);
//   - shortest-form heads (RFC 8949 §4.2.1: 24 only for 24..255, 25 for 256..65535, ...);
//   - text strings that are valid UTF-8 (RFC 8949 §3.1 major type 3, §5.3.1; RFC 3629 §4);
// and never reads a byte at or past the end it was given, whatever the input: a malformed item
// sets a sticky failure flag and every later read returns 0 without touching memory. Callers
// read a whole structure, then ask cborReadFailed() / cborReadDone() once.
import { MT_TAG } from "./encode";

let pos: usize = 0;
let end: usize = 0;
let failed = false;
let strLen: i32 = 0;

/** Starts reading the `len` bytes at `p` (a negative length reads nothing and fails). */
export function cborReadInit(p: usize, len: i32): void {
  pos = p;
  end = len > 0 ? p + <usize>len : p;
  failed = len < 0;
  strLen = 0;
}

/** True once any read failed (malformed, wrong type, truncated); sticky until cborReadInit. */
export function cborReadFailed(): bool {
  return failed;
}

/** True when nothing failed and every byte was consumed (no trailing bytes). */
export function cborReadDone(): bool {
  return !failed && pos == end;
}

/** The major type (0..7) of the next item, or -1 at the end or after a failure. */
export function cborPeekMajor(): i32 {
  return failed || pos >= end ? -1 : <i32>(load<u8>(pos) >> 5);
}

function fail(): u64 {
  failed = true;
  return 0;
}

/**
 * Reads the head of the next item, which must have major type `major`, and returns its
 * argument (the value of an unsigned integer, the length of a string, the count of an array or
 * map, the tag number). Fails (returns 0) on another major type, a reserved (28..30) or
 * indefinite (31) additional information, a non-shortest form or a head cut by the end.
 */
export function cborReadHead(major: u32): u64 {
  if (failed || pos >= end) return fail();
  const ib = <u32>load<u8>(pos);
  if (ib >> 5 != major) return fail();
  const ai = ib & 31;
  if (ai < 24) {
    pos++;
    return <u64>ai;
  }
  if (ai > 27) return fail();
  const n = <usize>1 << <usize>(ai - 24); // 1, 2, 4 or 8 argument bytes, big-endian
  if (end - pos <= n) return fail(); // the head needs 1 + n bytes
  let v: u64 = 0;
  for (let i: usize = 1; i <= n; i++) v = (v << 8) | <u64>load<u8>(pos + i);
  // shortest form: the value must not fit the next smaller head (< 24, < 2^8, < 2^16, < 2^32)
  if (v < (n == 1 ? <u64>24 : <u64>1 << <u64>(n << 2))) return fail();
  pos += n + 1;
  return v;
}

/** Reads an unsigned integer (major type 0). */
export function cborReadUint(): u64 {
  return cborReadHead(0);
}

/**
 * Reads a byte string (major type 2) or a text string (major type 3, which must be valid UTF-8)
 * and returns the address of its content; its length is then cborReadLen(). Fails when the
 * content would run past the end.
 */
export function cborReadString(major: u32): usize {
  const n = cborReadHead(major);
  const p = pos;
  strLen = 0;
  if (failed || n > <u64>(end - p)) {
    fail();
    return p;
  }
  if (major == 3 && !utf8Valid(p, <i32>n)) {
    fail();
    return p;
  }
  strLen = <i32>n;
  pos = p + <usize>n;
  return p;
}

/** Reads a byte string of exactly `len` bytes and returns its address; any other length fails. */
export function cborReadBstrOf(len: i32): usize {
  const p = cborReadString(2);
  if (strLen != len) fail();
  return p;
}

/** Length of the string the last cborReadString returned (0 after a failure). */
export function cborReadLen(): i32 {
  return strLen;
}

/** Skips a tag head with number `tag` if the next item is tagged; any other tag fails. */
export function cborSkipTag(tag: u64): void {
  if (cborPeekMajor() == <i32>MT_TAG && cborReadHead(MT_TAG) != tag) fail();
}

/**
 * RFC 3629 §4: true when the `len` bytes at `p` are well-formed UTF-8 - no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence.
 */
export function utf8Valid(p: usize, len: i32): bool {
  let i = 0;
  while (i < len) {
    const b = <u32>load<u8>(p + <usize>i);
    if (b < 0x80) {
      i++;
      continue;
    }
    let n = 3;
    let lo: u32 = 0x80;
    let hi: u32 = 0xbf;
    if (b < 0xc2) return false; // continuation byte or overlong 2-byte lead (C0, C1)
    if (b < 0xe0) n = 1;
    else if (b < 0xf0) {
      n = 2;
      if (b == 0xe0) lo = 0xa0; // overlong 3-byte form
      if (b == 0xed) hi = 0x9f; // surrogates
    } else if (b < 0xf5) {
      if (b == 0xf0) lo = 0x90; // overlong 4-byte form
      if (b == 0xf4) hi = 0x8f; // above U+10FFFF
    } else return false;
    if (len - i <= n) return false;
    for (let k = 1; k <= n; k++) {
      const c = <u32>load<u8>(p + <usize>(i + k));
      if (c < lo || c > hi) return false;
      lo = 0x80;
      hi = 0xbf;
    }
    i += n + 1;
  }
  return true;
}
