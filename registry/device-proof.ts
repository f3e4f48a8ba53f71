// Tokens bound to something other than a challenge: a command result (nonce =
// SHA-512(command COSE_Sign1 bytes)[0..32], PROTOCOL.md §4.6, generic purpose) and an owner claim
// proof (nonce = SHA-512("antitheft/v1/claim" || claim code)[0..32], §6.2, registration purpose:
// EAT intuse 2, RFC 9711 §4.3.3); the nonce formulas live in protocol/messages.ts and
// protocol/claim-code.ts, shared with the handset side. The nonces are derived, not random,
// so "single use" does not apply: each check uses a throwaway NonceStore holding just that
// nonce, and attestation/ verifyDeviceToken does the rest (signature under the enrolled key,
// cnf, ueids, profile, nonce equality).
import { NonceStore, verifyDeviceToken, type Result, type VerifiedToken } from "../attestation/index.js";
import type { Intuse } from "../attestation/eat/profile.js";
import { commandNonce } from "../protocol/messages.js";
import { claimNonce } from "../protocol/claim-code.js";

export { claimNonce, commandNonce };

export interface EnrolledKey {
  /** Raw Ed25519 public key of the device. */
  readonly deviceKey: Uint8Array;
  readonly imei?: string;
  readonly imei2?: string;
}

/** Verifies `token` under the enrolled device key for a derived nonce and purpose(s). Never throws. */
export function verifyBoundToken(device: EnrolledKey, token: Uint8Array, nonce: Uint8Array, purposes: readonly Intuse[]): Result<VerifiedToken> {
  const nonces = new NonceStore({ ttlMs: 1, now: () => 0 });
  nonces.register(nonce);
  return verifyDeviceToken(
    { token, nonce },
    {
      deviceKey: device.deviceKey,
      ...(device.imei === undefined ? {} : { imei: device.imei }),
      ...(device.imei2 === undefined ? {} : { imei2: device.imei2 }),
    },
    { nonces, expect: { purposes } },
  );
}
