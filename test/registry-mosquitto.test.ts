// The registry on a real Mosquitto (PROTOCOL.md §2: MQTT 3.1.1 and MQTT 5): enrolment, a stolen
// report locking a handset that was offline (persistent session, QoS 1), and found unlocking it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519 } from "../attestation/index.js";
import { buildRequest } from "../registry/request-codec.js";
import { claimWithCode } from "./support/claim.js";
import { signingKey } from "../registry/keys.js";
import { needTool } from "./support/system-tools.js";
import { startMosquitto } from "./support/agent-harness.js";
import { getJson, postCose, startHarness, waitFor } from "./support/registry-sim.js";

for (const version of [4, 5] as const) {
  test(`Mosquitto, MQTT ${version === 5 ? "5" : "3.1.1"}: enrol, lock while offline, unlock`, async (t) => {
    if (!needTool(t, "mosquitto")) return;
    const broker = await startMosquitto();
    const h = await startHarness({}, { broker, protocolVersion: version });
    t.after(() => h.close());
    const hs = h.handset();
    const d = h.device(hs);
    await d.connect();
    await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
    const imei = hs.ta.id.imei;
    const owner = signingKey(generateEd25519().privateKey);
    const send = (r: Parameters<typeof buildRequest>[1]) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(owner.signer, r, h.registryKey.kid));
    assert.equal((await claimWithCode(send, owner, hs.ta, imei)).status, 200);
    await d.disconnect();
    assert.equal((await send({ type: "report-stolen", imei, message: "locked remotely" })).status, 200);
    await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SENT", "the broker has the command");
    await d.connect();
    await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SUCCEEDED", "lock result");
    assert.equal(hs.ta.lockState, 2);
    assert.deepEqual((await getJson(`${h.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`)).body, { status: "BLACKLISTED" });
    assert.equal((await send({ type: "found", imei })).status, 200);
    await waitFor(() => hs.ta.lockState === 0, "unlock");
  });
}
