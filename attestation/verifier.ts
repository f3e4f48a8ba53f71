// The verifier policy (IETF RATS, RFC 9334 §3: the Verifier; docs/ATTESTATION.md "Checks").
// Chain: pinned OEM roots -> endorsement -> token signed by the endorsed device key -> claims.
// Checks, in order (the first failure is returned):
//  1. endorsement: COSE_Sign1 of the profile, kid names a pinned OEM root, signature verifies,
//     claims valid (profile pinned), oemid bound to the root if the root pins one;
//  2. token: COSE_Sign1 of the profile, its kid is the kid of the endorsed device COSE_Key
//     (E_KEY_MISMATCH), signature verifies with that key over the received bytes;
//  3. token claims valid, eat_profile pinned (E_EAT_PROFILE), cnf = the endorsed key;
//  4. identity: ueid and sueids equal the endorsed ones (skipped in TAMPERED state, where the
//     TA omits them), oemid and hwmodel equal (endorsed, and the caller's expectation if given);
//  4b. intuse: when the caller requires purposes, the token's intuse is one of them (E_PURPOSE);
//  5. nonce: eat_nonce equals the nonce the caller expects (constant time), then the nonce
//     store consumes it (issued here, unused, within the TTL). Consuming it last means a
//     forged or broken token never burns the genuine device's nonce.
// TAMPERED and lock state are surfaced in the result, not errors: the relying party decides.
import type { KeyObject } from "node:crypto";
import { AttestationError, guard, type Result } from "./errors.js";
import { equalBytes } from "./bytes.js";
import { kidOfPublic, publicKeyFromRaw, toRawPublic } from "./cose/key.js";
import { decodeSign1, verifySign1Signature } from "./cose/sign1.js";
import { TA_TAMPERED, decodeTokenClaims, type EndorsementClaims, type LockState, type TokenClaims } from "./eat/claims.js";
import { checkProfileHeaders, type Intuse } from "./eat/profile.js";
import { checkEndorsement, type OemRoots } from "./endorsement.js";
import { checkNonceSize, type NonceStore } from "./nonce-store.js";
import { ueidFromImei } from "./imei.js";

export interface Expectations {
  /** oemid the relying party expects. */
  readonly oemid?: Uint8Array;
  /** hwmodel the relying party expects (UTF-8 text or bytes). */
  readonly hwmodel?: string | Uint8Array;
  /**
   * The intended uses (EAT intuse, RFC 9711 §4.3.3) the relying party accepts here, e.g.
   * [INTUSE.REGISTRATION] for an owner's claim, [INTUSE.GENERIC] for a challenge answer.
   * Absent: any.
   */
  readonly purposes?: readonly Intuse[];
}

/** What a verified token says about the device. */
export interface VerifiedToken {
  readonly deviceKey: Uint8Array;
  readonly deviceKid: Uint8Array;
  /** ta_state = TAMPERED: the TA's sealed state failed verification; counts as locked. */
  readonly tampered: boolean;
  /** lock_state != 0 or tampered. */
  readonly locked: boolean;
  readonly lockState: LockState;
  readonly lastSeq: number;
  readonly token: TokenClaims;
}

/** A verified token together with its endorsement: the identity is the endorsed one. */
export interface VerifiedAttestation extends VerifiedToken {
  /** IMEI 1 as endorsed by the OEM (and, unless tampered, as attested by the TA). */
  readonly imei: string;
  readonly imei2?: string;
  readonly oemid: Uint8Array;
  readonly hwmodel: Uint8Array;
  readonly oemKid: Uint8Array;
  readonly endorsement: EndorsementClaims;
}

const te = new TextEncoder();

function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === "string" ? te.encode(v) : v;
}

function sameOptional(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : equalBytes(a, b);
}

/** Steps 2 and 3: the token's signature and claims under a known device key. */
function checkToken(token: Uint8Array, deviceKey: Uint8Array, key: KeyObject): VerifiedToken {
  const s = decodeSign1(token);
  const kid = checkProfileHeaders(s, "token");
  const deviceKid = kidOfPublic(deviceKey);
  if (!equalBytes(kid, deviceKid)) throw new AttestationError("E_KEY_MISMATCH", "the token's kid is not the device key's kid");
  verifySign1Signature(s, key);
  const claims = decodeTokenClaims(s.payload);
  if (!equalBytes(claims.deviceKey, deviceKey)) throw new AttestationError("E_KEY_MISMATCH", "the token's cnf is not the device key");
  const tampered = claims.taState === TA_TAMPERED;
  return {
    deviceKey,
    deviceKid,
    tampered,
    locked: tampered || claims.lockState !== 0,
    lockState: claims.lockState,
    lastSeq: claims.lastSeq,
    token: claims,
  };
}

function checkPurpose(claims: TokenClaims, expect: Expectations | undefined): void {
  if (expect?.purposes !== undefined && !expect.purposes.includes(claims.intuse)) {
    throw new AttestationError("E_PURPOSE", `the token was made for intuse ${claims.intuse}, not ${expect.purposes.join(" or ")} (RFC 9711 §4.3.3)`);
  }
}

function checkExpectations(oemid: Uint8Array | undefined, hwmodel: Uint8Array | undefined, expect: Expectations | undefined): void {
  if (expect?.oemid !== undefined && (oemid === undefined || !equalBytes(expect.oemid, oemid))) {
    throw new AttestationError("E_OEMID_MISMATCH", "oemid is not the expected one");
  }
  if (expect?.hwmodel !== undefined && (hwmodel === undefined || !equalBytes(toBytes(expect.hwmodel), hwmodel))) {
    throw new AttestationError("E_HWMODEL_MISMATCH", "hwmodel is not the expected one");
  }
}

/** Step 5. */
function checkNonce(claims: TokenClaims, nonce: Uint8Array, nonces: NonceStore): void {
  if (!equalBytes(claims.nonce, nonce)) throw new AttestationError("E_NONCE_MISMATCH", "eat_nonce is not the expected nonce");
  nonces.consume(nonce);
}

export interface AttestationInput {
  /** The attestation token bytes from the device. */
  readonly token: Uint8Array;
  /** The OEM endorsement bytes (endorsement.cbor). */
  readonly endorsement: Uint8Array;
  /** The nonce the relying party issued for this exchange (from `nonces`). */
  readonly nonce: Uint8Array;
}

export interface AttestationPolicy {
  readonly oemRoots: OemRoots;
  readonly nonces: NonceStore;
  readonly expect?: Expectations;
}

/** Verifies token + endorsement + nonce (steps 1..5). Never throws. */
export function verifyAttestation(input: AttestationInput, policy: AttestationPolicy): Result<VerifiedAttestation> {
  return guard(() => {
    const nonce = checkNonceSize(input?.nonce);
    if (!(input.token instanceof Uint8Array)) badArg("token");
    const e = checkEndorsement(input.endorsement, policy.oemRoots);
    const end = e.claims;
    const t = checkToken(input.token, end.deviceKey, publicKeyFromRaw(end.deviceKey));
    const c = t.token;
    if (!t.tampered) {
      // RFC 9711 §4.2.1: UEIDs compared as opaque byte strings.
      if (!equalBytes(c.ueid!, end.ueid) || !sameOptional(c.ueid2, end.ueid2)) {
        throw new AttestationError("E_UEID_MISMATCH", "the token's ueid/sueids differ from the endorsed ones");
      }
      if (!equalBytes(c.oemid!, end.oemid)) throw new AttestationError("E_OEMID_MISMATCH", "token and endorsement oemid differ");
      if (!equalBytes(c.hwmodel!, end.hwmodel)) throw new AttestationError("E_HWMODEL_MISMATCH", "token and endorsement hwmodel differ");
    }
    checkExpectations(end.oemid, end.hwmodel, policy.expect);
    checkPurpose(c, policy.expect);
    checkNonce(c, nonce, policy.nonces);
    return {
      ...t,
      imei: end.imei,
      ...(end.imei2 === undefined ? {} : { imei2: end.imei2 }),
      oemid: end.oemid,
      hwmodel: end.hwmodel,
      oemKid: e.oemKid,
      endorsement: end,
    };
  });
}

/** A device the relying party enrolled earlier: its key, and optionally what it must report. */
export interface EnrolledDevice {
  readonly deviceKey: Uint8Array | KeyObject | string;
  /** IMEI 1 the token must carry as ueid (unless tampered). */
  readonly imei?: string;
  /** IMEI 2 the token must carry in sueids; when `imei` is given and this is not, none must be present. */
  readonly imei2?: string;
}

export interface DeviceTokenInput {
  readonly token: Uint8Array;
  readonly nonce: Uint8Array;
}

export interface DeviceTokenPolicy {
  readonly nonces: NonceStore;
  readonly expect?: Expectations;
}

/** Verifies a token alone under an already enrolled device key (steps 2..5). Never throws. */
export function verifyDeviceToken(input: DeviceTokenInput, device: EnrolledDevice, policy: DeviceTokenPolicy): Result<VerifiedToken> {
  return guard(() => {
    const nonce = checkNonceSize(input?.nonce);
    const raw = toRawPublic(device.deviceKey);
    if (!(input.token instanceof Uint8Array)) badArg("token");
    const t = checkToken(input.token, raw, publicKeyFromRaw(raw));
    const c = t.token;
    if (!t.tampered) {
      if (device.imei !== undefined) {
        const want2 = device.imei2 === undefined ? undefined : ueidFromImei(device.imei2);
        if (!equalBytes(c.ueid!, ueidFromImei(device.imei)) || !sameOptional(c.ueid2, want2)) {
          throw new AttestationError("E_UEID_MISMATCH", "the token's ueid/sueids differ from the enrolled ones");
        }
      }
      checkExpectations(c.oemid, c.hwmodel, policy.expect);
    }
    checkPurpose(c, policy.expect);
    checkNonce(c, nonce, policy.nonces);
    return t;
  });
}

function badArg(name: string): never {
  throw new AttestationError("E_ARGUMENT", `${name} must be a Uint8Array`);
}
