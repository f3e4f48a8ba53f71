// HMAC-SHA-512 (RFC 2104; FIPS 198-1), over raw addresses in linear memory (contract C1).
// Key-dependent work is constant time: the key only ever meets XOR and SHA-512.
import { wipe } from "./ct";
import { SHA512_CTX_SIZE, sha512, sha512Final, sha512Init, sha512Update } from "./sha512";

const BLOCK: i32 = 128;
/** Bytes of an HMAC context: the inner SHA-512 context || the key XOR opad (128). */
export const HMAC_CTX_SIZE: i32 = SHA512_CTX_SIZE + BLOCK;

// The one-shot hmacSha512's own context.
const ONE_SHOT: usize = memory.data(HMAC_CTX_SIZE, 8);

/** Starts HMAC with a key of any length (RFC 2104 §2: keys over 128 bytes are hashed first). */
export function hmacInit(ctx: usize, key: usize, keyLen: i32): void {
  const pad = ctx + <usize>SHA512_CTX_SIZE;
  memory.fill(pad, 0, <usize>BLOCK);
  if (keyLen > BLOCK) sha512(key, keyLen, pad);
  else if (keyLen > 0) memory.copy(pad, key, <usize>keyLen);
  for (let i: usize = 0; i < <usize>BLOCK; i += 8) {
    store<u64>(pad + i, load<u64>(pad + i) ^ 0x3636363636363636); // K0 XOR ipad
  }
  sha512Init(ctx);
  sha512Update(ctx, pad, BLOCK);
  for (let i: usize = 0; i < <usize>BLOCK; i += 8) {
    store<u64>(pad + i, load<u64>(pad + i) ^ 0x6a6a6a6a6a6a6a6a); // ipad -> opad (0x36 ^ 0x5c)
  }
}

/** Absorbs `len` bytes of the message. */
export function hmacUpdate(ctx: usize, data: usize, len: i32): void {
  sha512Update(ctx, data, len);
}

/** Writes the 64-byte tag to `out64` and wipes the context. */
export function hmacFinal(ctx: usize, out64: usize): void {
  const pad = ctx + <usize>SHA512_CTX_SIZE;
  sha512Final(ctx, out64); // inner hash H(K0 ^ ipad || m)
  sha512Init(ctx);
  sha512Update(ctx, pad, BLOCK);
  sha512Update(ctx, out64, 64);
  sha512Final(ctx, out64); // H(K0 ^ opad || inner)
  wipe(pad, BLOCK);
}

/**
 * HMAC-SHA-512 of `msgLen` bytes at `msg` under `keyLen` bytes at `key`, into `out64`.
 * The output may overlap the inputs: they are read in full before it is written.
 */
export function hmacSha512(key: usize, keyLen: i32, msg: usize, msgLen: i32, out64: usize): void {
  hmacInit(ONE_SHOT, key, keyLen);
  hmacUpdate(ONE_SHOT, msg, msgLen);
  hmacFinal(ONE_SHOT, out64);
}
