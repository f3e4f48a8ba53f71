// Golden vectors (test/vectors/identity-golden.json): fixed HUKs, IMEIs, nonces and measurements
// give exactly these device keys, sealed blobs and tokens (Ed25519 is deterministic). The release
// TA must reproduce every byte, and so must the independent TypeScript reference; the wasm2c C
// build and attestation/'s builder are held to the same file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DeviceTA, TA_STATE, type ProvisionData } from "../agent/device-ta.js";
import { compileTa, hex, ROOT, unhex } from "./support/ta.js";
import * as ref from "./ta-identity-reference.js";

interface GoldenCase {
  name: string;
  huk: string;
  factory: null | {
    dbgstat: number;
    provision: { imei: string; imei2: string | null; oemid: string; hwmodel: string; registry_keys: string[] };
  };
  boot: null | { blob: "provision_blob" | "none"; counter: number; dbgstat: number };
  attest: { nonce: string; measurement: string; purpose: number };
  expected: {
    device_public: string;
    kid: string;
    provision_blob: string | null;
    boot_blob: string | null;
    ta_state: number;
    token: string;
  };
}

const golden = JSON.parse(readFileSync(`${ROOT}test/vectors/identity-golden.json`, "utf8")) as { cases: GoldenCase[] };
const MODULE = compileTa();

function provisionData(p: NonNullable<GoldenCase["factory"]>["provision"]): ProvisionData {
  return {
    imei: p.imei,
    imei2: p.imei2 ?? undefined,
    oemid: unhex(p.oemid),
    hwmodel: unhex(p.hwmodel),
    registryKeys: p.registry_keys.map(unhex),
  };
}

test("the golden file has the three documented cases, each with a token", () => {
  assert.deepEqual(golden.cases.map((c) => c.name), ["dual-imei-measured", "single-imei-fresh", "tampered-blob-deleted"]);
  for (const c of golden.cases) assert.match(c.expected.token, /^d83dd28443a10127a10450[0-9a-f]{32}/);
});

for (const c of golden.cases) {
  test(`golden ${c.name}: the release TA reproduces every byte`, () => {
    const huk = unhex(c.huk);
    let dev: DeviceTA | undefined;
    if (c.factory) {
      dev = DeviceTA.fromModule(MODULE);
      assert.equal(dev.boot(huk, new Uint8Array(0), 0, c.factory.dbgstat).taState, TA_STATE.UNPROVISIONED);
      assert.equal(hex(dev.provision(provisionData(c.factory.provision))), c.expected.provision_blob);
    }
    if (c.boot) {
      dev = DeviceTA.fromModule(MODULE);
      const blob = c.boot.blob === "provision_blob" ? unhex(c.expected.provision_blob!) : new Uint8Array(0);
      const r = dev.boot(huk, blob, c.boot.counter, c.boot.dbgstat);
      assert.equal(r.blob === null ? null : hex(r.blob), c.expected.boot_blob);
    }
    assert.ok(dev, "a case boots at least once");
    assert.equal(hex(dev.devicePublic()), c.expected.device_public);
    assert.equal(dev.lockState().taState, c.expected.ta_state);
    const token = dev.attest(unhex(c.attest.nonce), unhex(c.attest.measurement), c.attest.purpose);
    assert.equal(hex(token), c.expected.token);
    assert.equal(hex(token.subarray(11, 27)), c.expected.kid);
  });

  test(`golden ${c.name}: the TypeScript reference reproduces the token`, () => {
    const huk = unhex(c.huk);
    assert.equal(hex(ref.devicePublic(huk)), c.expected.device_public);
    assert.equal(hex(ref.kidOf(ref.devicePublic(huk))), c.expected.kid);
    let state: ref.RefState | undefined;
    if (c.factory) {
      const p = provisionData(c.factory.provision);
      state = {
        imei: p.imei, imei2: p.imei2, oemid: p.oemid, hwmodel: p.hwmodel as Uint8Array,
        registryKeys: [...p.registryKeys], version: 1, bootcount: 0, lastSeq: 0, lockState: 0,
      };
      assert.equal(hex(ref.sealedBlob(huk, state)), c.expected.provision_blob);
      if (c.boot) {
        state = { ...state, version: c.boot.counter + 1, bootcount: 1 };
        assert.equal(hex(ref.sealedBlob(huk, state)), c.expected.boot_blob);
      }
    }
    const tampered = c.expected.ta_state === TA_STATE.TAMPERED;
    const dbgstat = c.boot ? c.boot.dbgstat : c.factory!.dbgstat;
    const token = ref.token({
      huk, state: tampered ? undefined : state, dbgstat,
      nonce: unhex(c.attest.nonce), measurement: unhex(c.attest.measurement), purpose: c.attest.purpose,
    });
    assert.equal(hex(token), c.expected.token);
  });
}
