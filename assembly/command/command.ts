// Signed commands (PROTOCOL.md §5; docs/ABI.md, "Commands"): the registry's COSE_Sign1
// (RFC 9052 §4.2), EdDSA (RFC 9053 §2.2), that locks, unlocks or shows a message. The TA, not
// the host, decides. Everything is checked before anything is written, in this order (the first
// failure gives the code; a refused command changes nothing):
//   1. shape, in byte order (strict CBOR, cbor/decode.ts): optional tag 18, array(4),
//      protected == h'a10127' ({1: -8}) else ERR_CMD_ALG, unprotected {4: kid(16)}, payload bstr,
//      signature bstr(64), no trailing byte; then the payload map {1: ueid(15), 2: kid(16),
//      3: seq 1..2^32-1, 4: action, ?5: tstr, ?6: tstr}, keys in this order, no trailing byte.
//      Action not 1..3: ERR_CMD_ACTION; message > 128 bytes: ERR_CMD_MESSAGE_SIZE; contact > 32
//      bytes: ERR_CMD_CONTACT_SIZE; anything else: ERR_CMD_MALFORMED.
//   2. signature: a provisioned registry key whose kid (SHA-512(COSE_Key)[0..16], contract C2)
//      is the header kid verifies the signature over
//      Sig_structure = ["Signature1", h'a10127', h'', payload] (RFC 9052 §4.4): ERR_CMD_SIGNATURE.
//   3. addressee: ueid == this device's IMEI 1 ueid (ERR_CMD_UEID), kid == its kid
//      (ERR_CMD_DEVICE_KID).
//   4. freshness: seq > last_seq (ERR_CMD_REPLAY). Checked last, so REPLAY always means "an
//      authentic command for this device, already applied or superseded" (a duplicate delivery).
// Everything here is public data (command, registry keys, state): no constant-time requirement.
import { cborHead, MT_ARRAY, MT_BSTR, MT_MAP, MT_TSTR } from "../cbor/encode";
import {
  cborReadBstrOf, cborReadDone, cborReadFailed, cborReadHead, cborReadInit, cborReadLen, cborReadString, cborReadUint,
  cborSkipTag,
} from "../cbor/decode";
import { ed25519Verify } from "../crypto/ed25519";
import { sha512 } from "../crypto/sha512";
import {
  ERR_CMD_ACTION, ERR_CMD_ALG, ERR_CMD_CONTACT_SIZE, ERR_CMD_DEVICE_KID, ERR_CMD_MALFORMED,
  ERR_CMD_MESSAGE_SIZE, ERR_CMD_REPLAY, ERR_CMD_SIGNATURE, ERR_CMD_UEID,
} from "../errors";
import { UEID_LEN, writeImeiUeid } from "../identity/imei";
import { COSE_KEY_LEN, DEVICE_KID, KID_LEN } from "../identity/keys";
import {
  CONTACT_MAX, LOCK_FULL, MSG_MAX, SB_OFF_CONTACT, SB_OFF_CONTACT_LEN, SB_OFF_IMEI1, SB_OFF_LAST_SEQ,
  SB_OFF_LOCK, SB_OFF_MSG, SB_OFF_MSG_LEN, SB_OFF_REGKEY_COUNT, SB_OFF_REGKEYS, SB_OFF_VERSION, seal,
} from "../identity/sealed";
import { REGKEY_LEN, STATE } from "../identity/state";
import { SIG_PREFIX, SIG_PREFIX_LEN } from "../identity/token";

export const ACTION_LOCK: u32 = 1;
export const ACTION_UNLOCK: u32 = 2;
export const ACTION_MESSAGE: u32 = 3;
const COSE_SIGN1_TAG: u64 = 18; // RFC 9052 §2
const SIG_LEN: i32 = 64;
/**
 * The largest payload the shape allows (key + item for 1..6, after a 1-byte map head):
 * 1 + (1+1+15) + (1+1+16) + (1+5) + (1+1) + (1+2+128) + (1+2+32) = 210 bytes.
 */
const PAYLOAD_MAX: i32 = 210;

/** {1: -8} (RFC 9052 §3.1 alg, RFC 9053 §2.2 EdDSA), the only protected header accepted. */
const PROTECTED = memory.data<u8>([0xa1, 0x01, 0x27]);
/** A registry key's COSE_Key {1: 1, -1: 6, -2: h'<x>'} (contract C2), x filled in per key. */
const REG_COSE_KEY = memory.data<u8>([
  0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);
/** Public scratch: a SHA-512 digest, or this device's ueid as a CBOR bstr (1 + 15 bytes). */
const DIGEST = memory.data(64, 16);
/** The Sig_structure: prefix, payload bstr head (2 bytes: payloads are 40..210 bytes), payload. */
const SIG_MSG = memory.data(SIG_PREFIX_LEN + 2 + PAYLOAD_MAX, 16);

// The parsed command: addresses into the caller's buffer, valid for one applyCommand call.
let kid: usize = 0;
let payload: usize = 0;
let payloadLen: i32 = 0;
let sig: usize = 0;
let ueid: usize = 0;
let target: usize = 0;
let seq: u32 = 0;
let action: u32 = 0;
let msg: usize = 0;
let msgLen: i32 = 0;
let contact: usize = 0;
let contactLen: i32 = 0;

/** Step 1, the COSE_Sign1 around the payload (RFC 9052 §4.2). */
function parseSign1(cmd: usize, len: i32): i32 {
  cborReadInit(cmd, len);
  cborSkipTag(COSE_SIGN1_TAG); // tag 18 is optional (RFC 9052 §2: the context says COSE_Sign1)
  if (cborReadHead(MT_ARRAY) != 4) return ERR_CMD_MALFORMED;
  const prot = cborReadString(MT_BSTR);
  if (cborReadFailed()) return ERR_CMD_MALFORMED;
  if (cborReadLen() != 3 || memory.compare(prot, PROTECTED, 3) != 0) return ERR_CMD_ALG;
  if (cborReadHead(MT_MAP) != 1 || cborReadUint() != 4) return ERR_CMD_MALFORMED; // {4: kid}
  kid = cborReadBstrOf(KID_LEN);
  payload = cborReadString(MT_BSTR);
  payloadLen = cborReadLen();
  sig = cborReadBstrOf(SIG_LEN);
  return cborReadDone() ? 0 : ERR_CMD_MALFORMED;
}

/** Step 1, the payload map (PROTOCOL.md §5, keys in deterministic order). */
function parsePayload(): i32 {
  cborReadInit(payload, payloadLen);
  const n = cborReadHead(MT_MAP);
  if (n < 4 || n > 6 || cborReadUint() != 1) return ERR_CMD_MALFORMED;
  ueid = cborReadBstrOf(UEID_LEN);
  if (cborReadUint() != 2) return ERR_CMD_MALFORMED;
  target = cborReadBstrOf(KID_LEN);
  if (cborReadUint() != 3) return ERR_CMD_MALFORMED;
  const s = cborReadUint();
  if (cborReadUint() != 4) return ERR_CMD_MALFORMED;
  const a = cborReadUint();
  if (cborReadFailed() || s == 0 || s > <u64>u32.MAX_VALUE) return ERR_CMD_MALFORMED;
  if (a < <u64>ACTION_LOCK || a > <u64>ACTION_MESSAGE) return ERR_CMD_ACTION;
  seq = <u32>s;
  action = <u32>a;
  msgLen = 0;
  contactLen = 0;
  let next: u64 = 5; // optional 5 (message) then 6 (contact)
  for (let i: u64 = 4; i < n; i++) {
    const k = cborReadUint();
    if (k < next || k > 6) return ERR_CMD_MALFORMED;
    const p = cborReadString(MT_TSTR);
    const l = cborReadLen();
    if (cborReadFailed()) return ERR_CMD_MALFORMED;
    if (k == 5) {
      if (l > MSG_MAX) return ERR_CMD_MESSAGE_SIZE;
      msg = p;
      msgLen = l;
    } else {
      if (l > CONTACT_MAX) return ERR_CMD_CONTACT_SIZE;
      contact = p;
      contactLen = l;
    }
    next = k + 1;
  }
  // The checks above bound the payload to PAYLOAD_MAX; the second test only guards SIG_MSG.
  return cborReadDone() && payloadLen <= PAYLOAD_MAX ? 0 : ERR_CMD_MALFORMED;
}

/** Step 2: some provisioned registry key with the header's kid verifies the signature. */
function signedByRegistry(): bool {
  memory.copy(SIG_MSG, SIG_PREFIX, <usize>SIG_PREFIX_LEN);
  const p = cborHead(SIG_MSG + <usize>SIG_PREFIX_LEN, MT_BSTR, <u64>payloadLen);
  memory.copy(p, payload, <usize>payloadLen);
  const sigMsgLen = <i32>(p - SIG_MSG) + payloadLen;
  const count = <i32>load<u8>(STATE + <usize>SB_OFF_REGKEY_COUNT);
  for (let i = 0; i < count; i++) {
    const key = STATE + <usize>(SB_OFF_REGKEYS + i * REGKEY_LEN);
    memory.copy(REG_COSE_KEY + 8, key, <usize>REGKEY_LEN);
    sha512(REG_COSE_KEY, COSE_KEY_LEN, DIGEST);
    // RFC 8032 §5.1.7; a key provisioned twice is simply tried twice
    if (memory.compare(DIGEST, kid, <usize>KID_LEN) == 0 && ed25519Verify(key, sig, SIG_MSG, sigMsgLen)) return true;
  }
  return false;
}

/**
 * Checks the command (`len` bytes at `cmd`; the caller has checked the TA is NORMAL and `len`
 * fits) and applies it: lock (lock_state 2, message and contact stored), unlock (lock_state 0,
 * both cleared) or show message (both stored, lock_state unchanged); last_seq = seq, version + 1.
 * Writes the new sealed blob to `out` and returns its length, or returns an error code with the
 * state untouched. `out` may overlap the command: it is written last.
 */
export function applyCommand(cmd: usize, len: i32, out: usize): i32 {
  let rc = parseSign1(cmd, len);
  if (rc == 0) rc = parsePayload();
  if (rc != 0) return rc;
  if (!signedByRegistry()) return ERR_CMD_SIGNATURE;
  writeImeiUeid(DIGEST, STATE + <usize>SB_OFF_IMEI1); // bstr head, then the 15 ueid bytes
  if (memory.compare(DIGEST + 1, ueid, <usize>UEID_LEN) != 0) return ERR_CMD_UEID;
  if (memory.compare(DEVICE_KID, target, <usize>KID_LEN) != 0) return ERR_CMD_DEVICE_KID;
  if (seq <= load<u32>(STATE + <usize>SB_OFF_LAST_SEQ)) return ERR_CMD_REPLAY;

  // Accepted: now write. Message and contact areas are contiguous (230..390) and zero padded.
  const s = STATE;
  if (action != ACTION_MESSAGE) store<u8>(s + <usize>SB_OFF_LOCK, action == ACTION_LOCK ? LOCK_FULL : 0);
  if (action == ACTION_UNLOCK) msgLen = contactLen = 0;
  memory.fill(s + <usize>SB_OFF_MSG, 0, <usize>(MSG_MAX + CONTACT_MAX));
  memory.copy(s + <usize>SB_OFF_MSG, msg, <usize>msgLen);
  memory.copy(s + <usize>SB_OFF_CONTACT, contact, <usize>contactLen);
  store<u8>(s + <usize>SB_OFF_MSG_LEN, <u8>msgLen);
  store<u8>(s + <usize>SB_OFF_CONTACT_LEN, <u8>contactLen);
  store<u32>(s + <usize>SB_OFF_LAST_SEQ, seq);
  store<u32>(s + <usize>SB_OFF_VERSION, load<u32>(s + <usize>SB_OFF_VERSION) + 1);
  return seal(s, out);
}
