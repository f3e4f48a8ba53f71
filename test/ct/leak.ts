// @ts-nocheck -- AssemblyScript, not TypeScript: a test-only extra entry for the constant-time
// check's NEGATIVE CONTROL, compiled with the real TA by test/ta-constant-time.test.ts:
//   asc assembly/index.ts test/ct/leak.ts -o build/c/ctleak/ta.ctleak.wasm
// Each export deliberately handles a secret the way the TA must never do; valgrind memcheck,
// with the secret bytes marked undefined, must report errors for both. Never shipped.

/** Scratch the results go to, so the optimizer keeps the leaky code and nothing is returned. */
const SINK: usize = memory.data(16, 16);
/** A 256-entry table for the secret-indexed load. */
const TABLE: usize = memory.data(256, 16);

/**
 * Secret-dependent BRANCH: scans the secret at `ptr` for its first zero byte (an early-exit
 * loop, like a naive memcmp or strlen). Its trip count depends on the secret.
 */
export function ct_leak_branch(ptr: i32, len: i32): i32 {
  let i = 0;
  while (i < len && load<u8>(<usize>(ptr + i)) != 0) i++;
  store<i32>(SINK, i);
  return 0;
}

/** Secret-dependent MEMORY INDEX: a table lookup indexed by the first secret byte (like an S-box). */
export function ct_leak_index(ptr: i32, len: i32): i32 {
  let acc: u32 = 0;
  for (let i = 0; i < len; i++) acc += load<u8>(TABLE + <usize>load<u8>(<usize>(ptr + i)));
  store<u32>(SINK + 4, acc);
  return 0;
}
