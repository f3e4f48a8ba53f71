// node:crypto (OpenSSL) as the independent oracle for the TA's Ed25519, SHA-512, HMAC, HKDF.
import crypto from "node:crypto";

// RFC 8410 §7 / §4: PKCS#8 and SPKI DER prefixes for a raw 32-byte Ed25519 seed / public key.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export function nodeSha512(msg: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.createHash("sha512").update(msg).digest());
}

export function nodeHmacSha512(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.createHmac("sha512", key).update(msg).digest());
}

export function nodeHkdfSha512(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(crypto.hkdfSync("sha512", ikm, salt, info, length));
}

export function nodePrivateKey(seed: Uint8Array): crypto.KeyObject {
  return crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

/** OpenSSL's public key for a seed (the key imported once; JWK export is the cheap path). */
export function nodePublicOf(key: crypto.KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(key.export({ format: "jwk" }).x!, "base64url"));
}

export function nodePublic(seed: Uint8Array): Uint8Array {
  return nodePublicOf(nodePrivateKey(seed));
}

export function nodeSign(seed: Uint8Array | crypto.KeyObject, msg: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.sign(null, msg, seed instanceof Uint8Array ? nodePrivateKey(seed) : seed));
}

/** OpenSSL's verdict; a public key OpenSSL refuses to import counts as "not valid". */
export function nodeVerify(publicKey: Uint8Array, signature: Uint8Array, msg: Uint8Array): boolean {
  let key: crypto.KeyObject;
  try {
    // JWK import stores the raw 32 bytes like the SPKI path does, and is several times faster.
    key = crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") }, format: "jwk" });
  } catch {
    return false;
  }
  try {
    return crypto.verify(null, msg, key, signature);
  } catch {
    return false;
  }
}

/** The same verdict through the SPKI (DER) import path, to show both paths agree. */
export function nodeVerifySpki(publicKey: Uint8Array, signature: Uint8Array, msg: Uint8Array): boolean {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
  } catch {
    return false;
  }
  try {
    return crypto.verify(null, msg, key, signature);
  } catch {
    return false;
  }
}
