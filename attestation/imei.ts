// IMEI, IMEISV, UEID and PEI helpers.
// 3GPP TS 23.003 §6.2: IMEI = TAC (8) + SNR (6) + CD (1); IMEISV = TAC + SNR + SVN (2).
// TS 23.003 Annex B: the check digit is a Luhn digit over the 14 digits TAC + SNR.
// RFC 9711 §4.2.1: UEID type 0x03 (IMEI) = 0x03 followed by the 14 digits TAC + SNR, one
// digit value per byte, no check digit: 15 bytes.
// TS 29.571 (Pei, used by TS 29.511 N5g-eir): "imei-<15 digits>" or "imeisv-<16 digits>".
import { AttestationError } from "./errors.js";

export const UEID_TYPE_IMEI = 0x03;
export const UEID_IMEI_LENGTH = 15;

export interface Imei {
  /** The 15 digits, check digit included. */
  readonly imei: string;
  /** Type Allocation Code: the first 8 digits. */
  readonly tac: string;
  /** Serial number: digits 9..14. */
  readonly snr: string;
  /** Check digit (TS 23.003 Annex B). */
  readonly checkDigit: number;
}

export interface Imeisv {
  /** The 16 digits. */
  readonly imeisv: string;
  readonly tac: string;
  readonly snr: string;
  /** Software version number: the last 2 digits. */
  readonly svn: string;
}

function digits(s: unknown, n: number, what: string): string {
  if (typeof s !== "string" || s.length !== n || !/^[0-9]+$/.test(s)) {
    throw new AttestationError("E_IMEI_FORMAT", `${what} must be exactly ${n} decimal digits`);
  }
  return s;
}

/**
 * The Luhn check digit of the 14 digits TAC + SNR (TS 23.003 Annex B): counting from the
 * rightmost of the 14 digits as D1, double D1, D3, D5, ...; add the digit sums of the products
 * and the undoubled digits; CD = (10 - sum mod 10) mod 10.
 * Worked example (STANDARDS.md): 49015420323751 -> 8.
 */
export function luhnCheckDigit(tacSnr: string): number {
  const s = digits(tacSnr, 14, "TAC + SNR");
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    let d = s.charCodeAt(13 - i) - 48; // i = 0 is D1, the rightmost digit
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9; // digit sum of a two-digit product
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** True for 15 decimal digits whose last digit is the Luhn check digit of the first 14. */
export function isValidImei(s: unknown): boolean {
  if (typeof s !== "string" || !/^[0-9]{15}$/.test(s)) return false;
  return luhnCheckDigit(s.slice(0, 14)) === s.charCodeAt(14) - 48;
}

/** Parses a 15-digit IMEI and checks its check digit (E_IMEI_FORMAT, E_IMEI_CHECK_DIGIT). */
export function parseImei(s: unknown): Imei {
  const imei = digits(s, 15, "an IMEI");
  const cd = luhnCheckDigit(imei.slice(0, 14));
  if (cd !== imei.charCodeAt(14) - 48) {
    throw new AttestationError("E_IMEI_CHECK_DIGIT", `IMEI check digit should be ${cd} (TS 23.003 Annex B)`);
  }
  return { imei, tac: imei.slice(0, 8), snr: imei.slice(8, 14), checkDigit: cd };
}

/** The full 15-digit IMEI for 14 digits TAC + SNR. */
export function imeiFromTacSnr(tacSnr: string): string {
  return tacSnr + String(luhnCheckDigit(tacSnr));
}

/** Parses a 16-digit IMEISV (TS 23.003 §6.2.2). */
export function parseImeisv(s: unknown): Imeisv {
  const imeisv = digits(s, 16, "an IMEISV");
  return { imeisv, tac: imeisv.slice(0, 8), snr: imeisv.slice(8, 14), svn: imeisv.slice(14) };
}

/** IMEISV = TAC + SNR of a (checked) IMEI + a 2-digit SVN; the check digit is not carried. */
export function formatImeisv(imei: string, svn: string): string {
  const p = parseImei(imei);
  return p.tac + p.snr + digits(svn, 2, "an SVN");
}

/** The IMEI (with a recomputed check digit) of the handset an IMEISV names. */
export function imeiFromImeisv(imeisv: string): string {
  return imeiFromTacSnr(parseImeisv(imeisv).imeisv.slice(0, 14));
}

/** UEID of type IMEI (RFC 9711 §4.2.1): 0x03 + the 14 digit values of TAC + SNR. */
export function ueidFromImei(imei: string): Uint8Array {
  const p = parseImei(imei);
  const out = new Uint8Array(UEID_IMEI_LENGTH);
  out[0] = UEID_TYPE_IMEI;
  for (let i = 0; i < 14; i++) out[i + 1] = p.imei.charCodeAt(i) - 48;
  return out;
}

/** True when `u` is a well-formed IMEI-type UEID. */
export function isImeiUeid(u: unknown): u is Uint8Array {
  if (!(u instanceof Uint8Array) || u.length !== UEID_IMEI_LENGTH || u[0] !== UEID_TYPE_IMEI) return false;
  for (let i = 1; i < UEID_IMEI_LENGTH; i++) if (u[i]! > 9) return false;
  return true;
}

/** The 15-digit IMEI for an IMEI-type UEID; the check digit is recomputed (E_UEID_FORMAT). */
export function imeiFromUeid(ueid: Uint8Array): string {
  if (!isImeiUeid(ueid)) {
    throw new AttestationError("E_UEID_FORMAT", "a UEID of type IMEI is 0x03 followed by 14 digit values 0..9");
  }
  let s = "";
  for (let i = 1; i < UEID_IMEI_LENGTH; i++) s += String(ueid[i]);
  return imeiFromTacSnr(s);
}

export type Pei = { readonly kind: "imei"; readonly digits: string } | { readonly kind: "imeisv"; readonly digits: string };

/** PEI string for an IMEI, as TS 29.511 equipment-status queries take it: "imei-<15 digits>". */
export function peiFromImei(imei: string): string {
  return `imei-${parseImei(imei).imei}`;
}

/** PEI string for an IMEISV: "imeisv-<16 digits>". */
export function peiFromImeisv(imeisv: string): string {
  return `imeisv-${parseImeisv(imeisv).imeisv}`;
}

/**
 * Parses the IMEI forms of a PEI (TS 29.571 Pei pattern). Only the digit count is checked:
 * the check digit is not transmitted in signalling and may arrive as a spare 0
 * (TS 23.003 §6.2.1, TS 24.008 §10.5.1.4), so check it with parseImei where a full IMEI is due.
 */
export function parsePei(s: unknown): Pei {
  if (typeof s === "string") {
    if (s.startsWith("imei-")) return { kind: "imei", digits: digits(s.slice(5), 15, "the digits of an imei- PEI") };
    if (s.startsWith("imeisv-")) return { kind: "imeisv", digits: digits(s.slice(7), 16, "the digits of an imeisv- PEI") };
  }
  throw new AttestationError("E_IMEI_FORMAT", "a PEI must be imei-<15 digits> or imeisv-<16 digits>");
}
