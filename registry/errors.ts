// Every refusal of the registry is a RegistryError with a stable string code (STYLE.md 4).
// The HTTP layer maps each code to a status once (httpStatus below); the CLI prints
// `error <code>: <message>`. Codes are stable: never rename or reuse one, only append.

export const REGISTRY_ERRORS = {
  // request framing (HTTP)
  E_BAD_REQUEST: { status: 400, text: "the request is not a well-formed signed request of PROTOCOL.md §6.2" },
  E_TOO_LARGE: { status: 413, text: "the body exceeds 16 KiB (PROTOCOL.md §2)" },
  E_MEDIA_TYPE: { status: 415, text: "the body must be sent as application/cose (or application/json: a WebAuthn-signed request)" },
  E_NOT_FOUND: { status: 404, text: "no such resource" },
  E_METHOD: { status: 405, text: "method not allowed on this resource" },
  // authentication and freshness
  E_UNKNOWN_SIGNER: { status: 403, text: "the kid names no key allowed to make this request" },
  E_BAD_SIGNATURE: { status: 403, text: "the COSE_Sign1 signature does not verify under the signer's key" },
  E_STALE: { status: 403, text: "ts is more than 300 s away from the registry's clock" },
  E_REPLAY: { status: 409, text: "this request id was already used" },
  // authorisation and device state
  E_UNKNOWN_DEVICE: { status: 404, text: "no enrolled device has this IMEI" },
  E_NOT_OWNER: { status: 403, text: "the signer is not the device's current owner" },
  E_NOT_AUTHORITY: { status: 403, text: "the signer is not a pinned authority" },
  E_NOT_FLAGGING_PARTY: { status: 403, text: "only the party that raised a flag may clear it" },
  E_ALREADY_CLAIMED: { status: 409, text: "the device already has an owner" },
  E_FLAGGED: { status: 409, text: "the device is flagged" },
  E_FLAGGED_BY_OTHER: { status: 409, text: "another party's flag still stands; only it can clear it" },
  E_CLONE_SUSPECT: { status: 409, text: "the IMEI is bound to more than one device key" },
  E_NOT_FLAGGED: { status: 409, text: "no active flag to clear" },
  E_BAD_PROOF: { status: 403, text: "the claim proof is not a registration-purpose attestation of this device for the claim code" },
  E_CLAIM_CODE_UNKNOWN: { status: 403, text: "the claim code was not issued to this owner key for this IMEI" },
  E_CLAIM_CODE_EXPIRED: { status: 403, text: "the claim code has expired; ask for a new one" },
  E_CLAIM_CODE_USED: { status: 409, text: "the claim code was already used" },
  E_RELEASE_REQUIRED: { status: 409, text: "the device was flagged while unclaimed; only an authority's reset-owner can give it an owner" },
  E_SEQ_EXHAUSTED: { status: 409, text: "the device's command sequence numbers are exhausted (2^32-1)" },
  // storage and configuration
  E_DB_VERSION: { status: 500, text: "the database schema is newer than this registry" },
  E_DB: { status: 503, text: "the database is unreachable" },
  E_CONFIG: { status: 500, text: "the registry configuration is invalid" },
  E_INTERNAL: { status: 500, text: "an unexpected internal failure" },
  // abuse resistance
  E_BAD_KEY: { status: 400, text: "the key is not an acceptable Ed25519 public key (off the curve, non-canonical, or of small or mixed order)" },
  E_AUDIENCE: { status: 403, text: "the request is addressed to another registry (its \"aud\" is not this registry's kid)" },
  E_RATE_LIMITED: { status: 429, text: "too many requests from this signer; retry later" },
  // passkeys and the owner portal (docs/PORTAL.md)
  E_UNAUTHENTICATED: { status: 401, text: "sign in with your passkey first" },
  E_WEBAUTHN: { status: 400, text: "not a well-formed WebAuthn response (W3C WebAuthn Level 2 §7)" },
  E_WEBAUTHN_ORIGIN: { status: 403, text: "the WebAuthn response was made on another origin than the registry's portal" },
  E_WEBAUTHN_RP_ID: { status: 403, text: "the WebAuthn response is for another relying party id than the registry's" },
  E_WEBAUTHN_CHALLENGE: { status: 403, text: "the WebAuthn response signs another challenge (another request, or a challenge never issued or already used)" },
  E_WEBAUTHN_COUNTER: { status: 403, text: "the authenticator's signature counter did not move forwards (a replayed assertion or a cloned authenticator)" },
  E_CROSS_ORIGIN: { status: 403, text: "the portal's state-changing calls are accepted from the portal's own origin only" },
} as const;

export type RegistryErrorCode = keyof typeof REGISTRY_ERRORS;

export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  constructor(code: RegistryErrorCode, message: string = REGISTRY_ERRORS[code].text, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RegistryError";
    this.code = code;
  }

  /** The HTTP status this error is answered with. */
  get httpStatus(): number {
    return REGISTRY_ERRORS[this.code].status;
  }
}

/** Any thrown value as a RegistryError (unknown errors become E_INTERNAL, the cause kept). */
export function asRegistryError(e: unknown): RegistryError {
  if (e instanceof RegistryError) return e;
  return new RegistryError("E_INTERNAL", String((e as Error)?.message ?? e), { cause: e });
}
