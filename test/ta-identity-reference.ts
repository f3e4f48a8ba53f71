// An independent reference for the TA's identity outputs, for tests only: the same contract
// (C2 in the notes; docs/ABI.md) written again in TypeScript over node:crypto (HKDF, HMAC) and
// @noble/curves (Ed25519), with its own small deterministic CBOR encoder (RFC 8949 §4.2.1:
// shortest heads, definite lengths, map keys sorted by their encoded bytes). It shares no code
// with the TA, so agreement byte for byte means both follow the documents.
import { createHash, createHmac, hkdfSync } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";

export type Cbor = number | bigint | string | Uint8Array | Cbor[] | Map<Cbor, Cbor> | Tagged;
export class Tagged {
  constructor(readonly tag: number, readonly value: Cbor) {}
}

function head(major: number, arg: bigint): Buffer {
  const m = major << 5;
  if (arg < 24n) return Buffer.from([m | Number(arg)]);
  if (arg < 0x100n) return Buffer.from([m | 24, Number(arg)]);
  if (arg < 0x10000n) {
    const b = Buffer.alloc(3);
    b[0] = m | 25;
    b.writeUInt16BE(Number(arg), 1);
    return b;
  }
  if (arg < 0x1_0000_0000n) {
    const b = Buffer.alloc(5);
    b[0] = m | 26;
    b.writeUInt32BE(Number(arg), 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = m | 27;
  b.writeBigUInt64BE(arg, 1);
  return b;
}

/** Deterministic CBOR (RFC 8949 §4.2.1) of a value. */
export function encode(v: Cbor): Buffer {
  if (typeof v === "number" || typeof v === "bigint") {
    const n = BigInt(v);
    return n >= 0n ? head(0, n) : head(1, -1n - n);
  }
  if (typeof v === "string") {
    const s = Buffer.from(v, "utf8");
    return Buffer.concat([head(3, BigInt(s.length)), s]);
  }
  if (v instanceof Uint8Array) return Buffer.concat([head(2, BigInt(v.length)), v]);
  if (Array.isArray(v)) return Buffer.concat([head(4, BigInt(v.length)), ...v.map(encode)]);
  if (v instanceof Map) {
    const pairs = [...v].map(([k, x]) => [encode(k), encode(x)] as const);
    pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
    for (let i = 1; i < pairs.length; i++) {
      if (pairs[i - 1][0].equals(pairs[i][0])) throw new Error("duplicate map key");
    }
    return Buffer.concat([head(5, BigInt(pairs.length)), ...pairs.flat()]);
  }
  return Buffer.concat([head(6, BigInt(v.tag)), encode(v.value)]);
}

const EMPTY = new Uint8Array(0);
export const INFO_ATTEST = "antitheft/v1/device-attestation-key";
export const INFO_SEAL = "antitheft/v1/sealed-state-mac";
export const EAT_PROFILE = "https://antitheft.dev/eat/v1";
/** measurements content type for "digest reported by the host, not measured by the TA" (C2). */
export const CT_HOST_REPORTED = 65000;

/** The device attestation seed: HKDF-SHA-512(HUK, "", INFO_ATTEST, 32) (contract C2). */
export function deviceSeed(huk: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync("sha512", huk, EMPTY, INFO_ATTEST, 32));
}

export function devicePublic(huk: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(deviceSeed(huk));
}

/** COSE_Key {1: 1 (OKP), -1: 6 (Ed25519), -2: x} (RFC 9053 §7.2). */
export function coseKey(pub: Uint8Array): Buffer {
  return encode(new Map<Cbor, Cbor>([[1, 1], [-1, 6], [-2, pub]]));
}

/** kid = first 16 bytes of SHA-512(COSE_Key) (contract C2). */
export function kidOf(pub: Uint8Array): Buffer {
  return createHash("sha512").update(coseKey(pub)).digest().subarray(0, 16);
}

/** UEID of an IMEI: 0x03 || the 14 TAC+SNR digit values (RFC 9711 §4.2.1). */
export function ueidOf(imei: string): Uint8Array {
  return Uint8Array.from([3, ...[...imei.slice(0, 14)].map((c) => c.charCodeAt(0) - 48)]);
}

/** The state a sealed blob carries. */
export interface RefState {
  imei: string;
  imei2?: string;
  oemid: Uint8Array;
  hwmodel: Uint8Array;
  registryKeys: Uint8Array[];
  version: number;
  bootcount: number;
  lastSeq: number;
  lockState: number;
}

/** The sealed blob, format 1 (docs/ABI.md, "Sealed state blob"), MAC'd with the HUK's seal key. */
export function sealedBlob(huk: Uint8Array, s: RefState): Buffer {
  const b = Buffer.alloc(390);
  b.write("ATSB", 0, "latin1");
  b[4] = 1;
  b[5] = s.imei2 ? 1 : 0;
  b[6] = s.oemid.length;
  b[7] = s.hwmodel.length;
  b.writeUInt32LE(s.version, 8);
  b.writeUInt32LE(s.bootcount, 12);
  b.writeUInt32LE(s.lastSeq, 16);
  b[20] = s.lockState;
  b[21] = s.registryKeys.length;
  b.write(s.imei, 24, "latin1");
  if (s.imei2) b.write(s.imei2, 39, "latin1");
  b.set(s.oemid, 54);
  b.set(s.hwmodel, 70);
  s.registryKeys.forEach((k, i) => b.set(k, 102 + 32 * i));
  const key = hkdfSync("sha512", huk, EMPTY, INFO_SEAL, 64);
  const mac = createHmac("sha512", Buffer.from(key)).update(b).digest().subarray(0, 32);
  return Buffer.concat([b, mac]);
}

/** What a token attests. `state` undefined = TAMPERED. */
export interface RefAttestation {
  huk: Uint8Array;
  state?: RefState;
  dbgstat: number;
  nonce: Uint8Array;
  measurement: Uint8Array;
  /** intuse (RFC 9711 §4.3.3), default 1 (generic). */
  purpose?: number;
}

/** The claims map of contract C2 (a Map with integer and text keys). */
export function claims(a: RefAttestation): Map<Cbor, Cbor> {
  const pub = devicePublic(a.huk);
  const m = new Map<Cbor, Cbor>();
  m.set(8, new Map<Cbor, Cbor>([[1, new Map<Cbor, Cbor>([[1, 1], [-1, 6], [-2, pub]])]]));
  m.set(10, a.nonce);
  const s = a.state;
  if (s) {
    m.set(256, ueidOf(s.imei));
    if (s.imei2) m.set(257, new Map<Cbor, Cbor>([["imei2", ueidOf(s.imei2)]]));
    m.set(258, s.oemid);
    m.set(259, s.hwmodel);
    m.set(267, s.bootcount);
  }
  m.set(263, a.dbgstat);
  m.set(265, EAT_PROFILE);
  m.set(268, a.purpose ?? 1);
  if (a.measurement.length > 0) m.set(273, [[CT_HOST_REPORTED, a.measurement]]);
  m.set(-65537, s ? s.lockState : 2);
  m.set(-65538, s ? s.lastSeq : 0);
  m.set(-65539, s ? 0 : 1);
  return m;
}

/** The token: 61(18([h'a10127', {4: kid}, payload, Ed25519 signature])) (RFC 9052 §4.2, §4.4). */
export function token(a: RefAttestation): Buffer {
  const protectedHeader = encode(new Map<Cbor, Cbor>([[1, -8]]));
  const payload = encode(claims(a));
  const toSign = encode(["Signature1", protectedHeader, EMPTY, payload]);
  const sig = ed25519.sign(toSign, deviceSeed(a.huk));
  const kid = kidOf(devicePublic(a.huk));
  return encode(new Tagged(61, new Tagged(18, [protectedHeader, new Map<Cbor, Cbor>([[4, kid]]), payload, sig])));
}
