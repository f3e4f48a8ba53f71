// A persistent session hands the device what the broker queued while it was offline right after
// CONNACK (MQTT 3.1.1 §4.4, MQTT 5 §4.4) - possibly before the connection has reached the
// agent's uplink. The answers to those messages must still go out. The transport here is the
// real MQTT.js one to the embedded aedes broker; the wrapper only holds the CONNACK'd link back
// for a moment after delivering a queued challenge, as a busy event loop (or MQTT 5 with
// MQTT.js, where the conformance suite's offline-theft scenario first showed it) does.
// Without the uplink's early-publish buffer the answer is dropped (`agent.publish_dropped`) and
// the wait below times out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NonceStore } from "../attestation/nonce-store.js";
import { OemRoots } from "../attestation/endorsement.js";
import { verifyAttestation } from "../attestation/verifier.js";
import { Agent } from "../agent/agent.js";
import { SimulatedHandset } from "../agent/enforcement.js";
import { MemoryLogger } from "../agent/log.js";
import { mqttTransport, type Transport } from "../agent/mqtt-link.js";
import { decodeAttestation, deviceTopic, encodeChallenge } from "../protocol/messages.js";
import { makeKeys, Peer, provisionTestDevice, sleep, startBroker, taModule } from "./support/agent-harness.js";

test("agent: a challenge delivered between CONNACK and the link reaching the uplink is answered, not dropped", async () => {
  const keys = makeKeys();
  const dev = await provisionTestDevice(keys);
  const broker = await startBroker();
  const peer = await Peer.connect(broker.url);
  const did = dev.info.did;
  const nonces = new NonceStore({ ttlMs: 60_000 });
  const nonce = nonces.issue(32);
  const real = mqttTransport(broker.url);
  const transport: Transport = async (o, h) => {
    const link = await real(o, h);
    await h.message(deviceTopic(did, "challenge"), encodeChallenge({ nonce })); // as a queued message would arrive
    await sleep(50); // the agent answers while the link is still on its way to the uplink
    return link;
  };
  const logger = new MemoryLogger();
  const agent = await Agent.start({ folder: dev.folder, module: taModule(), transport, enforcer: new SimulatedHandset(), logger, heartbeatS: 0, backoff: { baseMs: 20, capMs: 200 } });
  try {
    const att = await peer.waitFor((m) => m.topic === deviceTopic(did, "attestation"));
    const hello = await peer.waitFor((m) => m.topic === deviceTopic(did, "hello"));
    assert.ok(hello);
    const r = verifyAttestation(
      { token: decodeAttestation(att.payload).token, endorsement: await dev.folder.readEndorsement(), nonce },
      { oemRoots: new OemRoots([keys.oem.publicKey]), nonces },
    );
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.deepEqual(logger.named("agent.publish_dropped"), []);
  } finally {
    await agent.stop(true);
    await peer.close();
    await broker.close();
  }
});
