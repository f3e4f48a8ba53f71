// The federation across brokers: two real Mosquittos, the second bridged to the first with the
// one rule docs/LEDGER.md §6 gives (`topic at/v1/ledger/# both 1`). Registry A serves its
// handsets on broker 1 (MQTT 3.1.1); registry B lives on broker 2 (MQTT 5). A theft reported at A
// is BLACKLISTED at B; device topics do not cross the bridge.
import { test } from "node:test";
import assert from "node:assert/strict";
import { needTool } from "./support/system-tools.js";
import { startMosquitto } from "./support/brokers.js";
import { waitFor } from "./support/registry-sim.js";
import { eir, ownedHandset, send, startFederation } from "./support/ledger-sim.js";

test("two bridged Mosquittos carry the ledger: stolen at A (broker 1) is BLACKLISTED at B (broker 2)", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const m1 = await startMosquitto();
  t.after(() => m1.stop());
  const m2 = await startMosquitto({
    extraConfig: [
      "connection federation",
      `address 127.0.0.1:${m1.port}`,
      "topic at/v1/ledger/# both 1",
      "cleansession false",
      "bridge_protocol_version mqttv311",
      "restart_timeout 1",
    ],
  });
  t.after(() => m2.stop());
  const f = await startFederation({ names: ["A", "B"], brokers: { A: { url: m1.url, protocolVersion: 4 }, B: { url: m2.url, protocolVersion: 5 } } });
  t.after(() => f.close());
  const [A, B] = f.members as [(typeof f.members)[0], (typeof f.members)[0]];
  await f.converged(); // heads crossed the bridge both ways
  const h = await ownedHandset(f, A);
  t.after(() => h.device.crash());
  const r = await send(A, h.owner, { type: "report-stolen", imei: h.imei });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitFor(async () => (await eir(B, h.imei)).body.status === "BLACKLISTED", "BLACKLISTED at B across the bridge", 10_000);
  const found = await send(A, h.owner, { type: "found", imei: h.imei });
  assert.equal(found.status, 200);
  await waitFor(async () => (await eir(B, h.imei)).status === 404, "cleared at B across the bridge", 10_000);
  assert.equal(B.registry.store.devices.count(), 0, "device topics stay on broker 1");
});
