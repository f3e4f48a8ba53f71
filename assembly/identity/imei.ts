// IMEI validation and its UEID form. An IMEI is public data: branching on it is fine.
//   3GPP TS 23.003 §6.2.1: IMEI = TAC (8 digits) || SNR (6) || CD (1) = 15 digits.
//   3GPP TS 23.003 Annex B: the check digit is the Luhn digit of the 14 TAC+SNR digits.
//   RFC 9711 §4.2.1: UEID type 0x03 (IMEI) = 0x03 || the 14 TAC+SNR digit values, one per byte.
import { cborHead, MT_BSTR } from "../cbor/encode";
import { ERR_IMEI_CHECK_DIGIT, ERR_IMEI_FORMAT } from "../errors";

/** Length of an IMEI in ASCII digits. */
export const IMEI_LEN: i32 = 15;
/** Length of an IMEI UEID: the type byte and 14 digit values. */
export const UEID_LEN: i32 = 15;
/** UEID type byte for an IMEI (RFC 9711 §4.2.1). */
export const UEID_TYPE_IMEI: u8 = 0x03;

/**
 * The Luhn check digit (0..9) of the 14 ASCII digits at `p` (TS 23.003 Annex B): from the
 * right, double every second digit starting with the rightmost (D1, D3, ...), add the digit
 * sums, CD = (10 - sum mod 10) mod 10. The digits must already be known to be '0'..'9'.
 */
export function luhnCheckDigit(p: usize): i32 {
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    let d = <i32>load<u8>(p + <usize>i) - 0x30;
    // the digits at even distance from the right end (index 13, 11, ..., 1) are doubled
    if (i & 1) {
      d <<= 1;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - sum % 10) % 10;
}

/**
 * Checks the `len` bytes at `p` as an IMEI: 0 when they are 15 ASCII digits with a correct
 * check digit, ERR_IMEI_FORMAT for any other length or a non-digit, ERR_IMEI_CHECK_DIGIT when
 * only the check digit is wrong.
 */
export function imeiCheck(p: usize, len: i32): i32 {
  if (len != IMEI_LEN) return ERR_IMEI_FORMAT;
  for (let i = 0; i < IMEI_LEN; i++) {
    if (<u32>load<u8>(p + <usize>i) - 0x30 > 9) return ERR_IMEI_FORMAT;
  }
  if (luhnCheckDigit(p) != <i32>load<u8>(p + 14) - 0x30) return ERR_IMEI_CHECK_DIGIT;
  return 0;
}

/**
 * Writes the UEID of the (already validated) IMEI at `imei` as a CBOR byte string
 * (h'03' followed by the 14 digit values; RFC 9711 §4.2.1) and returns the end address.
 */
export function writeImeiUeid(out: usize, imei: usize): usize {
  out = cborHead(out, MT_BSTR, <u64>UEID_LEN);
  store<u8>(out, UEID_TYPE_IMEI);
  for (let i = 0; i < 14; i++) store<u8>(out + 1 + <usize>i, load<u8>(imei + <usize>i) - 0x30);
  return out + <usize>UEID_LEN;
}
