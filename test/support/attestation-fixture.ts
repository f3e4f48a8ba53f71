// Fixed keys and handsets for the attestation tests: an OEM root, two provisioned devices.
import { createHash } from "node:crypto";
import { privateKeyFromSeed, privateKeyToPem, publicKeyToPem } from "../../attestation/cose/key.js";
import { nodeSigner } from "../../attestation/cose/sign1.js";
import { createEndorsement, OemRoots, type EndorsementInput } from "../../attestation/endorsement.js";
import { NonceStore } from "../../attestation/nonce-store.js";
import { deviceSeed, publicFromSeed, type ReferenceTokenInput } from "./reference-token.js";

const h = (label: string) => new Uint8Array(createHash("sha256").update(label).digest());

export const OEM_SEED = h("antitheft test OEM root");
export const OEM_PRIVATE = privateKeyFromSeed(OEM_SEED);
export const OEM = nodeSigner(OEM_PRIVATE);
export const OEM_PUBLIC_PEM = publicKeyToPem(OEM_PRIVATE);
export const OEM_PRIVATE_PEM = privateKeyToPem(OEM_PRIVATE);
export const OEMID = Uint8Array.of(0x00, 0x1b, 0x63); // a 3-byte IEEE OUI

export interface Device {
  readonly huk: Uint8Array;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly imei: string;
  readonly imei2?: string;
  readonly hwmodel: string;
  readonly oemid: Uint8Array;
}

function device(name: string, imei: string, imei2: string | undefined, hwmodel: string, oemid: Uint8Array): Device {
  const huk = h(`HUK of ${name}`);
  const seed = deviceSeed(huk);
  return { huk, seed, publicKey: publicFromSeed(seed), imei, ...(imei2 === undefined ? {} : { imei2 }), hwmodel, oemid };
}

/** Dual-SIM handset (IMEIs of STANDARDS.md, 3-byte OUI oemid) and a single-SIM one (16-byte oemid). */
export const A = device("A", "490154203237518", "260531793113837", "Phone A1", OEMID);
export const B = device("B", "356938035643809", undefined, "Phone B2", h("OEM B random oemid").subarray(0, 16));

export function endorse(d: Device, over: Partial<EndorsementInput> = {}): Uint8Array {
  return createEndorsement({
    oem: OEM,
    issuer: "Example OEM",
    issuedAt: 1_700_000_000,
    deviceKey: d.publicKey,
    imei: d.imei,
    ...(d.imei2 === undefined ? {} : { imei2: d.imei2 }),
    oemid: d.oemid,
    hwmodel: d.hwmodel,
    ...over,
  });
}

export function tokenInput(d: Device, nonce: Uint8Array, over: Partial<ReferenceTokenInput> = {}): ReferenceTokenInput {
  return {
    huk: d.huk,
    nonce,
    imei: d.imei,
    ...(d.imei2 === undefined ? {} : { imei2: d.imei2 }),
    oemid: d.oemid,
    hwmodel: d.hwmodel,
    dbgstat: 3,
    bootcount: 7,
    measurement: h("agent build 1"),
    lockState: 0,
    lastSeq: 0,
    taState: 0,
    ...over,
  };
}

export class FakeClock {
  t = 1_000_000;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function policy(ttlMs = 60_000) {
  const clock = new FakeClock();
  const nonces = new NonceStore({ ttlMs, now: clock.now });
  return { clock, nonces, oemRoots: new OemRoots([OEM_PUBLIC_PEM]) };
}
