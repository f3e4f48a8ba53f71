// Passkey public keys as owner keys (docs/PORTAL.md §2): the COSE_Key a WebAuthn authenticator
// registers (RFC 9053: EC2 P-256 with ES256, §2.1 and §7.1.1; OKP Ed25519 with EdDSA, §2.2 and
// §7.2), exactly in the shapes below, the point checked. An owner identified by a passkey has
// kid = SHA-512(COSE_Key bytes as registered)[0..16], the rule of PROTOCOL.md §1 applied to
// that key; it signs its requests with WebAuthn assertions, never with a COSE_Sign1.
import { createPublicKey } from "node:crypto";
import { decodeStrict } from "../attestation/index.js";
import { isCborMap } from "../attestation/cbor/value.js";
import { ed25519KeyProblem } from "./key-validity.js";

export const ALG_ES256 = -7;
export const ALG_EDDSA = -8;
export type PasskeyAlg = typeof ALG_ES256 | typeof ALG_EDDSA;

/**
 * The algorithm of a passkey COSE_Key: {1: 2, 3: -7, -1: 1, -2: x, -3: y} (a P-256 point) or
 * {1: 1, 3: -8, -1: 6, -2: x} (an acceptable Ed25519 key); undefined for anything else. Never throws.
 */
export function passkeyAlg(coseKey: Uint8Array): PasskeyAlg | undefined {
  let m;
  try {
    m = decodeStrict(coseKey, { maxDepth: 2, maxItems: 16 });
  } catch {
    return undefined;
  }
  if (!isCborMap(m)) return undefined;
  const x = m.get(-2);
  if (!(x instanceof Uint8Array) || x.length !== 32) return undefined;
  if (m.size === 5 && m.get(1) === 2 && m.get(3) === ALG_ES256 && m.get(-1) === 1) {
    const y = m.get(-3);
    if (!(y instanceof Uint8Array) || y.length !== 32) return undefined;
    try {
      createPublicKey({ key: { kty: "EC", crv: "P-256", x: Buffer.from(x).toString("base64url"), y: Buffer.from(y).toString("base64url") }, format: "jwk" });
    } catch {
      return undefined; // not on the curve
    }
    return ALG_ES256;
  }
  if (m.size === 4 && m.get(1) === 1 && m.get(3) === ALG_EDDSA && m.get(-1) === 6) {
    return ed25519KeyProblem(x) === undefined ? ALG_EDDSA : undefined;
  }
  return undefined;
}
