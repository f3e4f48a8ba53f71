// Every failure of the attestation library is an AttestationError with a stable string code.
// The table below is the single source of the codes (docs/ATTESTATION.md, "Error codes",
// reproduces it; test/attestation-verifier.test.ts checks the two agree).
// Codes are stable: never rename or reuse one, only append.

export const ERROR_CODES = {
  // API use (the caller's own values, not hostile input)
  E_ARGUMENT: "an argument has the wrong type or is out of range",
  E_INTERNAL: "an unexpected internal failure (a bug); the cause is attached",
  // CBOR (RFC 8949)
  E_CBOR_MALFORMED: "not well-formed CBOR: truncated, reserved additional information, a stray break, invalid UTF-8",
  E_CBOR_INDEFINITE_LENGTH: "an indefinite-length item (RFC 8949 §4.2.1 requires definite lengths)",
  E_CBOR_NOT_DETERMINISTIC: "a non-shortest integer, length or tag, or map keys out of bytewise order (RFC 8949 §4.2.1)",
  E_CBOR_DUPLICATE_KEY: "a map key occurs twice (RFC 8949 §5.6)",
  E_CBOR_TRAILING_BYTES: "bytes follow the single top-level item",
  E_CBOR_LIMIT: "nesting depth, item count or input size above the decoder's limits",
  E_CBOR_UNSUPPORTED: "a valid CBOR feature this profile does not use: floats, other simple values, non-int/text map keys, out-of-range integers",
  // COSE (RFC 9052)
  E_COSE_STRUCTURE: "not a COSE_Sign1 of this profile: wrong tag, array shape, member types or header labels",
  E_COSE_ALG_UNSUPPORTED: "the protected alg is missing or not in the allow-list {-8 EdDSA, -19 Ed25519}",
  E_COSE_ALG_UNPROTECTED: "alg appears only in the unprotected header (RFC 9052 §3.1: alg must be protected)",
  E_COSE_CRIT_UNKNOWN: "crit is malformed, unprotected, or lists a label this verifier does not understand",
  E_COSE_HEADER_DUPLICATE: "a label is present in both the protected and the unprotected header (RFC 9052 §3)",
  E_COSE_KEY: "a COSE_Key is not exactly {1: 1 (OKP), -1: 6 (Ed25519), -2: 32-byte x}",
  E_COSE_SIGNATURE: "the signature does not verify over the Sig_structure of the received bytes",
  // EAT claims (RFC 9711) and our profile
  E_EAT_CLAIM_MISSING: "a claim the profile requires is absent",
  E_EAT_CLAIM_INVALID: "a claim has the wrong type, size or value, or is present where the profile forbids it",
  E_EAT_CLAIM_UNKNOWN: "a claim label the profile does not define",
  E_EAT_PROFILE: "eat_profile (265) is not the pinned profile string",
  E_PURPOSE: "the token's intuse (268, RFC 9711 §4.3.3) is not one the relying party accepts here",
  // Nonces
  E_NONCE_SIZE: "a nonce is not 8..64 bytes",
  E_NONCE_MISMATCH: "the token's eat_nonce differs from the nonce the verifier expects",
  E_NONCE_UNKNOWN: "the nonce was not issued by (or registered with) this nonce store",
  E_NONCE_REPLAYED: "the nonce was already used",
  E_NONCE_EXPIRED: "the nonce is older than the store's time-to-live",
  // Trust chain and identity binding
  E_ENDORSEMENT_UNTRUSTED: "the endorsement's kid names no pinned OEM root key",
  E_KEY_MISMATCH: "the token's signing key (kid or cnf) is not the endorsed or enrolled device key",
  E_UEID_MISMATCH: "ueid or sueids in the token differ from the endorsed or expected ones",
  E_OEMID_MISMATCH: "oemid differs between token, endorsement, pinned root or expectation",
  E_HWMODEL_MISMATCH: "hwmodel differs between token, endorsement or expectation",
  // Identifiers (3GPP TS 23.003)
  E_IMEI_FORMAT: "an IMEI, IMEISV or PEI is not the right number of decimal digits",
  E_IMEI_CHECK_DIGIT: "the IMEI check digit is wrong (TS 23.003 Annex B)",
  E_UEID_FORMAT: "a UEID is not the IMEI type: 0x03 followed by 14 digit values 0..9",
  // Keys
  E_PEM: "a PEM or DER key cannot be read, or is not an Ed25519 key of the expected kind",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AttestationError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "AttestationError";
    this.code = code;
  }
}

/** The result of every verification: a value, or a typed error. Never a throw. */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: AttestationError };

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/**
 * Runs `f` at a verification boundary: AttestationErrors become `{ ok: false }`, and anything
 * else (a bug, never expected on any input) becomes E_INTERNAL with the original as `cause`,
 * so hostile input can never make a verifier throw. The fuzz tests assert E_INTERNAL never occurs.
 */
export function guard<T>(f: () => T): Result<T> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (e instanceof AttestationError) return { ok: false, error: e };
    return { ok: false, error: new AttestationError("E_INTERNAL", String(e), { cause: e }) };
  }
}

/** Throws the error of a failed Result, or returns its value. */
export function unwrap<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw r.error;
}
