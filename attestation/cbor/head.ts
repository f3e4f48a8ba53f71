// The initial byte plus argument of a CBOR data item, in its shortest form
// (RFC 8949 §3 and §4.2.1: arguments 0..23 in the initial byte, then 1, 2, 4 or 8 bytes).
// Used to frame received byte strings into a Sig_structure without re-encoding them.

export function encodeHead(major: number, n: number): Uint8Array {
  const mt = major << 5;
  if (n < 24) return Uint8Array.of(mt | n);
  if (n < 0x100) return Uint8Array.of(mt | 24, n);
  if (n < 0x10000) return Uint8Array.of(mt | 25, n >>> 8, n & 0xff);
  if (n < 0x100000000) return Uint8Array.of(mt | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const out = new Uint8Array(9);
  out[0] = mt | 27;
  new DataView(out.buffer).setBigUint64(1, BigInt(n));
  return out;
}
