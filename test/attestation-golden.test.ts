// The TA's golden tokens (test/vectors/identity-golden.json) against attestation/:
// the test-tree reference builder (written from contract C2 alone) must give the same bytes,
// and the verifier must accept each token under the golden device key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fromHex, toHex } from "../attestation/bytes.js";
import { NonceStore } from "../attestation/nonce-store.js";
import { verifyDeviceToken } from "../attestation/verifier.js";
import * as R from "./support/reference-token.js";

interface GoldenCase {
  name: string;
  huk: string;
  factory: null | { dbgstat: number; provision: { imei: string; imei2: string | null; oemid: string; hwmodel: string } };
  boot: null | { blob: "provision_blob" | "none"; counter: number; dbgstat: number };
  attest: { nonce: string; measurement: string; purpose: number };
  expected: { device_public: string; kid: string; ta_state: number; token: string };
}

const file = fileURLToPath(new URL("../../test/vectors/identity-golden.json", import.meta.url));
const golden = JSON.parse(readFileSync(file, "utf8")) as { cases: GoldenCase[] };

for (const c of golden.cases) {
  test(`golden ${c.name}: reference bytes equal the TA's, and the verifier accepts them`, () => {
    const huk = fromHex(c.huk);
    const pub = R.publicFromSeed(R.deviceSeed(huk));
    assert.equal(toHex(pub), c.expected.device_public);
    assert.equal(toHex(R.kid(pub)), c.expected.kid);
    const tampered = c.expected.ta_state === 1;
    const p = c.factory?.provision;
    const nonce = fromHex(c.attest.nonce);
    const token = R.buildReferenceToken({
      huk,
      nonce,
      imei: p?.imei ?? "",
      ...(p?.imei2 ? { imei2: p.imei2 } : {}),
      oemid: fromHex(p?.oemid ?? ""),
      hwmodel: new TextDecoder().decode(fromHex(p?.hwmodel ?? "")),
      dbgstat: c.boot?.dbgstat ?? c.factory!.dbgstat,
      bootcount: c.boot?.counter ?? 0, // provisioning leaves counter 0; each boot with the blob matches the counter
      measurement: fromHex(c.attest.measurement),
      intuse: c.attest.purpose,
      lockState: 0,
      lastSeq: 0,
      taState: tampered ? 1 : 0,
    });
    assert.equal(toHex(token), c.expected.token);
    const nonces = new NonceStore({ ttlMs: 1000, now: () => 0 });
    nonces.register(nonce);
    const r = verifyDeviceToken(
      { token: fromHex(c.expected.token), nonce },
      { deviceKey: pub, ...(p && !tampered ? { imei: p.imei, ...(p.imei2 ? { imei2: p.imei2 } : {}) } : {}) },
      { nonces },
    );
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.equal(r.value.tampered, tampered);
    assert.equal(r.value.token.measurements.length, c.attest.measurement.length > 0 ? 1 : 0);
  });
}
