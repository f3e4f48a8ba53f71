// A reference attestation-token builder, written from contract C2 alone (notes/contracts.md),
// independent of attestation/: its own byte-level CBOR writer, node:crypto for HKDF, SHA-512
// and Ed25519. The TA (AssemblyScript) must produce exactly these bytes for the same inputs;
// the verifier must accept them. Test-only code.
import { createHash, createPrivateKey, createPublicKey, hkdfSync, sign, type KeyObject } from "node:crypto";

// --- a minimal CBOR writer (RFC 8949 §3, shortest heads) ------------------------------------
export function head(major: number, n: number | bigint): Uint8Array {
  const v = BigInt(n);
  const mt = major << 5;
  if (v < 24n) return Uint8Array.of(mt | Number(v));
  if (v < 0x100n) return Uint8Array.of(mt | 24, Number(v));
  if (v < 0x10000n) return Uint8Array.of(mt | 25, Number(v >> 8n), Number(v & 0xffn));
  if (v < 0x100000000n) {
    const b = new Uint8Array(5);
    b[0] = mt | 26;
    new DataView(b.buffer).setUint32(1, Number(v));
    return b;
  }
  const b = new Uint8Array(9);
  b[0] = mt | 27;
  new DataView(b.buffer).setBigUint64(1, v);
  return b;
}
export const cat = (...p: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of p) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};
export const int = (n: number | bigint): Uint8Array => (BigInt(n) >= 0n ? head(0, n) : head(1, -1n - BigInt(n)));
export const bstr = (b: Uint8Array): Uint8Array => cat(head(2, b.length), b);
export const tstr = (s: string): Uint8Array => {
  const b = new TextEncoder().encode(s);
  return cat(head(3, b.length), b);
};
export const array = (...items: Uint8Array[]): Uint8Array => cat(head(4, items.length), ...items);
/** A map from already-encoded [key, value] pairs, written in the order given. */
export const map = (...entries: [Uint8Array, Uint8Array][]): Uint8Array => cat(head(5, entries.length), ...entries.flat());
export const tag = (t: number, v: Uint8Array): Uint8Array => cat(head(6, t), v);

// --- keys (contract C2) ---------------------------------------------------------------------
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
export const DEVICE_KEY_INFO = "antitheft/v1/device-attestation-key";

/** Device attestation key seed = HKDF-SHA-512(HUK, salt = empty, info, 32) (contract C2). */
export function deviceSeed(huk: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync("sha512", huk, new Uint8Array(0), DEVICE_KEY_INFO, 32));
}
// Key import through OpenSSL is slow (~0.5 ms): keep one KeyObject per seed.
const keys = new Map<string, KeyObject>();
function privateKey(seed: Uint8Array): KeyObject {
  const id = Buffer.from(seed).toString("hex");
  let k = keys.get(id);
  if (k === undefined) {
    k = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
    keys.set(id, k);
  }
  return k;
}
export function publicFromSeed(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKey(seed)).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - 32));
}
export function signWithSeed(seed: Uint8Array, msg: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, msg, privateKey(seed)));
}
/** {1: 1, -1: 6, -2: x} = a3 01 01 20 06 21 58 20 x. */
export const coseKey = (x: Uint8Array): Uint8Array => map([int(1), int(1)], [int(-1), int(6)], [int(-2), bstr(x)]);
export const kid = (x: Uint8Array): Uint8Array => new Uint8Array(createHash("sha512").update(coseKey(x)).digest().subarray(0, 16));

// --- COSE_Sign1 (RFC 9052 §4.2, §4.4) -------------------------------------------------------
export const PROTECTED_EDDSA = Uint8Array.of(0xa1, 0x01, 0x27); // {1: -8}

export interface Sign1Parts {
  readonly protectedBytes?: Uint8Array;
  /** Encoded unprotected map; default {4: kid(signer)}. */
  readonly unprotected?: Uint8Array;
}

/** tag 61(tag 18([protected, unprotected, payload, Ed25519(Sig_structure)])). */
export function referenceSign1(payload: Uint8Array, seed: Uint8Array, parts: Sign1Parts = {}): Uint8Array {
  const prot = parts.protectedBytes ?? PROTECTED_EDDSA;
  const toBeSigned = array(tstr("Signature1"), bstr(prot), bstr(new Uint8Array(0)), bstr(payload));
  const sig = signWithSeed(seed, toBeSigned);
  const unprot = parts.unprotected ?? map([int(4), bstr(kid(publicFromSeed(seed)))]);
  return tag(61, tag(18, array(bstr(prot), unprot, bstr(payload), bstr(sig))));
}

// --- the token claims (contract C2) ---------------------------------------------------------
/** UEID of type IMEI: 0x03 + the 14 digit values TAC + SNR (check digit dropped). */
export function ueid(imei: string): Uint8Array {
  return Uint8Array.from([3, ...[...imei.slice(0, 14)].map((c) => c.charCodeAt(0) - 48)]);
}

export interface ReferenceTokenInput {
  readonly huk: Uint8Array;
  readonly nonce: Uint8Array;
  readonly imei: string;
  readonly imei2?: string;
  readonly oemid: Uint8Array;
  readonly hwmodel: string;
  readonly dbgstat: number;
  readonly bootcount: number;
  /** Host-reported digest (content type 65000); omitted when absent or empty. */
  readonly measurement?: Uint8Array;
  /** intuse (RFC 9711 §4.3.3), default 1 (generic). */
  readonly intuse?: number;
  readonly lockState: number;
  readonly lastSeq: number;
  /** 1 = TAMPERED: identity claims omitted, lock_state reported as 2. */
  readonly taState: 0 | 1;
}

/** The claims map, keys written in the bytewise order C2 lists them. */
export function referenceClaims(i: ReferenceTokenInput): Uint8Array {
  return map(...referenceClaimEntries(i));
}

/** The encoded [label, value] pairs of the claims map, in order (tests edit them). */
export function referenceClaimEntries(i: ReferenceTokenInput): [Uint8Array, Uint8Array][] {
  const pub = publicFromSeed(deviceSeed(i.huk));
  const tampered = i.taState === 1;
  const e: [Uint8Array, Uint8Array][] = [];
  e.push([int(8), map([int(1), coseKey(pub)])]);
  e.push([int(10), bstr(i.nonce)]);
  if (!tampered) {
    e.push([int(256), bstr(ueid(i.imei))]);
    if (i.imei2 !== undefined) e.push([int(257), map([tstr("imei2"), bstr(ueid(i.imei2))])]);
    e.push([int(258), bstr(i.oemid)]);
    e.push([int(259), bstr(new TextEncoder().encode(i.hwmodel))]);
  }
  e.push([int(263), int(i.dbgstat)]);
  e.push([int(265), tstr("https://antitheft.dev/eat/v1")]);
  if (!tampered) e.push([int(267), int(i.bootcount)]);
  e.push([int(268), int(i.intuse ?? 1)]);
  if (i.measurement !== undefined && i.measurement.length > 0) e.push([int(273), array(array(int(65000), bstr(i.measurement)))]);
  e.push([int(-65537), int(tampered ? 2 : i.lockState)]);
  e.push([int(-65538), int(i.lastSeq)]);
  e.push([int(-65539), int(i.taState)]);
  return e;
}

/** The whole token the TA should emit for these inputs. */
export function buildReferenceToken(i: ReferenceTokenInput): Uint8Array {
  return referenceSign1(referenceClaims(i), deviceSeed(i.huk));
}
