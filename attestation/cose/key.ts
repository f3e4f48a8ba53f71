// Ed25519 keys: COSE_Key (RFC 9052 §7, RFC 9053 §7.2 OKP), kid, and PEM/DER via node:crypto.
// Contract C2: COSE_Key = {1: 1 (kty OKP), -1: 6 (crv Ed25519), -2: x (32 bytes)}
//   = a3 01 01 20 06 21 58 20 <x>  (40 bytes: 8 + 32; C2 says "42", a miscount;
//   deterministic: keys 1 < -1 < -2 bytewise);
// kid = the first 16 bytes of SHA-512(COSE_Key bytes).
// OEM, registry and owner keys are stored as PEM: PKCS#8 (private) and SPKI (public), which
// OpenSSL and node:crypto read. Private keys stay inside node:crypto KeyObjects.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { AttestationError } from "../errors.js";
import { abytes, concatBytes } from "../bytes.js";
import { isCborMap, type CborValue } from "../cbor/value.js";

export const COSE_KEY_LENGTH = 40;
export const KID_LENGTH = 16;
export const ED25519_PUBLIC_LENGTH = 32;

const COSE_KEY_PREFIX = Uint8Array.of(0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20);
// RFC 8410 §7: DER prefix of an Ed25519 OneAsymmetricKey (PKCS#8) holding a 32-byte seed.
const PKCS8_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);

/** COSE_Key bytes (40) for a raw 32-byte Ed25519 public key. */
export function coseKeyFromPublic(x: Uint8Array): Uint8Array {
  return concatBytes(COSE_KEY_PREFIX, abytes(x, "Ed25519 public key", [ED25519_PUBLIC_LENGTH]));
}

/** The COSE_Key as a map, for embedding (cnf): {1: 1, -1: 6, -2: x}. */
export function coseKeyMap(x: Uint8Array): Map<number, number | Uint8Array> {
  abytes(x, "Ed25519 public key", [ED25519_PUBLIC_LENGTH]);
  return new Map<number, number | Uint8Array>([[1, 1], [-1, 6], [-2, x]]);
}

/**
 * The raw public key of a decoded COSE_Key map; the map must be exactly
 * {1: 1, -1: 6, -2: 32-byte bstr} (no kid, alg or key_ops: our profile pins the shape).
 */
export function publicFromCoseKey(v: CborValue): Uint8Array {
  if (!isCborMap(v) || v.size !== 3 || v.get(1) !== 1 || v.get(-1) !== 6) {
    throw new AttestationError("E_COSE_KEY", "COSE_Key must be exactly {1: 1 (OKP), -1: 6 (Ed25519), -2: x}");
  }
  const x = v.get(-2);
  if (!(x instanceof Uint8Array) || x.length !== ED25519_PUBLIC_LENGTH) {
    throw new AttestationError("E_COSE_KEY", "COSE_Key x must be a 32-byte byte string");
  }
  return x;
}

/** kid = SHA-512(COSE_Key bytes)[0..16] (contract C2). */
export function kidOfCoseKey(coseKey: Uint8Array): Uint8Array {
  const h = createHash("sha512").update(abytes(coseKey, "COSE_Key")).digest();
  return new Uint8Array(h.subarray(0, KID_LENGTH));
}

/** kid of a raw 32-byte Ed25519 public key. */
export function kidOfPublic(x: Uint8Array): Uint8Array {
  return kidOfCoseKey(coseKeyFromPublic(x));
}

function isEd25519(k: KeyObject, type: "public" | "private"): boolean {
  return k.type === type && k.asymmetricKeyType === "ed25519";
}

/** A fresh Ed25519 key pair (node:crypto). */
export function generateEd25519(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("ed25519");
}

/** The private key for a 32-byte RFC 8032 seed (e.g. derived by HKDF, contract C2). */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  abytes(seed, "seed", [32]);
  return createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, seed)), format: "der", type: "pkcs8" });
}

/** A public KeyObject for a raw 32-byte Ed25519 public key. */
export function publicKeyFromRaw(x: Uint8Array): KeyObject {
  abytes(x, "Ed25519 public key", [ED25519_PUBLIC_LENGTH]);
  // JWK (RFC 8037 §2) import is ~5x faster than SPKI DER through OpenSSL 3's decoders.
  const jwk = { kty: "OKP", crv: "Ed25519", x: Buffer.from(x).toString("base64url") };
  return createPublicKey({ key: jwk, format: "jwk" });
}

/** The raw 32-byte public key of an Ed25519 KeyObject (public, or the public half of a private one). */
export function rawPublicKey(k: KeyObject): Uint8Array {
  const pub = k.type === "private" ? createPublicKey(k) : k;
  if (!isEd25519(pub, "public")) throw new AttestationError("E_PEM", "not an Ed25519 key");
  const der = pub.export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - ED25519_PUBLIC_LENGTH));
}

/** Reads a PKCS#8 PEM Ed25519 private key (E_PEM otherwise). */
export function privateKeyFromPem(pem: string): KeyObject {
  let k: KeyObject;
  try {
    k = createPrivateKey({ key: pem, format: "pem" });
  } catch (e) {
    throw new AttestationError("E_PEM", "cannot read the private key PEM", { cause: e });
  }
  if (!isEd25519(k, "private")) throw new AttestationError("E_PEM", "the private key is not Ed25519");
  return k;
}

/** Reads an SPKI PEM Ed25519 public key (E_PEM otherwise; a private key PEM is refused). */
export function publicKeyFromPem(pem: string): KeyObject {
  if (typeof pem !== "string" || !pem.includes("-----BEGIN PUBLIC KEY-----")) {
    throw new AttestationError("E_PEM", "expected a PEM 'PUBLIC KEY' (SPKI)");
  }
  let k: KeyObject;
  try {
    k = createPublicKey({ key: pem, format: "pem" });
  } catch (e) {
    throw new AttestationError("E_PEM", "cannot read the public key PEM", { cause: e });
  }
  if (!isEd25519(k, "public")) throw new AttestationError("E_PEM", "the public key is not Ed25519");
  return k;
}

/** PKCS#8 PEM of an Ed25519 private key. */
export function privateKeyToPem(k: KeyObject): string {
  if (!isEd25519(k, "private")) throw new AttestationError("E_PEM", "not an Ed25519 private key");
  return k.export({ format: "pem", type: "pkcs8" }) as string;
}

/** SPKI PEM of an Ed25519 public key (a private key gives its public half). */
export function publicKeyToPem(k: KeyObject): string {
  return publicKeyFromRaw(rawPublicKey(k)).export({ format: "pem", type: "spki" }) as string;
}

/** A public key given as raw bytes, a KeyObject, or SPKI PEM text -> raw 32 bytes. */
export function toRawPublic(k: Uint8Array | KeyObject | string): Uint8Array {
  if (k instanceof Uint8Array) return abytes(k, "Ed25519 public key", [ED25519_PUBLIC_LENGTH]);
  if (typeof k === "string") return rawPublicKey(publicKeyFromPem(k));
  if (k && typeof k === "object" && "asymmetricKeyType" in k) return rawPublicKey(k);
  throw new AttestationError("E_ARGUMENT", "a public key must be 32 raw bytes, a KeyObject or SPKI PEM");
}
