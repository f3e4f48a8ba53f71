// The sealed-state blob (docs/ABI.md, "Sealed state blob"): the TA's persistent state, handed to
// the host to store and handed back at boot. Authenticated, not encrypted: nothing in it is
// secret (an IMEI is printed on the box); what matters is that it cannot be altered, moved to
// another device (the MAC key is derived from that device's HUK) or rolled back (the version is
// bound to the host's replay-protected counter).
//
// Format 1, fixed size, little-endian integers:
//   off  len  field
//     0    4  magic "ATSB"
//     4    1  format = 1
//     5    1  flags: bit 0 = IMEI 2 present; other bits 0
//     6    1  oemid length (3 or 16)
//     7    1  hwmodel length (1..32)
//     8    4  version (u32): the state version, compared with the replay-protected counter
//    12    4  bootcount (u32): boots since provisioning
//    16    4  last_seq (u32): last accepted command sequence number, 0 = none
//    20    1  lock_state: 0 unlocked, 1 partially locked, 2 fully locked (LwM2M Object 8 res 0)
//    21    1  registry key count (1..4)
//    22    1  lock message length (0..128)
//    23    1  contact length (0..32)
//    24   15  IMEI 1, ASCII digits
//    39   15  IMEI 2, ASCII digits, or zeros
//    54   16  oemid, zero padded
//    70   32  hwmodel, zero padded
//   102  128  registry Ed25519 public keys, 4 x 32, unused slots zero
//   230  128  lock-screen message, UTF-8, zero padded
//   358   32  contact number, zero padded
//   390   32  MAC = HMAC-SHA-512(seal key, bytes 0..390) truncated to 32 bytes
//   422       end
import { ctEqual } from "../crypto/ct";
import { IMEI_LEN, imeiCheck } from "./imei";
import { MAC_LEN, sealMac } from "./keys";

export const SB_MAGIC: u32 = 0x42535441; // "ATSB" read as a little-endian u32
export const SB_FORMAT: u8 = 1;
export const SB_FLAG_IMEI2: u8 = 1;

export const SB_OFF_MAGIC: i32 = 0;
export const SB_OFF_FORMAT: i32 = 4;
export const SB_OFF_FLAGS: i32 = 5;
export const SB_OFF_OEMID_LEN: i32 = 6;
export const SB_OFF_HWMODEL_LEN: i32 = 7;
export const SB_OFF_VERSION: i32 = 8;
export const SB_OFF_BOOTCOUNT: i32 = 12;
export const SB_OFF_LAST_SEQ: i32 = 16;
export const SB_OFF_LOCK: i32 = 20;
export const SB_OFF_REGKEY_COUNT: i32 = 21;
export const SB_OFF_MSG_LEN: i32 = 22;
export const SB_OFF_CONTACT_LEN: i32 = 23;
export const SB_OFF_IMEI1: i32 = 24;
export const SB_OFF_IMEI2: i32 = 39;
export const SB_OFF_OEMID: i32 = 54;
export const SB_OFF_HWMODEL: i32 = 70;
export const SB_OFF_REGKEYS: i32 = 102;
export const SB_OFF_MSG: i32 = 230;
export const SB_OFF_CONTACT: i32 = 358;
/** Bytes covered by the MAC (the state itself). */
export const SB_BODY_LEN: i32 = 390;
/** Bytes of a whole blob: the body and its MAC. */
export const SEALED_LEN: i32 = SB_BODY_LEN + MAC_LEN;

export const OEMID_SHORT: i32 = 3; // IEEE OUI (RFC 9711 §4.2.3)
export const OEMID_LONG: i32 = 16; // random or hash-derived
export const HWMODEL_MAX: i32 = 32;
export const REGKEYS_MAX: i32 = 4;
export const MSG_MAX: i32 = 128;
export const CONTACT_MAX: i32 = 32;
export const LOCK_FULL: u8 = 2;

/** Scratch for the MAC computed over a received blob. */
const MAC = memory.data(MAC_LEN, 16);

/** Writes the blob of the state `body` (SB_BODY_LEN bytes) to `out`; returns SEALED_LEN. */
export function seal(body: usize, out: usize): i32 {
  memory.copy(out, body, <usize>SB_BODY_LEN);
  sealMac(body, SB_BODY_LEN, out + <usize>SB_BODY_LEN);
  return SEALED_LEN;
}

/**
 * True when the `len` bytes at `blob` are a blob this device sealed: the right length, a MAC
 * that matches in constant time, then a well-formed body (checked only after the MAC, so a
 * forger learns nothing from which check failed).
 */
export function unsealOk(blob: usize, len: i32): bool {
  if (len != SEALED_LEN) return false;
  sealMac(blob, SB_BODY_LEN, MAC);
  if (!ctEqual(MAC, blob + <usize>SB_BODY_LEN, MAC_LEN)) return false;
  return bodyWellFormed(blob);
}

/** Structural checks on an authenticated body: every length the TA later copies is in range. */
function bodyWellFormed(b: usize): bool {
  const flags = load<u8>(b + SB_OFF_FLAGS);
  const oemidLen = <i32>load<u8>(b + SB_OFF_OEMID_LEN);
  const modelLen = <i32>load<u8>(b + SB_OFF_HWMODEL_LEN);
  const keys = <i32>load<u8>(b + SB_OFF_REGKEY_COUNT);
  if (load<u32>(b + SB_OFF_MAGIC) != SB_MAGIC || load<u8>(b + SB_OFF_FORMAT) != SB_FORMAT) return false;
  if (flags > SB_FLAG_IMEI2 || load<u32>(b + SB_OFF_VERSION) == 0) return false;
  if (oemidLen != OEMID_SHORT && oemidLen != OEMID_LONG) return false;
  if (modelLen < 1 || modelLen > HWMODEL_MAX || keys < 1 || keys > REGKEYS_MAX) return false;
  if (load<u8>(b + SB_OFF_LOCK) > LOCK_FULL) return false;
  if (<i32>load<u8>(b + SB_OFF_MSG_LEN) > MSG_MAX) return false;
  if (<i32>load<u8>(b + SB_OFF_CONTACT_LEN) > CONTACT_MAX) return false;
  if (imeiCheck(b + SB_OFF_IMEI1, IMEI_LEN) != 0) return false;
  return flags == 0 || imeiCheck(b + SB_OFF_IMEI2, IMEI_LEN) == 0;
}
