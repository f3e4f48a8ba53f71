// ABI v1 exports for identity, sealed state and attestation (docs/ABI.md, "Identity and
// attestation"). Inputs are read from the static I/O buffer, outputs written back at
// its start; every export returns the output length (>= 0) or an error code (< 0), and never
// traps, whatever its arguments.
import {
  ERR_LENGTH, ERR_MEASUREMENT_SIZE, ERR_NONCE_SIZE, ERR_NOT_BOOTED, ERR_NOT_PROVISIONED, ERR_PURPOSE,
} from "../errors";
import { fits, IO } from "../io";
import { DEVICE_PUB, HUK_LEN } from "../identity/keys";
import {
  SB_OFF_BOOTCOUNT, SB_OFF_CONTACT, SB_OFF_CONTACT_LEN, SB_OFF_LAST_SEQ, SB_OFF_MSG, SB_OFF_MSG_LEN,
  SB_OFF_VERSION,
} from "../identity/sealed";
import {
  currentState, lockState, STATE, stateBoot, stateProvision, stateSealed, stateU32, TA_NORMAL,
  TA_UNPROVISIONED,
} from "../identity/state";
import { buildToken, MEASUREMENT_MAX, NONCE_MAX, NONCE_MIN, PURPOSE_MAX, PURPOSE_MIN } from "../identity/token";

/** Bytes of the lock_state() record's fixed part; the lock screen follows. */
const LOCK_RECORD_LEN: i32 = 16;
/** Where attest builds the token before moving it to the start of the I/O buffer. */
const ATTEST_WORK: usize = 1024;

/**
 * boot(blob_len, counter, dbgstat): io = HUK (32) || sealed blob (blob_len, 0 on first boot).
 * -> the new sealed blob (NORMAL), or 0 bytes (UNPROVISIONED or TAMPERED: see lock_state).
 */
export function boot(blob_len: i32, counter: i32, dbgstat: i32): i32 {
  const rc = blob_len < 0 || !fits(<i64>HUK_LEN + <i64>blob_len)
    ? ERR_LENGTH
    : stateBoot(IO, IO + <usize>HUK_LEN, blob_len, counter, dbgstat, IO);
  if (rc <= 0) memory.fill(IO, 0, <usize>HUK_LEN); // no output over it: do not leave the HUK behind
  return rc;
}

/**
 * provision(imei2_len, oemid_len, hwmodel_len, regkey_count): io = IMEI 1 (15) || IMEI 2
 * (0 or 15) || oemid (3 or 16) || hwmodel (1..32) || registry keys (32 x regkey_count, 1..4).
 * -> the version-1 sealed blob.
 */
export function provision(imei2_len: i32, oemid_len: i32, hwmodel_len: i32, regkey_count: i32): i32 {
  // stateProvision range-checks every length before it reads anything, so the inputs then
  // span at most 15 + 15 + 16 + 32 + 4 * 32 bytes of the I/O buffer.
  return stateProvision(IO, imei2_len, oemid_len, hwmodel_len, regkey_count, IO);
}

/** device_public(): -> the device attestation public key (32 bytes, Ed25519). */
export function device_public(): i32 {
  if (currentState() < 0) return ERR_NOT_BOOTED;
  memory.copy(IO, DEVICE_PUB, 32);
  return 32;
}

/**
 * attest(nonce_len, meas_len, purpose): io = nonce (8..64) || host-reported measurement (0..64);
 * purpose = the token's intended use (EAT intuse, RFC 9711 §4.3.3: 1 generic, 2 registration,
 * 3 provisioning, 4 certificate issuance, 5 proof-of-possession), signed into the token.
 * -> the attestation token (contract C2).
 */
export function attest(nonce_len: i32, meas_len: i32, purpose: i32): i32 {
  const st = currentState();
  if (st < 0) return ERR_NOT_BOOTED;
  if (st == TA_UNPROVISIONED) return ERR_NOT_PROVISIONED;
  if (nonce_len < NONCE_MIN || nonce_len > NONCE_MAX) return ERR_NONCE_SIZE;
  if (meas_len < 0 || meas_len > MEASUREMENT_MAX) return ERR_MEASUREMENT_SIZE;
  if (purpose < PURPOSE_MIN || purpose > PURPOSE_MAX) return ERR_PURPOSE;
  return buildToken(IO, nonce_len, IO + <usize>nonce_len, meas_len, purpose, IO + ATTEST_WORK, IO);
}

/** sealed_state(): -> the current sealed blob (NORMAL only). */
export function sealed_state(): i32 {
  return stateSealed(IO);
}

/**
 * lock_state(): -> a record of 18 + message_len + contact_len bytes: lock_state u8, ta_state u8,
 * reserved u16 (0), last_seq u32 LE, bootcount u32 LE, version u32 LE (0 unless NORMAL), then
 * message_len u8, contact_len u8, the lock-screen message, the contact number (both
 * empty unless NORMAL).
 */
export function lock_state(): i32 {
  const st = currentState();
  if (st < 0) return ERR_NOT_BOOTED;
  store<u8>(IO, lockState());
  store<u8>(IO, <u8>st, 1);
  store<u16>(IO, 0, 2);
  store<u32>(IO, stateU32(SB_OFF_LAST_SEQ), 4);
  store<u32>(IO, stateU32(SB_OFF_BOOTCOUNT), 8);
  store<u32>(IO, stateU32(SB_OFF_VERSION), 12);
  const normal = st == TA_NORMAL;
  const ml = normal ? <i32>load<u8>(STATE + <usize>SB_OFF_MSG_LEN) : 0;
  const cl = normal ? <i32>load<u8>(STATE + <usize>SB_OFF_CONTACT_LEN) : 0;
  const tail = IO + <usize>LOCK_RECORD_LEN;
  store<u8>(tail, <u8>ml);
  store<u8>(tail, <u8>cl, 1);
  memory.copy(tail + 2, STATE + <usize>SB_OFF_MSG, <usize>ml);
  memory.copy(tail + 2 + <usize>ml, STATE + <usize>SB_OFF_CONTACT, <usize>cl);
  return LOCK_RECORD_LEN + 2 + ml + cl;
}
