// The attestation token (contract C2; docs/ABI.md, "attest"): an EAT (RFC 9711) as a CWT
// (RFC 8392) in COSE_Sign1 (RFC 9052 §4.2), EdDSA, deterministic CBOR (RFC 8949 §4.2.1):
//   61(18([h'a10127', {4: kid}, h'<claims>', h'<signature>']))
// signed over Sig_structure ["Signature1", h'a10127', h'', h'<claims>'] (RFC 9052 §4.4).
import {
  cborBytes, cborHead, cborHeadSize, cborInt, cborMap, cborText, cborUint, MT_BSTR,
} from "../cbor/encode";
import { UEID_TYPE_IMEI, writeImeiUeid } from "./imei";
import { COSE_KEY_LEN, DEVICE_COSE_KEY, DEVICE_KID, deviceSign, KID_LEN } from "./keys";
import {
  SB_FLAG_IMEI2, SB_OFF_BOOTCOUNT, SB_OFF_FLAGS, SB_OFF_HWMODEL, SB_OFF_HWMODEL_LEN, SB_OFF_IMEI1,
  SB_OFF_IMEI2, SB_OFF_LAST_SEQ, SB_OFF_OEMID, SB_OFF_OEMID_LEN,
} from "./sealed";
import { bootDbgstat, currentState, lockState, STATE, stateU32, TA_TAMPERED } from "./state";

export const NONCE_MIN: i32 = 8; // RFC 9711 §4.1: eat_nonce is 8..64 bytes
export const NONCE_MAX: i32 = 64;
export const MEASUREMENT_MAX: i32 = 64;
/** intuse (RFC 9711 §4.3.3): 1 generic .. 5 proof-of-possession. */
export const PURPOSE_MIN: i32 = 1;
export const PURPOSE_MAX: i32 = 5;
/** Content type of a host-reported digest in measurements (273): experimental range (C2). */
export const CT_HOST_REPORTED: u64 = 65000;
const SIG_LEN: i32 = 64;

// 61(18([ h'a10127', {4: h'<16>'}, ...   (the kid follows)
const TOKEN_PREFIX = memory.data<u8>([0xd8, 0x3d, 0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa1, 0x04, 0x50]);
const TOKEN_PREFIX_LEN: i32 = 11;
// ["Signature1", h'a10127', h'', ...       (the payload byte string follows; also used to verify
// commands, assembly/command/command.ts)
export const SIG_PREFIX = memory.data<u8>([
  0x84, 0x6a, 0x53, 0x69, 0x67, 0x6e, 0x61, 0x74, 0x75, 0x72, 0x65, 0x31, 0x43, 0xa1, 0x01, 0x27, 0x40,
]);
export const SIG_PREFIX_LEN: i32 = 17;
// "https://antitheft.dev/eat/v1" (28 bytes), the pinned eat_profile
const PROFILE = memory.data<u8>([
  0x68, 0x74, 0x74, 0x70, 0x73, 0x3a, 0x2f, 0x2f, 0x61, 0x6e, 0x74, 0x69, 0x74, 0x68, 0x65, 0x66,
  0x74, 0x2e, 0x64, 0x65, 0x76, 0x2f, 0x65, 0x61, 0x74, 0x2f, 0x76, 0x31,
]);
const PROFILE_LEN: i32 = 28;
// "imei2" (the sueids label of the second IMEI)
const IMEI2_LABEL = memory.data<u8>([0x69, 0x6d, 0x65, 0x69, 0x32]);
const SIG = memory.data(SIG_LEN, 16);

/** Room left before the claims for the Sig_structure prefix and the payload head. */
const HEAD_ROOM: usize = 32;

/**
 * Builds the token for the nonce (`nonceLen` bytes at `nonce`) and the host-reported
 * measurement (`measLen` bytes at `meas`, 0 = none), both already range-checked, and the intended
 * use (`purpose`, 1..5, range-checked), using `work`
 * as scratch (it must not overlap the inputs; < 512 bytes are used), and writes it to `out`.
 * Returns its length (< 512).
 */
export function buildToken(nonce: usize, nonceLen: i32, meas: usize, measLen: i32, purpose: i32, work: usize, out: usize): i32 {
  const start = work + HEAD_ROOM;
  const end = writeClaims(start, nonce, nonceLen, meas, measLen, purpose);
  const len = <u64>(end - start);
  const bstr = start - <usize>cborHeadSize(len);
  cborHead(bstr, MT_BSTR, len);
  const msg = bstr - <usize>SIG_PREFIX_LEN;
  memory.copy(msg, SIG_PREFIX, <usize>SIG_PREFIX_LEN);
  deviceSign(msg, <i32>(end - msg), SIG);

  memory.copy(out, TOKEN_PREFIX, <usize>TOKEN_PREFIX_LEN);
  memory.copy(out + <usize>TOKEN_PREFIX_LEN, DEVICE_KID, <usize>KID_LEN);
  let p = out + <usize>(TOKEN_PREFIX_LEN + KID_LEN);
  memory.copy(p, bstr, end - bstr);
  p = cborBytes(p + (end - bstr), SIG, SIG_LEN);
  return <i32>(p - out);
}

/**
 * The claims map, keys in deterministic order (bytewise order of their encodings: 8, 10, 256,
 * 257, 258, 259, 263, 265, 267, 268, 273, -65537, -65538, -65539). TAMPERED omits the claims that come
 * from the untrusted sealed state (256, 257, 258, 259, 267) and reports lock_state 2, ta_state 1.
 */
function writeClaims(p: usize, nonce: usize, nonceLen: i32, meas: usize, measLen: i32, purpose: i32): usize {
  const tampered = currentState() == TA_TAMPERED;
  const imei2 = !tampered && (load<u8>(STATE + <usize>SB_OFF_FLAGS) & SB_FLAG_IMEI2) != 0;
  let n = tampered ? 8 : 12;
  if (imei2) n++;
  if (measLen > 0) n++;
  p = cborMap(p, n);

  p = cborUint(p, 8); // cnf (RFC 8747 §3.1): {1 (COSE_Key): device key}
  p = cborMap(p, 1);
  p = cborUint(p, 1);
  memory.copy(p, DEVICE_COSE_KEY, <usize>COSE_KEY_LEN);
  p += <usize>COSE_KEY_LEN;

  p = cborUint(p, 10); // eat_nonce (RFC 9711 §4.1)
  p = cborBytes(p, nonce, nonceLen);

  if (!tampered) {
    p = cborUint(p, 256); // ueid (RFC 9711 §4.2.1): IMEI 1
    p = writeImeiUeid(p, STATE + <usize>SB_OFF_IMEI1);
    if (imei2) {
      p = cborUint(p, 257); // sueids (RFC 9711 §4.2.2): {"imei2": ueid of IMEI 2}
      p = cborMap(p, 1);
      p = cborText(p, IMEI2_LABEL, 5);
      p = writeImeiUeid(p, STATE + <usize>SB_OFF_IMEI2);
    }
    p = cborUint(p, 258); // oemid (RFC 9711 §4.2.3)
    p = cborBytes(p, STATE + <usize>SB_OFF_OEMID, <i32>load<u8>(STATE + <usize>SB_OFF_OEMID_LEN));
    p = cborUint(p, 259); // hwmodel (RFC 9711 §4.2.4)
    p = cborBytes(p, STATE + <usize>SB_OFF_HWMODEL, <i32>load<u8>(STATE + <usize>SB_OFF_HWMODEL_LEN));
  }
  p = cborUint(p, 263); // dbgstat (RFC 9711 §4.2.9)
  p = cborUint(p, <u64>bootDbgstat());
  p = cborUint(p, 265); // eat_profile (RFC 9711, "eat_profile" claim): pinned
  p = cborText(p, PROFILE, PROFILE_LEN);
  if (!tampered) {
    p = cborUint(p, 267); // bootcount (RFC 9711, "bootcount" claim)
    p = cborUint(p, <u64>stateU32(SB_OFF_BOOTCOUNT));
  }
  p = cborUint(p, 268); // intuse (RFC 9711 §4.3.3): the use the host asked for, signed
  p = cborUint(p, <u64>purpose);
  if (measLen > 0) {
    p = cborUint(p, 273); // measurements (RFC 9711, "measurements" claim): [[content-type, digest]]
    p = cborHead(p, 4, 1);
    p = cborHead(p, 4, 2);
    p = cborUint(p, CT_HOST_REPORTED);
    p = cborBytes(p, meas, measLen);
  }
  p = cborInt(p, -65537); // lock_state (private; LwM2M Object 8 resource 0)
  p = cborUint(p, <u64>lockState());
  p = cborInt(p, -65538); // last_seq (private)
  p = cborUint(p, <u64>stateU32(SB_OFF_LAST_SEQ));
  p = cborInt(p, -65539); // ta_state (private): 0 NORMAL, 1 TAMPERED
  p = cborUint(p, tampered ? 1 : 0);
  return p;
}
