// Tokens bound to something other than a challenge: a command result (nonce =
// SHA-512(command COSE_Sign1 bytes)[0..32], PROTOCOL.md §4.6) and an owner claim proof
// (nonce = SHA-512("antitheft/v1/claim" || owner COSE_Key)[0..32], §6.2); both nonce formulas
// live in protocol/messages.ts, shared with the handset side. The nonces are derived, not random,
// so "single use" does not apply: each check uses a throwaway NonceStore holding just that
// nonce, and attestation/ verifyDeviceToken does the rest (signature under the enrolled key,
// cnf, ueids, profile, nonce equality).
import { NonceStore, verifyDeviceToken, type Result, type VerifiedToken } from "../attestation/index.js";
import { publicFromCoseKey } from "../attestation/cose/key.js";
import { decodeStrict } from "../attestation/index.js";
import { claimNonce as claimNonceOfPublic, commandNonce } from "../protocol/messages.js";

export { commandNonce };

/** §6.2: the nonce of a claim proof for an owner key given as COSE_Key bytes. */
export function claimNonce(ownerCoseKey: Uint8Array): Uint8Array {
  return claimNonceOfPublic(publicFromCoseKey(decodeStrict(ownerCoseKey)));
}

export interface EnrolledKey {
  /** Raw Ed25519 public key of the device. */
  readonly deviceKey: Uint8Array;
  readonly imei?: string;
  readonly imei2?: string;
}

/** Verifies `token` under the enrolled device key for a derived nonce. Never throws. */
export function verifyBoundToken(device: EnrolledKey, token: Uint8Array, nonce: Uint8Array): Result<VerifiedToken> {
  const nonces = new NonceStore({ ttlMs: 1, now: () => 0 });
  nonces.register(nonce);
  return verifyDeviceToken(
    { token, nonce },
    {
      deviceKey: device.deviceKey,
      ...(device.imei === undefined ? {} : { imei: device.imei }),
      ...(device.imei2 === undefined ? {} : { imei2: device.imei2 }),
    },
    { nonces },
  );
}
