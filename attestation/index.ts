// Public surface of the attestation library. Everything else is internal.
export { AttestationError, ERROR_CODES, isErrorCode, unwrap, type ErrorCode, type Result } from "./errors.js";
export { toHex, fromHex } from "./bytes.js";
export {
  luhnCheckDigit, isValidImei, parseImei, imeiFromTacSnr, parseImeisv, formatImeisv, imeiFromImeisv,
  ueidFromImei, imeiFromUeid, isImeiUeid, peiFromImei, peiFromImeisv, parsePei,
  type Imei, type Imeisv, type Pei,
} from "./imei.js";
export { encodeDeterministic } from "./cbor/deterministic.js";
export { decodeStrict, type StrictOptions } from "./cbor/strict.js";
export { CborTag, type CborValue, type CborMap, type CborKey } from "./cbor/value.js";
export {
  coseKeyFromPublic, kidOfCoseKey, kidOfPublic, generateEd25519, privateKeyFromSeed, publicKeyFromRaw, rawPublicKey,
  privateKeyFromPem, publicKeyFromPem, privateKeyToPem, publicKeyToPem,
} from "./cose/key.js";
export {
  ALG_EDDSA, ALG_ED25519, createSign1, decodeSign1, sigStructure, verifySign1, nodeSigner,
  type Signer, type Sign1, type CoseAlg, type CreateSign1Options,
} from "./cose/sign1.js";
export { CLAIM, type TokenClaims, type EndorsementClaims, type HostReportedMeasurement, type LockState, type TaState } from "./eat/claims.js";
export { TOKEN_PROFILE, ENDORSEMENT_PROFILE, MEASUREMENT_HOST_REPORTED, NONCE_MIN, NONCE_MAX, INTUSE, type Intuse } from "./eat/profile.js";
export { createEndorsement, verifyEndorsement, OemRoots, type EndorsementInput, type OemRoot, type VerifiedEndorsement } from "./endorsement.js";
export { NonceStore, type NonceStoreOptions } from "./nonce-store.js";
export {
  verifyAttestation, verifyDeviceToken,
  type AttestationInput, type AttestationPolicy, type VerifiedAttestation, type VerifiedToken,
  type EnrolledDevice, type DeviceTokenInput, type DeviceTokenPolicy, type Expectations,
} from "./verifier.js";
export { toJsonValue } from "./json.js";
