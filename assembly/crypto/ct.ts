// Constant-time helpers shared by the Trusted App's cryptography (contract C1).
// Nothing here branches on or indexes memory by the bytes it is given.

/** Zeroes `len` bytes at `ptr` (secrets in scratch memory). Wasm stores are never elided. */
export function wipe(ptr: usize, len: i32): void {
  if (len > 0) memory.fill(ptr, 0, <usize>len);
}

/**
 * Compares `len` bytes in constant time (XOR-accumulate, as Monocypher's crypto_verify32):
 * the time depends on `len` only, never on where the buffers differ.
 */
export function ctEqual(a: usize, b: usize, len: i32): bool {
  let acc: u32 = 0;
  for (let i = 0; i < len; i++) {
    acc |= <u32>load<u8>(a + <usize>i) ^ <u32>load<u8>(b + <usize>i);
  }
  // (acc - 1) >> 31 is 1 exactly when acc == 0 (acc <= 0xff).
  return ((acc - 1) >> 31) != 0;
}
