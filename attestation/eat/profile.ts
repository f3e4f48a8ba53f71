// The pinned profiles (RFC 9711 §6: an EAT profile fixes encoding, claims and algorithms).
// Contract C2 and docs/ATTESTATION.md define both.
import { AttestationError } from "../errors.js";
import { HEADER_ALG, HEADER_KID, type Sign1 } from "../cose/sign1.js";
import { KID_LENGTH } from "../cose/key.js";

/** eat_profile (265) of an attestation token. */
export const TOKEN_PROFILE = "https://antitheft.dev/eat/v1";
/** eat_profile (265) of an OEM endorsement. */
export const ENDORSEMENT_PROFILE = "https://antitheft.dev/endorsement/v1";

/** eat_nonce sizes (RFC 9711 §4.1: 8..64 bytes). */
export const NONCE_MIN = 8;
export const NONCE_MAX = 64;
/**
 * intuse (RFC 9711 §4.3.3): the use the token was made for, signed by the TA. Every token of the
 * profile carries it. Registration (2) is made only by a user-present action on the handset
 * (an owner's claim, docs/PROTOCOL.md §6.2); challenge answers and command results are generic (1).
 */
export const INTUSE = { GENERIC: 1, REGISTRATION: 2, PROVISIONING: 3, CERTIFICATE_ISSUANCE: 4, PROOF_OF_POSSESSION: 5 } as const;
export type Intuse = (typeof INTUSE)[keyof typeof INTUSE];

/**
 * measurements (273) content type in the CoAP Content-Format experimental range (RFC 7252
 * §12.3: 65000..65535): "digest of agent/firmware AS REPORTED BY THE HOST, not measured by the TA".
 */
export const MEASUREMENT_HOST_REPORTED = 65000;

/**
 * Envelope rules of the profile on top of RFC 9052: tag 61(tag 18(...)) exactly as contract C2
 * fixes it (RFC 8392 §6 makes the CWT tag optional; the profile does not, so that every token
 * has exactly one valid encoding), protected = {1: alg} only, unprotected = {4: kid of 16
 * bytes} only (the kid is a hint; the key is bound by cnf and the endorsement).
 */
export function checkProfileHeaders(s: Sign1, what: string): Uint8Array {
  if (!s.cwtTag) throw new AttestationError("E_COSE_STRUCTURE", `${what}: the profile requires tag 61 around tag 18`);
  for (const label of s.protectedHeader.keys()) {
    if (label !== HEADER_ALG) throw new AttestationError("E_COSE_STRUCTURE", `${what}: protected header may only carry alg`);
  }
  if (s.unprotectedHeader.size !== 1 || !(s.unprotectedHeader.get(HEADER_KID) instanceof Uint8Array)) {
    throw new AttestationError("E_COSE_STRUCTURE", `${what}: unprotected header must be exactly {4: kid}`);
  }
  const kid = s.unprotectedHeader.get(HEADER_KID) as Uint8Array;
  if (kid.length !== KID_LENGTH) throw new AttestationError("E_COSE_STRUCTURE", `${what}: kid must be ${KID_LENGTH} bytes`);
  return kid;
}
