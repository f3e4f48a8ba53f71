// Equipment status for networks (3GPP TS 29.511 N5g-eir_EquipmentIdentityCheck, PROTOCOL.md
// §6.3) over real HTTP on a registry whose SQLite state is set through the store's own API:
// every status, 404 ERROR_EQUIPMENT_UNKNOWN, and the 400 cases of a malformed PEI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generateEd25519, imeiFromTacSnr } from "../attestation/index.js";
import { Registry } from "../registry/registry.js";
import { signingKey } from "../registry/keys.js";
import { equipmentStatus, imeiOfPei } from "../registry/equipment-status.js";
import { OEM, getJson, tempDir } from "./support/registry-sim.js";

const WHITE = "490154203237518";
const BLACK = "356938035643809";
const GREY_CLONE = "260531793113837";
const GREY_TAMPERED = imeiFromTacSnr("35693803100001");
const BLACK_AND_CLONE = imeiFromTacSnr("35693803100002");
const UNKNOWN = imeiFromTacSnr("35693803999999");

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = tempDir();
  const registry = new Registry({
    db: join(dir.path, "eir.sqlite"),
    registryKey: signingKey(generateEd25519().privateKey),
    oemRoots: [OEM.publicKey],
    http: { host: "127.0.0.1", port: 0 },
  });
  await registry.start();
  t.after(async () => {
    await registry.stop();
    dir.cleanup();
  });
  const s = registry.store;
  let n = 0;
  const device = (imei: string, over: { tampered?: boolean } = {}): string => {
    const did = (++n).toString(16).padStart(32, "0");
    s.devices.insert({
      did, deviceKey: new Uint8Array(32).fill(n), endorsement: new Uint8Array([n]), oemid: new Uint8Array(3), hwmodel: new Uint8Array([0x41]),
      at: 1, bootcount: 1, lockState: 0, lastSeq: 0, tampered: over.tampered ?? false, measurement: null,
    });
    s.imeis.bind(imei, did, 1, 1);
    return did;
  };
  s.tx(() => {
    device(WHITE);
    s.flags.raise(device(BLACK), BLACK, "stolen", { role: "owner", kid: new Uint8Array(16) }, "", 1);
    device(GREY_CLONE);
    device(GREY_CLONE);
    device(GREY_TAMPERED, { tampered: true });
    s.flags.raise(device(BLACK_AND_CLONE), null, "authority", { role: "authority", kid: new Uint8Array(16).fill(1) }, "", 1);
    device(BLACK_AND_CLONE);
  });
  const eir = (query: string) => getJson(`${registry.httpUrl}/n5g-eir-eic/v1/equipment-status${query}`);
  return { registry, eir };
}

test("200 with each status, by imei- and imeisv- PEI", async (t) => {
  const { eir } = await setup(t);
  const cases: [string, string][] = [
    [WHITE, "WHITELISTED"],
    [BLACK, "BLACKLISTED"],
    [GREY_CLONE, "GREYLISTED"],
    [GREY_TAMPERED, "GREYLISTED"],
    [BLACK_AND_CLONE, "BLACKLISTED"],
  ];
  for (const [imei, status] of cases) {
    const r = await eir(`?pei=imei-${imei}`);
    assert.equal(r.status, 200, imei);
    assert.deepEqual(r.body, { status }, imei);
    assert.match(r.type ?? "", /^application\/json/);
    const sv = await eir(`?pei=imeisv-${imei.slice(0, 14)}07&supi=imsi-001010000000001`);
    assert.deepEqual(sv.body, { status }, `imeisv of ${imei}`);
  }
});

test("404 ProblemDetails ERROR_EQUIPMENT_UNKNOWN for an IMEI never enrolled", async (t) => {
  const { eir } = await setup(t);
  const r = await eir(`?pei=imei-${UNKNOWN}`);
  assert.equal(r.status, 404);
  assert.match(r.type ?? "", /^application\/problem\+json/);
  assert.equal(r.body.status, 404);
  assert.equal(r.body.cause, "ERROR_EQUIPMENT_UNKNOWN");
});

test("400 ProblemDetails for a missing or malformed PEI, including a wrong check digit", async (t) => {
  const { eir } = await setup(t);
  const bad = [
    "?pei=imei-49015420323751", // 14 digits
    "?pei=imei-4901542032375188", // 16 digits
    "?pei=imei-49015420323751a",
    "?pei=imei-490154203237517", // check digit 7, should be 8 (TS 23.003 Annex B)
    "?pei=imeisv-490154203237518", // 15 digits for an IMEISV
    "?pei=490154203237518", // no prefix
    "?pei=mac-00-11-22-33-44-55",
    `?pei=imei-${WHITE}&pei=imei-${BLACK}`, // ambiguous
  ];
  for (const q of bad) {
    const r = await eir(q);
    assert.equal(r.status, 400, q);
    assert.match(r.type ?? "", /^application\/problem\+json/, q);
    assert.equal(r.body.cause, "MANDATORY_IE_INCORRECT", q);
    assert.equal(r.body.invalidParams[0].param, "pei", q);
  }
  const missing = await eir("");
  assert.equal(missing.status, 400);
  assert.equal(missing.body.cause, "MANDATORY_IE_MISSING");
});

test("a check digit sent as 0 (TS 23.003 §6.2.1) is looked up by TAC + SNR", async (t) => {
  const { eir } = await setup(t);
  const r = await eir(`?pei=imei-${BLACK.slice(0, 14)}0`);
  assert.deepEqual(r.body, { status: "BLACKLISTED" });
  assert.deepEqual(imeiOfPei(`imei-${BLACK.slice(0, 14)}0`), { ok: true, imei: BLACK });
});

test("inconsistent data is never an implicit allow: a binding without its device is GREYLISTED", async (t) => {
  const { registry, eir } = await setup(t);
  const s = registry.store;
  s.db.pragma("foreign_keys = OFF");
  s.imeis.bind(UNKNOWN, "ffffffffffffffffffffffffffffffff", 1, 1);
  assert.equal(equipmentStatus(s, UNKNOWN), "GREYLISTED");
  assert.deepEqual((await eir(`?pei=imei-${UNKNOWN}`)).body, { status: "GREYLISTED" });
  // And a failure inside the registry is a 500, never a WHITELISTED.
  s.close();
  const r = await eir(`?pei=imei-${WHITE}`);
  assert.equal(r.status, 500);
  assert.equal(r.body.cause, "SYSTEM_FAILURE");
});
