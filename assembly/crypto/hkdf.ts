// HKDF-SHA-512 (RFC 5869), over raw addresses in linear memory (contract C1).
import { wipe } from "./ct";
import { HMAC_CTX_SIZE, hmacFinal, hmacInit, hmacUpdate } from "./hmac";

/** RFC 5869 §2.3: L <= 255 * HashLen. */
export const HKDF_MAX_OUT: i32 = 255 * 64;

const CTX: usize = memory.data(HMAC_CTX_SIZE, 8);
const PRK: usize = memory.data(64, 8);
const T: usize = memory.data(72, 8); // T(i) (64 bytes) || the counter byte

/**
 * HKDF-SHA-512: writes `outLen` bytes of OKM to `out`. Returns false (writing nothing) when
 * outLen is negative or over 255*64. An empty salt means HashLen zero bytes (§2.2), which
 * HMAC's zero padding makes the same key. `out` must not overlap `info` (each output block
 * reads info again); it may overlap ikm and salt, which are consumed before any output.
 */
export function hkdfSha512(ikm: usize, ikmLen: i32, salt: usize, saltLen: i32,
  info: usize, infoLen: i32, out: usize, outLen: i32): bool {
  if (outLen < 0 || outLen > HKDF_MAX_OUT) return false;
  // §2.2 Extract: PRK = HMAC-Hash(salt, IKM)
  hmacInit(CTX, salt, saltLen);
  hmacUpdate(CTX, ikm, ikmLen);
  hmacFinal(CTX, PRK);
  // §2.3 Expand: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), OKM = first L bytes of T(1) | T(2) ...
  let done: i32 = 0;
  for (let i: i32 = 1; done < outLen; i++) {
    hmacInit(CTX, PRK, 64);
    if (i > 1) hmacUpdate(CTX, T, 64);
    hmacUpdate(CTX, info, infoLen);
    store<u8>(T, <u8>i, 64);
    hmacUpdate(CTX, T + 64, 1);
    hmacFinal(CTX, T);
    const n = min(64, outLen - done);
    memory.copy(out + <usize>done, T, <usize>n);
    done += n;
  }
  wipe(PRK, 64);
  wipe(T, 72);
  return true;
}
