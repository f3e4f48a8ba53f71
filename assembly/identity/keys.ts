// The device's keys, all derived from the hardware unique key (HUK) - contract C2, "Key devices
// derive" - and kept behind this module: callers get a public key, a kid, a signature or a MAC,
// never key bytes. The HUK stays in TA memory (the analogue of a fuse register only the TEE can
// read); each private key is derived again for each use and wiped right after it.
//   device attestation key seed = HKDF-SHA-512(HUK, salt = "", "antitheft/v1/device-attestation-key", 32)
//   sealed-state MAC key        = HKDF-SHA-512(HUK, salt = "", "antitheft/v1/sealed-state-mac", 64)
// Constant time: key bytes only flow through the crypto core's constant-time primitives
// (contract C1); nothing here branches on or indexes by a secret.
import { ed25519ExpandSeed, ed25519KeyFromSeed, ed25519SignExpanded } from "../crypto/ed25519";
import { hkdfSha512 } from "../crypto/hkdf";
import { hmacSha512 } from "../crypto/hmac";
import { sha512 } from "../crypto/sha512";
import { wipe } from "../crypto/ct";

/** Bytes of the HUK as a fuse read gives it. */
export const HUK_LEN: i32 = 32;
/** Bytes of the truncated sealed-state MAC (HMAC-SHA-512 truncated to 256 bits). */
export const MAC_LEN: i32 = 32;
/** Bytes of the device COSE_Key {1: 1, -1: 6, -2: h'<x>'}: an 8-byte head and x (contract C2). */
export const COSE_KEY_LEN: i32 = 40;
/** Bytes of a kid: the first 16 bytes of SHA-512(COSE_Key) (contract C2). */
export const KID_LEN: i32 = 16;

// "antitheft/v1/device-attestation-key" (35 bytes)
const INFO_ATTEST = memory.data<u8>([
  0x61, 0x6e, 0x74, 0x69, 0x74, 0x68, 0x65, 0x66, 0x74, 0x2f, 0x76, 0x31, 0x2f, 0x64, 0x65, 0x76,
  0x69, 0x63, 0x65, 0x2d, 0x61, 0x74, 0x74, 0x65, 0x73, 0x74, 0x61, 0x74, 0x69, 0x6f, 0x6e, 0x2d,
  0x6b, 0x65, 0x79,
]);
const INFO_ATTEST_LEN: i32 = 35;
// "antitheft/v1/sealed-state-mac" (29 bytes)
const INFO_SEAL = memory.data<u8>([
  0x61, 0x6e, 0x74, 0x69, 0x74, 0x68, 0x65, 0x66, 0x74, 0x2f, 0x76, 0x31, 0x2f, 0x73, 0x65, 0x61,
  0x6c, 0x65, 0x64, 0x2d, 0x73, 0x74, 0x61, 0x74, 0x65, 0x2d, 0x6d, 0x61, 0x63,
]);
const INFO_SEAL_LEN: i32 = 29;

/** The HUK, copied in at boot. */
const HUK = memory.data(HUK_LEN, 16);
/** The device COSE_Key: a3 01 01 20 06 21 58 20 || public key (RFC 9053 §7.2, RFC 8037 §2). */
export const DEVICE_COSE_KEY: usize = memory.data<u8>([
  0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);
/** The device public key (32 bytes), inside DEVICE_COSE_KEY. */
export const DEVICE_PUB: usize = DEVICE_COSE_KEY + 8;
/** The kid of the device key (16 bytes). */
export const DEVICE_KID: usize = memory.data(KID_LEN, 16);

/** Secret scratch: seed (32) + expanded key (64), or MAC key (64) + full MAC (64). Always wiped. */
const SECRET = memory.data(128, 16);
/** Public scratch: a full SHA-512 digest. */
const SCRATCH = memory.data(64, 16);

/**
 * Loads the HUK from `huk` (HUK_LEN bytes), derives the device attestation key pair, caches
 * its public key, COSE_Key and kid, and wipes the private half.
 */
export function keysInit(huk: usize): void {
  memory.copy(HUK, huk, <usize>HUK_LEN);
  deriveExpanded(DEVICE_PUB);
  wipe(SECRET, 128);
  sha512(DEVICE_COSE_KEY, COSE_KEY_LEN, SCRATCH);
  memory.copy(DEVICE_KID, SCRATCH, <usize>KID_LEN);
}

/** seed = HKDF(HUK, "", INFO_ATTEST, 32) -> SECRET[0..32); expanded key -> SECRET[32..96). */
function deriveExpanded(pub: usize): void {
  hkdfSha512(HUK, HUK_LEN, 0, 0, INFO_ATTEST, INFO_ATTEST_LEN, SECRET, 32);
  ed25519KeyFromSeed(SECRET, SECRET + 32, pub); // RFC 8032 §5.1.5
}

/**
 * Signs `len` bytes at `msg` with the device attestation key into `sig64` (Ed25519, RFC 8032
 * §5.1.6). The private key exists only for the duration of the call. Its public key is
 * DEVICE_PUB, computed at boot from the same HUK, so only the seed is expanded here (§5.1.5
 * steps 1-3): one base-point multiplication per signature (R), as for a key held by handle.
 */
export function deviceSign(msg: usize, len: i32, sig64: usize): void {
  hkdfSha512(HUK, HUK_LEN, 0, 0, INFO_ATTEST, INFO_ATTEST_LEN, SECRET, 32);
  ed25519ExpandSeed(SECRET, SECRET + 32);
  ed25519SignExpanded(SECRET + 32, DEVICE_PUB, msg, len, sig64);
  wipe(SECRET, 128);
}

/**
 * Writes the sealed-state MAC of `len` bytes at `data` to `out` (MAC_LEN bytes):
 * HMAC-SHA-512 (RFC 2104, FIPS 198-1) with the HUK-derived seal key, truncated to its first
 * 256 bits (RFC 2104 §5, NIST SP 800-107 §5.3.3).
 */
export function sealMac(data: usize, len: i32, out: usize): void {
  hkdfSha512(HUK, HUK_LEN, 0, 0, INFO_SEAL, INFO_SEAL_LEN, SECRET, 64);
  hmacSha512(SECRET, 64, data, len, SECRET + 64);
  memory.copy(out, SECRET + 64, <usize>MAC_LEN);
  wipe(SECRET, 128);
}
