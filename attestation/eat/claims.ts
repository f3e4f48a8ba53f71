// Claim labels and typed decoding/validation of the two claim sets of contract C2:
// the attestation token (EAT, RFC 9711) and the OEM endorsement (a CWT, RFC 8392).
// Labels: CWT (RFC 8392 §4) iss 1, iat 6, cnf 8 (RFC 8747 §3.1); EAT (RFC 9711 §4)
// eat_nonce 10, ueid 256, sueids 257, oemid 258, hwmodel 259, dbgstat 263, eat_profile 265,
// bootcount 267, intuse 268 (§4.3.3), measurements 273; private-use claims below -65536 (RFC 8392 §9.1).
// Every claim is checked for type, size and range; labels the profile does not define are
// refused (E_EAT_CLAIM_UNKNOWN): the profile pins the claim set (RFC 9711 §6, profiles).
import { AttestationError } from "../errors.js";
import { decodeStrict } from "../cbor/strict.js";
import { isCborMap, isUint, type CborMap, type CborValue } from "../cbor/value.js";
import { publicFromCoseKey } from "../cose/key.js";
import { imeiFromUeid, isImeiUeid } from "../imei.js";
import { ENDORSEMENT_PROFILE, MEASUREMENT_HOST_REPORTED, NONCE_MAX, NONCE_MIN, TOKEN_PROFILE, type Intuse } from "./profile.js";

export const CLAIM = {
  iss: 1,
  iat: 6,
  cnf: 8,
  eat_nonce: 10,
  ueid: 256,
  sueids: 257,
  oemid: 258,
  hwmodel: 259,
  dbgstat: 263,
  eat_profile: 265,
  bootcount: 267,
  intuse: 268,
  measurements: 273,
  lock_state: -65537,
  last_seq: -65538,
  ta_state: -65539,
} as const;

/** cnf (RFC 8747 §3.1): the COSE_Key confirmation method. */
export const CNF_COSE_KEY = 1;
/** The only sueids (257) entry the profile defines: the second IMEI of a dual-SIM handset. */
export const SUEID_IMEI2 = "imei2";

/** LwM2M Object 8 resource 0: 0 unlocked, 1 partially locked, 2 fully locked. */
export type LockState = 0 | 1 | 2;
/** 0 NORMAL, 1 TAMPERED (the sealed state failed verification). */
export type TaState = 0 | 1;
export const TA_NORMAL = 0;
export const TA_TAMPERED = 1;

/** A digest reported by the host; the TA did NOT measure it (content type 65000). */
export interface HostReportedMeasurement {
  readonly contentType: typeof MEASUREMENT_HOST_REPORTED;
  readonly hostReported: true;
  readonly digest: Uint8Array;
}

export interface TokenClaims {
  readonly profile: string;
  readonly nonce: Uint8Array;
  /** Raw Ed25519 public key from cnf. */
  readonly deviceKey: Uint8Array;
  /** Absent in TAMPERED state. */
  readonly ueid?: Uint8Array;
  readonly imei?: string;
  readonly ueid2?: Uint8Array;
  readonly imei2?: string;
  readonly oemid?: Uint8Array;
  readonly hwmodel?: Uint8Array;
  readonly dbgstat: number;
  readonly bootcount?: number;
  /** intuse (RFC 9711 §4.3.3): 1 generic, 2 registration, 3 provisioning, 4 certificate issuance, 5 proof-of-possession. */
  readonly intuse: Intuse;
  readonly measurements: readonly HostReportedMeasurement[];
  readonly lockState: LockState;
  readonly lastSeq: number;
  readonly taState: TaState;
}

export interface EndorsementClaims {
  readonly profile: string;
  readonly iss?: string;
  readonly iat: number;
  readonly deviceKey: Uint8Array;
  readonly ueid: Uint8Array;
  readonly imei: string;
  readonly ueid2?: Uint8Array;
  readonly imei2?: string;
  readonly oemid: Uint8Array;
  readonly hwmodel: Uint8Array;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function invalid(name: string, why: string): never {
  throw new AttestationError("E_EAT_CLAIM_INVALID", `${name}: ${why}`);
}

const NAMES = new Map<number, string>(Object.entries(CLAIM).map(([k, v]) => [v, k]));

class Claims {
  constructor(private readonly m: CborMap) {}
  has(label: number): boolean {
    return this.m.has(label);
  }
  need(label: number): CborValue {
    if (!this.m.has(label)) throw new AttestationError("E_EAT_CLAIM_MISSING", `${NAMES.get(label)} (${label}) is required`);
    return this.m.get(label);
  }
  forbid(label: number, why: string): void {
    if (this.m.has(label)) invalid(NAMES.get(label)!, why);
  }
  bytes(label: number, min: number, max: number): Uint8Array {
    const v = this.need(label);
    if (!(v instanceof Uint8Array) || v.length < min || v.length > max) invalid(NAMES.get(label)!, `a byte string of ${min}..${max} bytes`);
    return v;
  }
  uint(label: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.need(label);
    if (!isUint(v) || v > max) invalid(NAMES.get(label)!, `an unsigned integer 0..${max}`);
    return v;
  }
  ueid(label: number): Uint8Array {
    const v = this.need(label);
    if (!isImeiUeid(v)) invalid(NAMES.get(label)!, "a UEID of type IMEI (0x03 + 14 digit values)");
    return v;
  }
}

function claimMap(payload: Uint8Array, allowed: readonly number[], profile: string): Claims {
  const v = decodeStrict(payload); // deterministic CBOR required (RFC 8949 §4.2.1, contract C2)
  if (!isCborMap(v)) throw new AttestationError("E_EAT_CLAIM_INVALID", "the payload is not a claims map");
  const c = new Claims(v);
  // The profile first: it defines what every other claim means (RFC 9711 §4.3.2).
  const p = c.need(CLAIM.eat_profile);
  if (typeof p !== "string") invalid("eat_profile", "a text string (URI)");
  if (p !== profile) throw new AttestationError("E_EAT_PROFILE", `eat_profile is not ${profile}`);
  for (const label of v.keys()) {
    if (typeof label !== "number" || !allowed.includes(label)) {
      throw new AttestationError("E_EAT_CLAIM_UNKNOWN", `claim ${String(label)} is not defined by ${profile}`);
    }
  }
  return c;
}

function cnfKey(c: Claims): Uint8Array {
  const cnf = c.need(CLAIM.cnf);
  if (!isCborMap(cnf) || cnf.size !== 1 || !cnf.has(CNF_COSE_KEY)) invalid("cnf", "must be {1: COSE_Key} (RFC 8747 §3.2)");
  return publicFromCoseKey(cnf.get(CNF_COSE_KEY));
}

function sueids(c: Claims): { ueid2?: Uint8Array; imei2?: string } {
  if (!c.has(CLAIM.sueids)) return {};
  const m = c.need(CLAIM.sueids);
  if (!isCborMap(m) || m.size !== 1 || !isImeiUeid(m.get(SUEID_IMEI2))) {
    invalid("sueids", `must be {"${SUEID_IMEI2}": UEID of type IMEI}`);
  }
  const ueid2 = m.get(SUEID_IMEI2) as Uint8Array;
  return { ueid2, imei2: imeiFromUeid(ueid2) };
}

function oemid(c: Claims): Uint8Array {
  const v = c.bytes(CLAIM.oemid, 3, 16);
  if (v.length !== 3 && v.length !== 16) invalid("oemid", "3 bytes (IEEE OUI) or 16 bytes (random)"); // RFC 9711 §4.2.3
  return v;
}

function hwmodel(c: Claims): Uint8Array {
  const v = c.bytes(CLAIM.hwmodel, 1, 32);
  try {
    utf8.decode(v);
  } catch {
    invalid("hwmodel", "UTF-8 model name");
  }
  return v;
}

function measurements(c: Claims): HostReportedMeasurement[] {
  if (!c.has(CLAIM.measurements)) return [];
  const v = c.need(CLAIM.measurements);
  // RFC 9711 §4.2.16 measurements = [+ [content-type, bstr]]; contract C2 has one entry.
  if (!Array.isArray(v) || v.length !== 1) invalid("measurements", "one [65000, digest] entry");
  const e = v[0];
  if (!Array.isArray(e) || e.length !== 2 || e[0] !== MEASUREMENT_HOST_REPORTED) {
    invalid("measurements", `entry must be [${MEASUREMENT_HOST_REPORTED}, digest]`);
  }
  const d = e[1];
  if (!(d instanceof Uint8Array) || d.length < 1 || d.length > 64) invalid("measurements", "digest of 1..64 bytes");
  return [{ contentType: MEASUREMENT_HOST_REPORTED, hostReported: true, digest: d }];
}

function intuse(c: Claims): Intuse {
  const v = c.uint(CLAIM.intuse, 5); // RFC 9711 §4.3.3: the values 1..5 the RFC registers
  if (v < 1) invalid("intuse", "1 (generic) .. 5 (proof-of-possession)");
  return v as Intuse;
}

const TOKEN_LABELS: readonly number[] = [
  CLAIM.cnf, CLAIM.eat_nonce, CLAIM.ueid, CLAIM.sueids, CLAIM.oemid, CLAIM.hwmodel, CLAIM.dbgstat,
  CLAIM.eat_profile, CLAIM.bootcount, CLAIM.intuse, CLAIM.measurements, CLAIM.lock_state, CLAIM.last_seq, CLAIM.ta_state,
];

/** Decodes and validates the claims of an attestation token payload (contract C2). */
export function decodeTokenClaims(payload: Uint8Array): TokenClaims {
  const c = claimMap(payload, TOKEN_LABELS, TOKEN_PROFILE);
  const taState = c.uint(CLAIM.ta_state, 1) as TaState;
  const lockState = c.uint(CLAIM.lock_state, 2) as LockState;
  const common = {
    profile: TOKEN_PROFILE,
    nonce: c.bytes(CLAIM.eat_nonce, NONCE_MIN, NONCE_MAX), // RFC 9711 §4.1
    deviceKey: cnfKey(c),
    dbgstat: c.uint(CLAIM.dbgstat, 4), // RFC 9711 §4.2.9
    intuse: intuse(c),
    measurements: measurements(c),
    lockState,
    lastSeq: c.uint(CLAIM.last_seq),
    taState,
  };
  if (taState === TA_TAMPERED) {
    // C2: a TAMPERED TA cannot trust its sealed provisioning data.
    const why = "must be absent in TAMPERED state";
    for (const l of [CLAIM.ueid, CLAIM.sueids, CLAIM.oemid, CLAIM.hwmodel, CLAIM.bootcount]) c.forbid(l, why);
    if (lockState !== 2) invalid("lock_state", "must be 2 (fully locked) in TAMPERED state");
    return common;
  }
  const ueid = c.ueid(CLAIM.ueid);
  return {
    ...common,
    ueid,
    imei: imeiFromUeid(ueid),
    ...sueids(c),
    oemid: oemid(c),
    hwmodel: hwmodel(c),
    bootcount: c.uint(CLAIM.bootcount),
  };
}

const ENDORSEMENT_LABELS: readonly number[] = [
  CLAIM.iss, CLAIM.iat, CLAIM.cnf, CLAIM.ueid, CLAIM.sueids, CLAIM.oemid, CLAIM.hwmodel, CLAIM.eat_profile,
];

/** Decodes and validates the claims of an endorsement payload (contract C2). */
export function decodeEndorsementClaims(payload: Uint8Array): EndorsementClaims {
  const c = claimMap(payload, ENDORSEMENT_LABELS, ENDORSEMENT_PROFILE);
  let iss: string | undefined;
  if (c.has(CLAIM.iss)) {
    const v = c.need(CLAIM.iss);
    if (typeof v !== "string" || v.length === 0 || v.length > 256) invalid("iss", "a text string of 1..256 characters");
    iss = v;
  }
  const ueid = c.ueid(CLAIM.ueid);
  return {
    profile: ENDORSEMENT_PROFILE,
    ...(iss === undefined ? {} : { iss }),
    iat: c.uint(CLAIM.iat),
    deviceKey: cnfKey(c),
    ueid,
    imei: imeiFromUeid(ueid),
    ...sueids(c),
    oemid: oemid(c),
    hwmodel: hwmodel(c),
  };
}
