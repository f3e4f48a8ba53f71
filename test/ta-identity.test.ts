// Identity, sealed state and attestation of the release TA (build/ta.wasm) through
// agent/device-ta.ts (docs/ABI.md, "Identity and attestation"). Every refusal is shown
// with its code AND with the state it leaves behind (lock_state record, sealed_state bytes). Tokens
// are checked three ways: signature with node:crypto and with @noble/curves over a Sig_structure
// built from the token's own bytes, claims decoded with cbor-x, and byte equality with an
// independent TypeScript reference (test/ta-identity-reference.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { Decoder, Tag } from "cbor-x";
import { TrustedApp } from "../agent/trusted-app.js";
import { TaError } from "../agent/ta-errors.js";
import {
  DeviceTA, LOCK_STATE, SEALED_BLOB_BYTES, sealedBlobVersion, TA_STATE, type LockRecord, type ProvisionData,
} from "../agent/device-ta.js";
import { compileTa, hex } from "./support/ta.js";
import * as ref from "./ta-identity-reference.js";

// assembly/errors.ts, -10 .. -24
const E = {
  LENGTH: -1,
  NOT_BOOTED: -10,
  ALREADY_BOOTED: -11,
  ALREADY_PROVISIONED: -12,
  NOT_PROVISIONED: -13,
  TAMPERED: -14,
  IMEI_FORMAT: -15,
  IMEI_CHECK_DIGIT: -16,
  IMEI_DUPLICATE: -17,
  OEMID: -18,
  HWMODEL: -19,
  REGISTRY_KEYS: -20,
  NONCE_SIZE: -21,
  MEASUREMENT_SIZE: -22,
  COUNTER: -23,
  DBGSTAT: -24,
} as const;

const MODULE = compileTa();
/** A fresh TA instance: one boot of one device. */
function newTa(): { ta: TrustedApp; dev: DeviceTA } {
  const ta = TrustedApp.fromModule(MODULE);
  return { ta, dev: new DeviceTA(ta) };
}

const HUK_A = Uint8Array.from({ length: 32 }, (_, i) => i);
const HUK_B = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 ^ i);
const NONE = new Uint8Array(0);
const REGISTRY_KEY = ed25519.getPublicKey(new Uint8Array(32).fill(0x42));
const PROV: ProvisionData = {
  imei: "490154203237518",
  imei2: "356938035643809",
  oemid: Uint8Array.from([0x00, 0x1b, 0xc5]),
  hwmodel: "AT-Phone 1",
  registryKeys: [REGISTRY_KEY],
};
const NONCE = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);
const MEAS = Uint8Array.from({ length: 32 }, (_, i) => 0x10 + i);

function refState(data: ProvisionData, version: number, bootcount: number): ref.RefState {
  return {
    imei: data.imei,
    imei2: data.imei2,
    oemid: data.oemid,
    hwmodel: typeof data.hwmodel === "string" ? new TextEncoder().encode(data.hwmodel) : data.hwmodel,
    registryKeys: [...data.registryKeys],
    version,
    bootcount,
    lastSeq: 0,
    lockState: 0,
  };
}

/** Factory: a fresh device boots (counter 0, no blob) and is provisioned; returns the v1 blob. */
function factory(huk: Uint8Array, data: ProvisionData = PROV): Uint8Array {
  const { dev } = newTa();
  assert.deepEqual(dev.boot(huk, NONE, 0, 3), { taState: TA_STATE.UNPROVISIONED, blob: null });
  return dev.provision(data);
}

/** Boots a new instance with a stored blob and counter. */
function reboot(huk: Uint8Array, blob: Uint8Array, counter: number, dbgstat = 3) {
  const t = newTa();
  const r = t.dev.boot(huk, blob, counter, dbgstat);
  return { ...t, ...r };
}

function code(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof TaError) return e.code;
    throw e;
  }
  assert.fail("expected a TaError");
}

/** Everything a host can observe of the state: the lock record and the sealed blob (or its refusal). */
function observe(dev: DeviceTA): { lock: LockRecord; sealed: string } {
  let sealed: string;
  try {
    sealed = hex(dev.sealedState());
  } catch (e) {
    if (!(e instanceof TaError)) throw e;
    sealed = `refused ${e.code}`;
  }
  return { lock: dev.lockState(), sealed };
}

const decoder = new Decoder({ mapsAsObjects: false });

/** Turns Buffers into plain Uint8Arrays, recursively, so deepEqual compares values only. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [plain(k), plain(x)]));
  return v;
}

/**
 * Verifies a token's signature with node:crypto and @noble/curves over the Sig_structure built
 * from the protected header and payload bytes exactly as received (RFC 9052 §4.4), and returns
 * the decoded claims.
 */
function verifyToken(token: Uint8Array, pub: Uint8Array): Map<unknown, unknown> {
  assert.equal(hex(token.subarray(0, 4)), "d83dd284", "61(18([...4 items]))");
  const outer = decoder.decode(token) as Tag;
  assert.ok(outer instanceof Tag && outer.tag === 61);
  const inner = outer.value as Tag;
  assert.ok(inner instanceof Tag && inner.tag === 18);
  const [prot, unprot, payload, sig] = inner.value as [Uint8Array, Map<number, Uint8Array>, Uint8Array, Uint8Array];
  assert.equal(hex(prot), "a10127", "protected = {1: -8} (EdDSA)");
  assert.equal(hex(unprot.get(4)!), hex(ref.kidOf(pub)), "kid = SHA-512(COSE_Key)[0..16]");
  assert.equal(unprot.size, 1);
  const toSign = ref.encode(["Signature1", prot, NONE, payload]);
  const key = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(pub).toString("base64url") },
    format: "jwk",
  });
  assert.equal(nodeVerify(null, toSign, key, sig), true, "node:crypto verifies");
  assert.equal(ed25519.verify(sig, toSign, pub), true, "@noble/curves verifies");
  const bad = Uint8Array.from(toSign);
  bad[bad.length - 1] ^= 1;
  assert.equal(ed25519.verify(sig, bad, pub), false, "a changed payload does not verify");
  return decoder.decode(payload) as Map<unknown, unknown>;
}

test("device binding: the public key is Ed25519(HKDF-SHA-512(HUK, '', info, 32)); two HUKs give two keys", () => {
  const a = newTa().dev;
  const b = newTa().dev;
  assert.equal(code(() => a.devicePublic()), E.NOT_BOOTED);
  a.boot(HUK_A, NONE, 0, 0);
  b.boot(HUK_B, NONE, 0, 0);
  assert.equal(hex(a.devicePublic()), hex(ref.devicePublic(HUK_A)));
  assert.equal(hex(b.devicePublic()), hex(ref.devicePublic(HUK_B)));
  assert.notEqual(hex(a.devicePublic()), hex(b.devicePublic()));
  // the same HUK after a reboot gives the same key
  const again = newTa().dev;
  again.boot(HUK_A, NONE, 0, 4);
  assert.equal(hex(again.devicePublic()), hex(a.devicePublic()));
});

test("factory: UNPROVISIONED boot, provision -> the version-1 blob of the documented layout", () => {
  const { dev } = newTa();
  assert.equal(code(() => dev.lockState()), E.NOT_BOOTED);
  assert.equal(code(() => dev.sealedState()), E.NOT_BOOTED);
  assert.equal(code(() => dev.provision(PROV)), E.NOT_BOOTED);
  assert.deepEqual(dev.boot(HUK_A, NONE, 0, 3), { taState: TA_STATE.UNPROVISIONED, blob: null });
  assert.deepEqual(dev.lockState(), { lockState: 0, taState: TA_STATE.UNPROVISIONED, lastSeq: 0, bootcount: 0, version: 0, message: "", contact: "" });
  assert.equal(code(() => dev.sealedState()), E.NOT_PROVISIONED);
  assert.equal(code(() => dev.attest(NONCE)), E.NOT_PROVISIONED);
  const blob = dev.provision(PROV);
  assert.equal(blob.length, SEALED_BLOB_BYTES);
  assert.equal(sealedBlobVersion(blob), 1);
  assert.equal(hex(blob), hex(ref.sealedBlob(HUK_A, refState(PROV, 1, 0))));
  assert.equal(hex(dev.sealedState()), hex(blob));
  assert.deepEqual(dev.lockState(), { lockState: 0, taState: TA_STATE.NORMAL, lastSeq: 0, bootcount: 0, version: 1, message: "", contact: "" });
  // single IMEI, 16-byte oemid, 4 registry keys, 32-byte model: the other shapes of the layout
  const other: ProvisionData = {
    imei: "260531793113837",
    oemid: new Uint8Array(16).fill(0xee),
    hwmodel: new Uint8Array(32).fill(0x4d),
    registryKeys: [1, 2, 3, 4].map((i) => new Uint8Array(32).fill(i)),
  };
  assert.equal(hex(factory(HUK_B, other)), hex(ref.sealedBlob(HUK_B, refState(other, 1, 0))));
});

test("provisioning twice is refused (ERR_ALREADY_PROVISIONED) and changes nothing, also after a reboot", () => {
  const { dev } = newTa();
  dev.boot(HUK_A, NONE, 0, 3);
  const blob = dev.provision(PROV);
  const before = observe(dev);
  const second: ProvisionData = { ...PROV, imei: "260531793113837", imei2: undefined };
  assert.equal(code(() => dev.provision(second)), E.ALREADY_PROVISIONED);
  assert.equal(code(() => dev.provision(PROV)), E.ALREADY_PROVISIONED);
  // refused for the state before any argument is looked at
  assert.equal(code(() => dev.provision({ ...PROV, imei: "49015420323751X" })), E.ALREADY_PROVISIONED);
  assert.deepEqual(observe(dev), before);
  assert.equal(before.sealed, hex(blob));

  const r = reboot(HUK_A, blob, 1);
  assert.equal(r.taState, TA_STATE.NORMAL);
  const after = observe(r.dev);
  assert.equal(code(() => r.dev.provision(second)), E.ALREADY_PROVISIONED);
  assert.deepEqual(observe(r.dev), after);
});

test("provision refuses malformed and mis-checked IMEIs and bad fields with distinct codes; nothing changes", () => {
  const cases: [string, ProvisionData, number][] = [
    ["a letter", { ...PROV, imei: "49015420323751A" }, E.IMEI_FORMAT],
    ["a space", { ...PROV, imei: "4901542032 7518" }, E.IMEI_FORMAT],
    ["'/' (just below '0')", { ...PROV, imei: "/90154203237518" }, E.IMEI_FORMAT],
    ["':' (just above '9')", { ...PROV, imei: "49015420323751:" }, E.IMEI_FORMAT],
    ["IMEI 2 of 14 digits", { ...PROV, imei2: "35693803564380" }, E.IMEI_FORMAT],
    ["IMEI 2 with a letter", { ...PROV, imei2: "35693803564380x" }, E.IMEI_FORMAT],
    ["IMEI 2 bad check digit", { ...PROV, imei2: "356938035643808" }, E.IMEI_CHECK_DIGIT],
    ["IMEI 2 equal to IMEI 1", { ...PROV, imei2: PROV.imei }, E.IMEI_DUPLICATE],
    ["oemid of 0 bytes", { ...PROV, oemid: NONE }, E.OEMID],
    ["oemid of 4 bytes", { ...PROV, oemid: new Uint8Array(4) }, E.OEMID],
    ["oemid of 15 bytes", { ...PROV, oemid: new Uint8Array(15) }, E.OEMID],
    ["oemid of 17 bytes", { ...PROV, oemid: new Uint8Array(17) }, E.OEMID],
    ["empty hwmodel", { ...PROV, hwmodel: "" }, E.HWMODEL],
    ["33-byte hwmodel", { ...PROV, hwmodel: "M".repeat(33) }, E.HWMODEL],
    ["no registry key", { ...PROV, registryKeys: [] }, E.REGISTRY_KEYS],
    ["5 registry keys", { ...PROV, registryKeys: new Array(5).fill(REGISTRY_KEY) }, E.REGISTRY_KEYS],
  ];
  // every wrong check digit of both worked examples (STANDARDS.md: ...518, ...837)
  for (const good of ["490154203237518", "260531793113837"]) {
    for (let d = 0; d <= 9; d++) {
      const imei = good.slice(0, 14) + String(d);
      if (imei !== good) cases.push([`check digit ${d} for ${good}`, { ...PROV, imei }, E.IMEI_CHECK_DIGIT]);
    }
  }
  // an adjacent transposition (1 5 -> 5 1) is caught; Luhn's one blind spot, 09 <-> 90, is not:
  // "409154203237518" is a valid IMEI (see the last provisioning below)
  cases.push(["adjacent transposition", { ...PROV, imei: "490514203237518" }, E.IMEI_CHECK_DIGIT]);

  const { dev } = newTa();
  dev.boot(HUK_A, NONE, 0, 3);
  const before = observe(dev);
  for (const [name, data, expected] of cases) {
    assert.equal(code(() => dev.provision(data)), expected, name);
    assert.deepEqual(observe(dev), before, `${name}: state unchanged`);
  }
  // IMEI 1 has no length argument (ABI: always 15 bytes): the host class refuses other lengths
  for (const imei of ["", "49015420323751", "4901542032375180"]) {
    assert.throws(() => dev.provision({ ...PROV, imei }), RangeError, `IMEI 1 of ${imei.length} digits`);
  }
  assert.deepEqual(observe(dev), before);
  // still factory-fresh: valid data is accepted afterwards
  const nine: ProvisionData = { ...PROV, imei: "409154203237518" };
  assert.equal(hex(dev.provision(nine)), hex(ref.sealedBlob(HUK_A, refState(nine, 1, 0))));
});

test("boot NORMAL: version == counter or counter + 1; the new blob has version counter + 1 and bootcount + 1", () => {
  const v1 = factory(HUK_A);
  // the host stored v1 and committed its counter to 1
  const a = reboot(HUK_A, v1, 1);
  assert.equal(a.taState, TA_STATE.NORMAL);
  assert.equal(hex(a.blob!), hex(ref.sealedBlob(HUK_A, refState(PROV, 2, 1))));
  assert.deepEqual(a.dev.lockState(), { lockState: 0, taState: TA_STATE.NORMAL, lastSeq: 0, bootcount: 1, version: 2, message: "", contact: "" });
  assert.equal(hex(a.dev.sealedState()), hex(a.blob!));
  // the host stored v1 but crashed before committing (counter still 0): still NORMAL
  const b = reboot(HUK_A, v1, 0);
  assert.equal(b.taState, TA_STATE.NORMAL);
  assert.equal(sealedBlobVersion(b.blob!), 1, "version counter + 1 = 1 again");
  assert.equal(b.dev.lockState().bootcount, 1);
  // and after that crash again the new blob still boots with either counter
  assert.equal(reboot(HUK_A, b.blob!, 0).taState, TA_STATE.NORMAL);
  assert.equal(reboot(HUK_A, b.blob!, 1).taState, TA_STATE.NORMAL);
  // a chain of boots counts up
  let blob = a.blob!;
  for (let counter = 2; counter <= 5; counter++) {
    const r = reboot(HUK_A, blob, counter);
    assert.equal(r.taState, TA_STATE.NORMAL);
    blob = r.blob!;
    assert.equal(sealedBlobVersion(blob), counter + 1);
    assert.equal(r.dev.lockState().bootcount, counter);
  }
  // a second boot on the same instance is refused and changes nothing
  const before = observe(a.dev);
  assert.equal(code(() => a.dev.boot(HUK_A, v1, 1, 3)), E.ALREADY_BOOTED);
  assert.equal(code(() => a.dev.boot(HUK_B, NONE, 0, 3)), E.ALREADY_BOOTED);
  assert.deepEqual(observe(a.dev), before);
  assert.equal(hex(a.dev.devicePublic()), hex(ref.devicePublic(HUK_A)));
});

/** Asserts a booted instance is TAMPERED, refuses what it must, and attests per C2. */
function assertTampered(huk: Uint8Array, t: { dev: DeviceTA; taState: number; blob: Uint8Array | null }, why: string) {
  assert.equal(t.taState, TA_STATE.TAMPERED, why);
  assert.equal(t.blob, null, `${why}: no blob to store`);
  assert.deepEqual(t.dev.lockState(), { lockState: LOCK_STATE.FULLY_LOCKED, taState: TA_STATE.TAMPERED, lastSeq: 0, bootcount: 0, version: 0, message: "", contact: "" }, why);
  assert.equal(code(() => t.dev.sealedState()), E.TAMPERED, why);
  assert.equal(code(() => t.dev.provision(PROV)), E.TAMPERED, `${why}: no re-provisioning`);
  assert.equal(hex(t.dev.devicePublic()), hex(ref.devicePublic(huk)), `${why}: still the HUK's key`);
}

test("a tampered blob (each byte flipped in turn, sampled) boots TAMPERED; the token says so per C2", () => {
  const v1 = factory(HUK_A);
  const positions = new Set<number>();
  for (let i = 0; i < SEALED_BLOB_BYTES; i += 5) positions.add(i);
  // every field's first and last byte (docs/ABI.md layout), the MAC's first and last
  for (const p of [0, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 19, 20, 21, 22, 23, 24, 38, 39, 53, 54, 69, 70, 101, 102, 229, 230, 357, 358, 389, 390, 421]) {
    positions.add(p);
  }
  for (const pos of positions) {
    for (const mask of [0x01, 0x80]) {
      const bad = Uint8Array.from(v1);
      bad[pos] ^= mask;
      assertTampered(HUK_A, reboot(HUK_A, bad, 1), `byte ${pos} ^ ${mask}`);
    }
  }
  const t = reboot(HUK_A, Uint8Array.from(v1, (b, i) => (i === 100 ? b ^ 0xff : b)), 1, 2);
  const token = t.dev.attest(NONCE, MEAS);
  const claims = verifyToken(token, ref.devicePublic(HUK_A));
  assert.deepEqual(plain(claims), plain(ref.claims({ huk: HUK_A, dbgstat: 2, nonce: NONCE, measurement: MEAS })));
  assert.deepEqual([...claims.keys()], [8, 10, 263, 265, 268, 273, -65537, -65538, -65539]);
  assert.equal(claims.get(-65537), 2, "lock_state: fully locked");
  assert.equal(claims.get(-65539), 1, "ta_state: TAMPERED");
  assert.equal(hex(token), hex(ref.token({ huk: HUK_A, dbgstat: 2, nonce: NONCE, measurement: MEAS })));
});

test("a blob from another device (other HUK) boots TAMPERED", () => {
  const fromB = factory(HUK_B);
  assertTampered(HUK_A, reboot(HUK_A, fromB, 1), "HUK B's blob on device A");
  // the same blob is fine on its own device
  assert.equal(reboot(HUK_B, fromB, 1).taState, TA_STATE.NORMAL);
});

test("a rolled-back blob (older version, newer counter) or one from the future boots TAMPERED", () => {
  const v1 = factory(HUK_A);
  const v2 = reboot(HUK_A, v1, 1).blob!;
  const v3 = reboot(HUK_A, v2, 2).blob!;
  assert.equal(sealedBlobVersion(v3), 3);
  assert.equal(reboot(HUK_A, v3, 3).taState, TA_STATE.NORMAL);
  assertTampered(HUK_A, reboot(HUK_A, v1, 3), "v1 with counter 3");
  assertTampered(HUK_A, reboot(HUK_A, v2, 3), "v2 with counter 3");
  assertTampered(HUK_A, reboot(HUK_A, v1, 2), "v1 with counter 2");
  assertTampered(HUK_A, reboot(HUK_A, v3, 1), "v3 with counter 1 (version > counter + 1)");
  assertTampered(HUK_A, reboot(HUK_A, v3, 0), "v3 with counter 0");
  assertTampered(HUK_A, reboot(HUK_A, v1, 0x7fffffff), "v1 with the largest counter");
});

test("no blob while counter > 0 boots TAMPERED: deleting the blob never looks factory-fresh", () => {
  for (const counter of [1, 2, 1000, 0x7fffffff]) {
    assertTampered(HUK_A, reboot(HUK_A, NONE, counter), `counter ${counter}`);
  }
});

test("a truncated, extended or garbage blob boots TAMPERED", () => {
  const v1 = factory(HUK_A);
  const shapes: [string, Uint8Array][] = [
    ["1 byte", v1.subarray(0, 1)],
    ["11 bytes (shorter than the version field)", v1.subarray(0, 11)],
    ["no MAC", v1.subarray(0, 390)],
    ["one byte short", v1.subarray(0, SEALED_BLOB_BYTES - 1)],
    ["one byte extra", Uint8Array.from([...v1, 0])],
    ["all zeros", new Uint8Array(SEALED_BLOB_BYTES)],
    ["all ones", new Uint8Array(SEALED_BLOB_BYTES).fill(0xff)],
    ["MAC zeroed", Uint8Array.from(v1, (b, i) => (i >= 390 ? 0 : b))],
    ["4 KiB", new Uint8Array(4096).fill(7)],
  ];
  for (const [name, blob] of shapes) assertTampered(HUK_A, reboot(HUK_A, blob, 1), name);
});

test("boot refuses bad arguments with codes and stays unbooted (a valid boot then works)", () => {
  const { ta, dev } = newTa();
  const huk = HUK_A;
  const cases: [string, number[], Uint8Array, number][] = [
    ["negative counter", [0, -1, 3], huk, E.COUNTER],
    ["most negative counter", [0, -0x80000000, 3], huk, E.COUNTER],
    ["dbgstat 5", [0, 0, 5], huk, E.DBGSTAT],
    ["dbgstat -1", [0, 0, -1], huk, E.DBGSTAT],
    ["dbgstat i32 max", [0, 0, 0x7fffffff], huk, E.DBGSTAT],
    ["negative blob_len", [-1, 0, 3], huk, E.LENGTH],
    ["most negative blob_len", [-0x80000000, 0, 3], huk, E.LENGTH],
    ["blob_len past the I/O buffer", [ta.ioCap - 31, 0, 3], huk, E.LENGTH],
    ["blob_len i32 max", [0x7fffffff, 0, 3], huk, E.LENGTH],
  ];
  for (const [name, args, input, expected] of cases) {
    assert.equal(ta.call("boot", args, input).status, expected, name);
    assert.equal(code(() => dev.lockState()), E.NOT_BOOTED, `${name}: still not booted`);
  }
  assert.equal(ta.call("boot", [ta.ioCap - 32, 0, 3], huk).status, 0, "the largest blob_len that fits: TAMPERED");
  assert.equal(dev.lockState().taState, TA_STATE.TAMPERED);
});

test("attest refuses wrong nonce and measurement sizes and an UNPROVISIONED device; nothing changes", () => {
  const v1 = factory(HUK_A);
  const { ta, dev } = reboot(HUK_A, v1, 1);
  const before = observe(dev);
  for (const n of [0, 1, 7, 65, 100]) {
    assert.equal(code(() => dev.attest(new Uint8Array(n))), E.NONCE_SIZE, `nonce of ${n} bytes`);
  }
  assert.equal(code(() => dev.attest(NONCE, new Uint8Array(65))), E.MEASUREMENT_SIZE);
  for (const [args, expected] of [
    [[-1, 0, 1], E.NONCE_SIZE],
    [[-0x80000000, 0, 1], E.NONCE_SIZE],
    [[0x7fffffff, 0, 1], E.NONCE_SIZE],
    [[32, -1, 1], E.MEASUREMENT_SIZE],
    [[32, 0x7fffffff, 1], E.MEASUREMENT_SIZE],
    [[32, -0x80000000, 1], E.MEASUREMENT_SIZE],
    // intuse (RFC 9711 §4.3.3) is 1..5; checked after the sizes
    [[32, 0, 0], -25],
    [[32, 0, 6], -25],
    [[32, 0, -1], -25],
    [[32, 0, 0x7fffffff], -25],
    [[32, 0, -0x80000000], -25],
    [[7, 0, 0], E.NONCE_SIZE],
  ] as [number[], number][]) {
    assert.equal(ta.call("attest", args).status, expected, `attest(${args})`);
  }
  assert.deepEqual(observe(dev), before);
  // the boundaries are accepted
  for (const n of [8, 64]) verifyToken(dev.attest(new Uint8Array(n).fill(n), new Uint8Array(64)), dev.devicePublic());
  verifyToken(dev.attest(NONCE, new Uint8Array(1)), dev.devicePublic());
  assert.deepEqual(observe(dev), before, "attesting changes nothing either");

  const fresh = newTa().dev;
  assert.equal(code(() => fresh.attest(NONCE)), E.NOT_BOOTED);
  fresh.boot(HUK_A, NONE, 0, 0);
  assert.equal(code(() => fresh.attest(NONCE)), E.NOT_PROVISIONED);
});

test("the token verifies (node:crypto, @noble/curves) and its claims are exactly the expected values", () => {
  const v1 = factory(HUK_A);
  const v2 = reboot(HUK_A, v1, 1).blob!;
  const { dev } = reboot(HUK_A, v2, 2, 3);
  const pub = dev.devicePublic();
  const state = refState(PROV, 3, 2);

  const token = dev.attest(NONCE, MEAS);
  const claims = verifyToken(token, pub);
  assert.deepEqual([...claims.keys()], [8, 10, 256, 257, 258, 259, 263, 265, 267, 268, 273, -65537, -65538, -65539]);
  assert.equal(hex(claims.get(256) as Uint8Array), "030409000105040200030203070501", "STANDARDS.md UEID example");
  assert.equal(hex((claims.get(257) as Map<string, Uint8Array>).get("imei2")!), "030305060903080003050604030800");
  assert.equal(claims.get(267), 2, "bootcount");
  assert.equal(claims.get(263), 3, "dbgstat");
  assert.equal(claims.get(265), "https://antitheft.dev/eat/v1");
  assert.equal(claims.get(268), 1, "intuse: generic by default");
  assert.deepEqual(plain(claims.get(273)), [[65000, MEAS]]);
  // Each intended use is signed into the token as asked (RFC 9711 §4.3.3).
  for (const purpose of [1, 2, 3, 4, 5]) {
    const tp = dev.attest(NONCE, MEAS, purpose);
    assert.equal(verifyToken(tp, pub).get(268), purpose);
    assert.equal(hex(tp), hex(ref.token({ huk: HUK_A, state, dbgstat: 3, nonce: NONCE, measurement: MEAS, purpose })));
  }
  assert.deepEqual(plain(claims), plain(ref.claims({ huk: HUK_A, state, dbgstat: 3, nonce: NONCE, measurement: MEAS })));
  assert.equal(hex(token), hex(ref.token({ huk: HUK_A, state, dbgstat: 3, nonce: NONCE, measurement: MEAS })));

  // no measurement: claim 273 is omitted; a single IMEI: 257 omitted
  const single: ProvisionData = { ...PROV, imei2: undefined, oemid: new Uint8Array(16).fill(9) };
  const s = reboot(HUK_B, factory(HUK_B, single), 1, 0);
  const t2 = s.dev.attest(NONCE.subarray(0, 8));
  const c2 = verifyToken(t2, s.dev.devicePublic());
  assert.deepEqual([...c2.keys()], [8, 10, 256, 258, 259, 263, 265, 267, 268, -65537, -65538, -65539]);
  const s2 = refState(single, 2, 1);
  assert.equal(hex(t2), hex(ref.token({ huk: HUK_B, state: s2, dbgstat: 0, nonce: NONCE.subarray(0, 8), measurement: NONE })));

  // the largest token: 64-byte nonce and measurement, 16-byte oemid, 32-byte model (payload > 255 bytes)
  const big: ProvisionData = { ...PROV, oemid: new Uint8Array(16).fill(1), hwmodel: "M".repeat(32) };
  const g = reboot(HUK_A, factory(HUK_A, big), 1, 4);
  const n64 = new Uint8Array(64).fill(0xab);
  const m64 = new Uint8Array(64).fill(0xcd);
  const t3 = g.dev.attest(n64, m64);
  verifyToken(t3, g.dev.devicePublic());
  assert.equal(hex(t3), hex(ref.token({ huk: HUK_A, state: refState(big, 2, 1), dbgstat: 4, nonce: n64, measurement: m64 })));
  assert.ok(t3.length < 512, `token of ${t3.length} bytes`);
});

test("hostile arguments to every identity export never trap", () => {
  const values = [0, 1, -1, 7, 8, 15, 16, 32, 64, 65, 422, 16384, 16385, 0x7fffffff, -0x80000000, 0x40000000];
  const exportsArgs: [string, number][] = [
    ["boot", 3], ["provision", 4], ["device_public", 0], ["attest", 3], ["sealed_state", 0], ["lock_state", 0],
  ];
  let calls = 0;
  for (const booted of [false, true]) {
    const { ta, dev } = newTa();
    if (booted) dev.boot(HUK_A, factory(HUK_A), 1, 3);
    for (const [name, arity] of exportsArgs) {
      for (let i = 0; i < 40; i++) {
        const args = Array.from({ length: arity }, (_, k) => values[(i * 7 + k * 5 + i * k) % values.length]);
        const { status } = ta.call(name, args); // TaError (trap) would throw here
        assert.ok(status >= -49 && status <= ta.ioCap, `${name}(${args}) -> ${status}`);
        calls++;
      }
    }
  }
  assert.ok(calls > 400);
});
