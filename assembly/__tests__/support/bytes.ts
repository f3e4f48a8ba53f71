// Byte helpers shared by the as-pect specs (test-only: they allocate strings).

/** Lowercase hex of the `n` bytes at `p`. */
export function hexAt(p: usize, n: i32): string {
  const digits = "0123456789abcdef";
  let s = "";
  for (let i = 0; i < n; i++) {
    const b = <i32>load<u8>(p + <usize>i);
    s += digits.charAt(b >> 4) + digits.charAt(b & 15);
  }
  return s;
}

/** Writes the bytes given as hex `h` at `p`; returns their length. */
export function put(p: usize, h: string): i32 {
  const n = h.length >> 1;
  for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>I32.parseInt(h.substr(i * 2, 2), 16));
  return n;
}

/** Writes the ASCII string `s` at `p`; returns its length. */
export function ascii(p: usize, s: string): i32 {
  for (let i = 0; i < s.length; i++) store<u8>(p + <usize>i, <u8>s.charCodeAt(i));
  return s.length;
}
