// ABI v1 crypto exports (docs/ABI.md, "Crypto"). Each reads its inputs from the I/O buffer,
// writes its output back at the buffer's start and returns the output length or an error code.
// Lengths are checked as i64 so no argument value can overflow, trap or reach out of bounds.
import { ed25519KeyFromSeed, ed25519SignSeed, ed25519Verify } from "../crypto/ed25519";
import { wipe } from "../crypto/ct";
import { HKDF_MAX_OUT, hkdfSha512 } from "../crypto/hkdf";
import { hmacSha512 } from "../crypto/hmac";
import { sha512 as sha512Digest } from "../crypto/sha512";
import { ERR_LENGTH, ERR_RANGE } from "../errors";
import { IO, IO_CAP, fits } from "../io";

const EXPANDED: usize = memory.data(64, 8); // a || prefix of the caller's seed (secret)
const SIG: usize = memory.data(64, 8);

// @ts-ignore: decorator
@inline function lengthsOk(a: i32, b: i32, c: i32, fixed: i32): bool {
  return (a | b | c) >= 0 && fits(<i64>a + <i64>b + <i64>c + <i64>fixed);
}

/** sha512(len): io = message -> 64-byte digest (FIPS 180-4). */
export function sha512(len: i32): i32 {
  if (!lengthsOk(len, 0, 0, 0)) return ERR_LENGTH;
  sha512Digest(IO, len, IO);
  return 64;
}

/** hmac_sha512(key_len, msg_len): io = key || message -> 64-byte tag (RFC 2104). */
export function hmac_sha512(key_len: i32, msg_len: i32): i32 {
  if (!lengthsOk(key_len, msg_len, 0, 0)) return ERR_LENGTH;
  hmacSha512(IO, key_len, IO + <usize>key_len, msg_len, IO);
  if (key_len > 64) wipe(IO + 64, key_len - 64); // key bytes the tag did not overwrite
  return 64;
}

/**
 * hkdf_sha512(ikm_len, salt_len, info_len, out_len): io = ikm || salt || info -> okm
 * (RFC 5869). ERR_RANGE when out_len < 0, out_len > 255*64, or out_len + info_len > io_cap
 * (info is moved to the end of the buffer, clear of the output it is read back for).
 */
export function hkdf_sha512(ikm_len: i32, salt_len: i32, info_len: i32, out_len: i32): i32 {
  if (!lengthsOk(ikm_len, salt_len, info_len, 0)) return ERR_LENGTH;
  if (out_len < 0 || out_len > HKDF_MAX_OUT || <i64>out_len + <i64>info_len > <i64>IO_CAP) {
    return ERR_RANGE;
  }
  if (out_len == 0) return 0;
  const info = IO + <usize>(IO_CAP - info_len);
  memory.copy(info, IO + <usize>ikm_len + <usize>salt_len, <usize>info_len);
  hkdfSha512(IO, ikm_len, IO + <usize>ikm_len, salt_len, info, info_len, IO, out_len);
  if (ikm_len > out_len) wipe(IO + <usize>out_len, ikm_len - out_len); // ikm bytes left over
  return out_len;
}

/** ed25519_public(): io = seed (32) -> public key (32) (RFC 8032 §5.1.5). */
export function ed25519_public(): i32 {
  ed25519KeyFromSeed(IO, EXPANDED, IO);
  wipe(EXPANDED, 64);
  return 32;
}

/** ed25519_sign(msg_len): io = seed (32) || message -> signature (64) (RFC 8032 §5.1.6). */
export function ed25519_sign(msg_len: i32): i32 {
  if (!lengthsOk(msg_len, 0, 0, 32)) return ERR_LENGTH;
  ed25519SignSeed(IO, IO + 32, msg_len, SIG);
  memory.copy(IO, SIG, 64); // the seed's place in the buffer is overwritten
  return 64;
}

/**
 * ed25519_verify(msg_len): io = public key (32) || signature (64) || message -> 1 if the
 * signature is valid, 0 if not; no output bytes (RFC 8032 §5.1.7).
 */
export function ed25519_verify(msg_len: i32): i32 {
  if (!lengthsOk(msg_len, 0, 0, 96)) return ERR_LENGTH;
  return ed25519Verify(IO, IO + 32, IO + 96, msg_len) ? 1 : 0;
}
