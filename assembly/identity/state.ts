// The TA's identity state machine (docs/ABI.md, "Identity and attestation"):
//
//   (not booted) --boot--> UNPROVISIONED   counter == 0 and no blob: a factory-fresh device
//                     \--> NORMAL          blob authentic, well formed, version == counter or
//                      \                   counter + 1 (the host stored it, then its counter
//                       \                  commit was interrupted)
//                        \-> TAMPERED      anything else: a forged or altered blob, another
//                                          device's blob, a rolled-back one, a malformed one,
//                                          or no blob while counter > 0 (a deleted blob must
//                                          never look factory-fresh, or a thief could
//                                          provision a new IMEI)
//   UNPROVISIONED --provision--> NORMAL    once; there is no way back
//
// The state itself is kept as the body of a sealed blob (sealed.ts), so sealing is a copy and a
// MAC. Every transition validates first and writes last: a refused call changes nothing.
import {
  ERR_ALREADY_BOOTED, ERR_ALREADY_PROVISIONED, ERR_COUNTER, ERR_DBGSTAT, ERR_HWMODEL,
  ERR_IMEI_DUPLICATE, ERR_IMEI_FORMAT, ERR_NOT_BOOTED, ERR_NOT_PROVISIONED, ERR_OEMID,
  ERR_REGISTRY_KEYS, ERR_TAMPERED,
} from "../errors";
import { IMEI_LEN, imeiCheck } from "./imei";
import { keysInit } from "./keys";
import {
  HWMODEL_MAX, LOCK_FULL, OEMID_LONG, OEMID_SHORT, REGKEYS_MAX, SB_BODY_LEN, SB_FLAG_IMEI2,
  SB_FORMAT, SB_MAGIC, SB_OFF_BOOTCOUNT, SB_OFF_FLAGS, SB_OFF_FORMAT, SB_OFF_HWMODEL,
  SB_OFF_HWMODEL_LEN, SB_OFF_IMEI1, SB_OFF_IMEI2, SB_OFF_LAST_SEQ, SB_OFF_LOCK, SB_OFF_MAGIC,
  SB_OFF_OEMID, SB_OFF_OEMID_LEN, SB_OFF_REGKEY_COUNT, SB_OFF_REGKEYS, SB_OFF_VERSION, seal,
  unsealOk,
} from "./sealed";

export const TA_NORMAL: i32 = 0;
export const TA_TAMPERED: i32 = 1;
export const TA_UNPROVISIONED: i32 = 2;
/** Highest dbgstat value (RFC 9711 §4.2.9: 4 = disabled fully and permanently). */
export const DBGSTAT_MAX: i32 = 4;
export const REGKEY_LEN: i32 = 32;

/** The current state, laid out as a sealed blob's body. Meaningful only in NORMAL. */
export const STATE: usize = memory.data(SB_BODY_LEN, 16);

let booted = false;
let taState: i32 = TA_UNPROVISIONED;
let dbgstat: i32 = 0;

/** -1 when not booted, else TA_NORMAL, TA_TAMPERED or TA_UNPROVISIONED. */
export function currentState(): i32 {
  return booted ? taState : -1;
}

/** The dbgstat reported at boot. */
export function bootDbgstat(): i32 {
  return dbgstat;
}

/**
 * Boots: `huk` (HUK_LEN bytes), the stored blob (`blobLen` bytes at `blob`, 0 on first boot),
 * the host's replay-protected counter and the hardware's dbgstat. Returns the length of the new
 * blob written to `out` in NORMAL (the boot count went up: the host stores it, then sets its
 * counter to the blob's version), 0 in UNPROVISIONED and TAMPERED, or an error code (nothing
 * changed). `out` may overlap the inputs: it is written last.
 */
export function stateBoot(huk: usize, blob: usize, blobLen: i32, counter: i32, dbg: i32, out: usize): i32 {
  if (booted) return ERR_ALREADY_BOOTED;
  if (counter < 0) return ERR_COUNTER;
  if (<u32>dbg > <u32>DBGSTAT_MAX) return ERR_DBGSTAT;
  keysInit(huk);
  booted = true;
  dbgstat = dbg;
  if (blobLen == 0) {
    taState = counter == 0 ? TA_UNPROVISIONED : TA_TAMPERED;
    return 0;
  }
  const version = <u64>load<u32>(blob + <usize>SB_OFF_VERSION);
  const c = <u64>counter;
  // Authentic and well formed first, then fresh: version == counter, or counter + 1 when the
  // host's counter commit did not happen after it stored the blob.
  if (!unsealOk(blob, blobLen) || version < c || version > c + 1) {
    taState = TA_TAMPERED;
    return 0;
  }
  taState = TA_NORMAL;
  memory.copy(STATE, blob, <usize>SB_BODY_LEN);
  const boots = load<u32>(STATE + <usize>SB_OFF_BOOTCOUNT);
  if (boots != u32.MAX_VALUE) store<u32>(STATE + <usize>SB_OFF_BOOTCOUNT, boots + 1);
  // The new blob takes version counter + 1 whichever of the two versions it booted from, so a
  // host that stores it and crashes before committing its counter still boots NORMAL.
  store<u32>(STATE + <usize>SB_OFF_VERSION, <u32>(c + 1));
  return seal(STATE, out);
}

/**
 * Provisions a factory-fresh device once. Inputs (already in linear memory, contiguous at `p`):
 * IMEI 1 (15) || IMEI 2 (imei2Len: 0 or 15) || oemid (3 or 16) || hwmodel (1..32) ||
 * registry keys (32 x keyCount, 1..4). Writes the version-1 blob to `out` and returns its
 * length, or returns an error code and changes nothing.
 */
export function stateProvision(p: usize, imei2Len: i32, oemidLen: i32, modelLen: i32, keyCount: i32, out: usize): i32 {
  if (!booted) return ERR_NOT_BOOTED;
  if (taState == TA_TAMPERED) return ERR_TAMPERED;
  if (taState == TA_NORMAL) return ERR_ALREADY_PROVISIONED;
  if (imei2Len != 0 && imei2Len != IMEI_LEN) return ERR_IMEI_FORMAT;
  if (oemidLen != OEMID_SHORT && oemidLen != OEMID_LONG) return ERR_OEMID;
  if (modelLen < 1 || modelLen > HWMODEL_MAX) return ERR_HWMODEL;
  if (keyCount < 1 || keyCount > REGKEYS_MAX) return ERR_REGISTRY_KEYS;
  const imei1 = p;
  const imei2 = imei1 + <usize>IMEI_LEN;
  const oemid = imei2 + <usize>imei2Len;
  const model = oemid + <usize>oemidLen;
  const keys = model + <usize>modelLen;
  let rc = imeiCheck(imei1, IMEI_LEN);
  if (rc == 0 && imei2Len != 0) {
    rc = imeiCheck(imei2, IMEI_LEN);
    if (rc == 0 && memory.compare(imei1, imei2, <usize>IMEI_LEN) == 0) rc = ERR_IMEI_DUPLICATE;
  }
  if (rc != 0) return rc;

  const s = STATE;
  memory.fill(s, 0, <usize>SB_BODY_LEN);
  store<u32>(s + <usize>SB_OFF_MAGIC, SB_MAGIC);
  store<u8>(s + <usize>SB_OFF_FORMAT, SB_FORMAT);
  store<u8>(s + <usize>SB_OFF_FLAGS, imei2Len != 0 ? SB_FLAG_IMEI2 : 0);
  store<u8>(s + <usize>SB_OFF_OEMID_LEN, <u8>oemidLen);
  store<u8>(s + <usize>SB_OFF_HWMODEL_LEN, <u8>modelLen);
  store<u32>(s + <usize>SB_OFF_VERSION, 1); // the factory counter is 0: the first blob is 1
  store<u8>(s + <usize>SB_OFF_REGKEY_COUNT, <u8>keyCount);
  memory.copy(s + <usize>SB_OFF_IMEI1, imei1, <usize>IMEI_LEN);
  memory.copy(s + <usize>SB_OFF_IMEI2, imei2, <usize>imei2Len);
  memory.copy(s + <usize>SB_OFF_OEMID, oemid, <usize>oemidLen);
  memory.copy(s + <usize>SB_OFF_HWMODEL, model, <usize>modelLen);
  memory.copy(s + <usize>SB_OFF_REGKEYS, keys, <usize>(keyCount * REGKEY_LEN));
  taState = TA_NORMAL;
  return seal(s, out);
}

/** Writes the current blob to `out` (NORMAL only) and returns its length, or an error code. */
export function stateSealed(out: usize): i32 {
  const st = currentState();
  if (st < 0) return ERR_NOT_BOOTED;
  if (st == TA_TAMPERED) return ERR_TAMPERED;
  if (st == TA_UNPROVISIONED) return ERR_NOT_PROVISIONED;
  return seal(STATE, out);
}

/** The lock state to report: the sealed one in NORMAL, fully locked when TAMPERED, else 0. */
export function lockState(): u8 {
  if (taState == TA_NORMAL) return load<u8>(STATE + <usize>SB_OFF_LOCK);
  return taState == TA_TAMPERED ? LOCK_FULL : 0;
}

/** A u32 field of the state (SB_OFF_*): 0 unless NORMAL (nothing trusted is known otherwise). */
export function stateU32(off: i32): u32 {
  return taState == TA_NORMAL ? load<u32>(STATE + <usize>off) : 0;
}
