// An OEM root may endorse only the TAC ranges it is pinned for (PROTOCOL.md §6.1): another pinned
// OEM that endorses a second key with a victim's IMEI - to have the victim greylisted as a clone
// suspect - is refused and logged; the victim stays WHITELISTED. The same OEM still enrols its
// own handsets, and pinning with a malformed range list is a configuration error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519, imeiFromTacSnr, nodeSigner } from "../attestation/index.js";
import { createEndorsement } from "../attestation/endorsement.js";
import { parseTacRanges } from "../registry/oem-ranges.js";
import { RegistryError } from "../registry/errors.js";
import { OEM, OEMID, RefTa, startHarness, getJson, waitFor } from "./support/registry-sim.js";

test("an OEM pinned for other TAC ranges cannot endorse a victim's IMEI: refused, logged, the victim stays WHITELISTED", async (t) => {
  const other = nodeSigner(generateEd25519().privateKey);
  const h = await startHarness({
    oemRoots: [
      { key: OEM.publicKey, tacs: "35693803-35693803" },
      { key: other.publicKey, tacs: "86000000-86999999" },
    ],
  });
  t.after(() => h.close());
  const victim = h.handset();
  const v = h.device(victim);
  await v.connect();
  await waitFor(() => h.registry.store.devices.get(v.did), "the victim's enrolment");
  const imei = victim.ta.id.imei;

  // The rogue handset: its own key, the victim's IMEI, endorsed by the other OEM.
  const ta = new RefTa({ imei, oemid: OEMID, hwmodel: "Rogue" }, [h.registryKey.publicKey]);
  const endorsement = createEndorsement({ oem: other, issuedAt: 1_700_000_000, deviceKey: ta.publicKey, imei, oemid: OEMID, hwmodel: "Rogue" });
  const rogue = h.device({ ta, endorsement });
  await rogue.connect();
  await waitFor(() => h.log.named("hello.refused").some((e) => e.did === rogue.did && String(e.reason).includes("E_OEM_RANGE")), "the out-of-range endorsement refused and logged");
  await h.registry.idle();
  assert.equal(h.registry.store.devices.get(rogue.did), undefined, "the rogue key was enrolled");
  assert.deepEqual(h.registry.store.imeis.didsFor(imei), [v.did]);
  assert.equal((await getJson(`${h.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`)).body.status, "WHITELISTED");

  // The other OEM's own handsets (TAC 86...) enrol.
  const own = imeiFromTacSnr("86123456000001");
  const ta2 = new RefTa({ imei: own, oemid: OEMID, hwmodel: "Other" }, [h.registryKey.publicKey]);
  const d2 = h.device({ ta: ta2, endorsement: createEndorsement({ oem: other, issuedAt: 1_700_000_000, deviceKey: ta2.publicKey, imei: own, oemid: OEMID, hwmodel: "Other" }) });
  await d2.connect();
  await waitFor(() => h.registry.store.devices.get(d2.did), "the other OEM's own handset enrolled");
});

test("TAC range lists: single TACs and ranges; anything else is E_CONFIG", () => {
  assert.deepEqual(parseTacRanges("35123400-35123499,86123456"), [{ from: "35123400", to: "35123499" }, { from: "86123456", to: "86123456" }]);
  for (const bad of ["", "3512340", "35123499-35123400", "35123400-", "abc", "35123400,,"]) {
    assert.throws(() => parseTacRanges(bad), (e: unknown) => e instanceof RegistryError && e.code === "E_CONFIG", bad);
  }
});
