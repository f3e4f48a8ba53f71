// COSE_Sign1 (RFC 9052 §4.2) with Ed25519, created and verified.
// Verification rules (RFC 9052 §3, §4.4; STANDARDS.md "Verifier rules worth copying"):
// - alg is taken only from the protected header, and must be in the allow-list
//   {-8 EdDSA (RFC 9053 §2.2), -19 Ed25519 (RFC 9864)};
// - crit must be protected, a non-empty array of labels, each understood and present (§3.1);
// - a label must not appear in both header maps (§3); duplicate map keys are refused by the
//   strict decoder (RFC 8949 §5.6);
// - the Sig_structure is built from the protected bstr and the payload bstr exactly as received
//   (§4.4): their contents are never re-encoded, only framed;
// - tag 18 (COSE_Sign1), optionally inside tag 61 (CWT, RFC 8392 §6).
import { sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { AttestationError, guard, type Result } from "../errors.js";
import { abytes, concatBytes } from "../bytes.js";
import { decodeStrict, type StrictOptions } from "../cbor/strict.js";
import { encodeDeterministic } from "../cbor/deterministic.js";
import { encodeHead } from "../cbor/head.js";
import { CborTag, isCborMap, type CborKey, type CborMap, type CborValue } from "../cbor/value.js";
import { coseKeyFromPublic, kidOfCoseKey, publicKeyFromRaw, rawPublicKey } from "./key.js";

export const ALG_EDDSA = -8;
export const ALG_ED25519 = -19;
export type CoseAlg = typeof ALG_EDDSA | typeof ALG_ED25519;
export const ALLOWED_ALGS: readonly number[] = [ALG_EDDSA, ALG_ED25519];

// RFC 9052 §3.1 common header parameters
export const HEADER_ALG = 1;
export const HEADER_CRIT = 2;
export const HEADER_CONTENT_TYPE = 3;
export const HEADER_KID = 4;

export const TAG_COSE_SIGN1 = 18; // RFC 9052 §2
export const TAG_CWT = 61; // RFC 8392 §6

/** Labels this verifier processes; only these may be listed in crit. */
const UNDERSTOOD: readonly CborKey[] = [HEADER_ALG, HEADER_CONTENT_TYPE, HEADER_KID];

/** Signs with an Ed25519 key that may sit behind a handle (HSM, TA): only the public key is visible. */
export interface Signer {
  /** Raw 32-byte Ed25519 public key (used for the kid). */
  readonly publicKey: Uint8Array;
  /** Pure Ed25519 signature (RFC 8032 §5.1.6) of `message`: 64 bytes. */
  sign(message: Uint8Array): Uint8Array;
}

/** The default Signer: a node:crypto Ed25519 private KeyObject. */
export function nodeSigner(privateKey: KeyObject): Signer {
  const publicKey = rawPublicKey(privateKey);
  return {
    publicKey,
    sign: (m) => new Uint8Array(nodeSign(null, m, privateKey)),
  };
}

/** A decoded, structurally checked COSE_Sign1 whose signature has not been checked yet. */
export interface Sign1 {
  /** The protected header bstr contents as received. */
  readonly protectedBytes: Uint8Array;
  readonly protectedHeader: CborMap;
  readonly unprotectedHeader: CborMap;
  /** The payload bstr contents as received. */
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  readonly alg: CoseAlg;
  /** kid (label 4) from either header, if present. */
  readonly kid: Uint8Array | undefined;
  /** True when tag 61 (CWT) wrapped tag 18. */
  readonly cwtTag: boolean;
}

/**
 * Sig_structure = ["Signature1", body_protected, external_aad, payload] (RFC 9052 §4.4), framed
 * around the received byte strings: array(4), text(10), then a shortest bstr head per field.
 */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array, externalAad = new Uint8Array(0)): Uint8Array {
  return concatBytes(
    Uint8Array.of(0x84, 0x6a),
    new TextEncoder().encode("Signature1"),
    encodeHead(2, protectedBytes.length),
    protectedBytes,
    encodeHead(2, externalAad.length),
    externalAad,
    encodeHead(2, payload.length),
    payload,
  );
}

export interface CreateSign1Options {
  /** -8 (EdDSA, default) or -19 (Ed25519). */
  readonly alg?: CoseAlg;
  /** kid for the unprotected header; default: kid of the signer's COSE_Key (contract C2); null: none. */
  readonly kid?: Uint8Array | null;
  /** Wrap in tag 61 (CWT). Default true (contract C2: d8 3d d2 84 ...). */
  readonly cwtTag?: boolean;
}

/** tag 61(tag 18([h'a1 01 27', {4: kid}, payload, signature])) (RFC 9052 §4.2, §4.4). */
export function createSign1(payload: Uint8Array, signer: Signer, options: CreateSign1Options = {}): Uint8Array {
  abytes(payload, "payload");
  const alg = options.alg ?? ALG_EDDSA;
  if (!ALLOWED_ALGS.includes(alg)) throw new AttestationError("E_COSE_ALG_UNSUPPORTED", `alg ${alg}`);
  const protectedBytes = encodeDeterministic(new Map([[HEADER_ALG, alg]]));
  const kid = options.kid === undefined ? kidOfCoseKey(coseKeyFromPublic(signer.publicKey)) : options.kid;
  const unprotected = new Map<number, CborValue>();
  if (kid !== null) unprotected.set(HEADER_KID, abytes(kid, "kid"));
  const signature = abytes(signer.sign(sigStructure(protectedBytes, payload)), "signature", [64]);
  const sign1 = new CborTag(TAG_COSE_SIGN1, [protectedBytes, unprotected, payload, signature]);
  return encodeDeterministic(options.cwtTag === false ? sign1 : new CborTag(TAG_CWT, sign1));
}

function structure(msg: string): never {
  throw new AttestationError("E_COSE_STRUCTURE", msg);
}

function headerMap(protectedBytes: Uint8Array, strict: StrictOptions | undefined): CborMap {
  // RFC 9052 §3: an empty protected header may be sent as a zero-length bstr.
  if (protectedBytes.length === 0) return new Map();
  const h = decodeStrict(protectedBytes, strict);
  if (!isCborMap(h)) structure("protected header is not a map");
  return h;
}

function checkCrit(prot: CborMap, unprot: CborMap): void {
  if (unprot.has(HEADER_CRIT)) throw new AttestationError("E_COSE_CRIT_UNKNOWN", "crit must be in the protected header");
  if (!prot.has(HEADER_CRIT)) return;
  const crit = prot.get(HEADER_CRIT);
  if (!Array.isArray(crit) || crit.length === 0) {
    throw new AttestationError("E_COSE_CRIT_UNKNOWN", "crit must be a non-empty array of labels");
  }
  for (const label of crit) {
    if (typeof label !== "number" && typeof label !== "string") {
      throw new AttestationError("E_COSE_CRIT_UNKNOWN", "crit labels are integers or text strings");
    }
    if (!UNDERSTOOD.includes(label)) throw new AttestationError("E_COSE_CRIT_UNKNOWN", `crit label ${String(label)} is not understood`);
    if (!prot.has(label) && !unprot.has(label)) {
      throw new AttestationError("E_COSE_CRIT_UNKNOWN", `crit label ${String(label)} is not present`);
    }
  }
}

export interface DecodeSign1Options {
  /** Options for the strict decoder (deterministic encoding is required by default). */
  readonly strict?: StrictOptions;
}

/**
 * Decodes and structurally checks a COSE_Sign1 from hostile bytes. Throws only AttestationError.
 * The signature is NOT checked here: call verifySign1Signature (or use verifySign1).
 */
export function decodeSign1(bytes: Uint8Array, options: DecodeSign1Options = {}): Sign1 {
  let v = decodeStrict(bytes, options.strict);
  let cwtTag = false;
  if (v instanceof CborTag && v.tag === TAG_CWT) {
    cwtTag = true;
    v = v.value;
  }
  if (!(v instanceof CborTag) || v.tag !== TAG_COSE_SIGN1) structure("expected tag 18 (COSE_Sign1), optionally inside tag 61");
  const a = v.value;
  if (!Array.isArray(a) || a.length !== 4) structure("COSE_Sign1 must be an array of 4");
  const [p, u, payload, signature] = a;
  if (!(p instanceof Uint8Array)) structure("protected header must be a byte string");
  if (!isCborMap(u)) structure("unprotected header must be a map");
  if (payload === null) structure("detached payloads are not supported");
  if (!(payload instanceof Uint8Array)) structure("payload must be a byte string");
  if (!(signature instanceof Uint8Array)) structure("signature must be a byte string");
  const prot = headerMap(p, options.strict);
  for (const label of prot.keys()) {
    if (u.has(label)) throw new AttestationError("E_COSE_HEADER_DUPLICATE", `label ${String(label)} in both header maps`);
  }
  checkCrit(prot, u);
  const alg = prot.get(HEADER_ALG);
  if (alg === undefined) {
    if (u.has(HEADER_ALG)) throw new AttestationError("E_COSE_ALG_UNPROTECTED", "alg must be in the protected header");
    throw new AttestationError("E_COSE_ALG_UNSUPPORTED", "no alg in the protected header");
  }
  if (typeof alg !== "number" || !ALLOWED_ALGS.includes(alg)) {
    throw new AttestationError("E_COSE_ALG_UNSUPPORTED", `alg ${String(alg)} is not in the allow-list {-8, -19}`);
  }
  const kid = prot.get(HEADER_KID) ?? u.get(HEADER_KID);
  if (kid !== undefined && !(kid instanceof Uint8Array)) structure("kid must be a byte string");
  return {
    protectedBytes: p,
    protectedHeader: prot,
    unprotectedHeader: u,
    payload,
    signature,
    alg: alg as CoseAlg,
    kid,
    cwtTag,
  };
}

/** Checks the Ed25519 signature of a decoded COSE_Sign1; throws E_COSE_SIGNATURE on failure. */
export function verifySign1Signature(s: Sign1, publicKey: Uint8Array | KeyObject): void {
  let ok = false;
  if (s.signature.length === 64) {
    const key = publicKey instanceof Uint8Array ? publicKeyFromRaw(publicKey) : publicKey;
    try {
      // node:crypto (OpenSSL) pure Ed25519, RFC 8032 §5.1.7; OpenSSL rejects S >= L.
      ok = nodeVerify(null, sigStructure(s.protectedBytes, s.payload), key, s.signature);
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new AttestationError("E_COSE_SIGNATURE", "signature does not verify");
}

/** Decodes and verifies a COSE_Sign1 with a known public key. Never throws. */
export function verifySign1(bytes: Uint8Array, publicKey: Uint8Array | KeyObject, options: DecodeSign1Options = {}): Result<Sign1> {
  return guard(() => {
    const s = decodeSign1(bytes, options);
    verifySign1Signature(s, publicKey);
    return s;
  });
}
