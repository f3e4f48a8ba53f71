// Ownership abuse through the broker (PROTOCOL.md §6.2, claim codes and purposes): anyone who can
// publish on a handset's challenge topic used to get a valid claim proof for an owner key of
// their choosing, claim an unclaimed phone, report it stolen and hold it to ransom. The real
// agent and the real TA answer here; the attacker is a plain MQTT client on the same broker.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "mqtt";
import { generateEd25519 } from "../attestation/index.js";
import { Agent } from "../agent/agent.js";
import { DeviceFolder } from "../agent/device-folder.js";
import { SimulatedHandset } from "../agent/enforcement.js";
import { provisionDevice } from "../agent/factory.js";
import { mqttTransport } from "../agent/mqtt-link.js";
import { claimNonce, decodeAttestation, deviceTopic, encodeChallenge } from "../protocol/messages.js";
import { buildRequest } from "../registry/request-codec.js";
import { signingKey } from "../registry/keys.js";
import { OEM } from "./support/attestation-fixture.js";
import { taModule } from "./support/agent-harness.js";
import { freshImei, postCose, startHarness, waitFor } from "./support/registry-sim.js";

test("claim hijack: a token obtained by challenging the handset over the broker does not claim it", async (t) => {
  const h = await startHarness();
  const cleanups: (() => unknown)[] = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c();
    await h.close();
  });
  const folder = DeviceFolder.inMemory();
  const imei = freshImei();
  const info = await provisionDevice(folder, taModule(), { imei, oem: OEM, registryKeys: [h.registryKey.publicKey], model: "Hijack Phone" });
  const agent = await Agent.start({
    folder, module: taModule(), transport: mqttTransport(h.broker.url), enforcer: new SimulatedHandset(), heartbeatS: 0, backoff: { baseMs: 20, capMs: 200 },
  });
  cleanups.push(() => agent.stop(false));
  await waitFor(() => h.registry.store.devices.get(info.did), "enrolment", 20_000);

  // The attacker: an ordinary broker client with its own owner key.
  const thief = signingKey(generateEd25519().privateKey);
  const mq = connect(h.broker.url, { clientId: "attacker", protocolVersion: 4 });
  cleanups.push(() => mq.end(true));
  await new Promise<void>((r) => mq.once("connect", () => r()));
  const tokens: Uint8Array[] = [];
  mq.on("message", (_topic, payload) => {
    try {
      tokens.push(decodeAttestation(new Uint8Array(payload)).token);
    } catch { /* not an attestation */ }
  });
  await new Promise<void>((r, j) => mq.subscribe(deviceTopic(info.did, "attestation"), { qos: 1 }, (e) => (e ? j(e) : r())));
  mq.publish(deviceTopic(info.did, "challenge"), Buffer.from(encodeChallenge({ nonce: claimNonce(thief.publicKey) })), { qos: 1 });
  const proof = await waitFor(() => tokens[0], "the handset's answer to the attacker's challenge", 20_000);

  const r = await postCose(`${h.url}/antitheft/v1/requests`, buildRequest(thief.signer, { type: "claim", imei, key: thief.coseKey, proof }));
  assert.equal(r.status, 403, `the hijacked claim must be refused: ${JSON.stringify(r.body)}`);
  assert.equal(h.registry.store.owners.current(info.did), undefined, "nobody owns the phone");
});
