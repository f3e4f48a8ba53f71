// The broker harness itself (test/support/brokers.ts), which the end-to-end and conformance
// suites rely on: each broker accepts MQTT connections on its loopback port in the protocol
// versions it claims, and restart() keeps persistent sessions and retained messages where it says
// it does (aedes: always; Mosquitto: with `persistence`).
import { test } from "node:test";
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startAedes, startMosquitto, type BrokerHandle } from "./support/brokers.js";
import { waitFor } from "./support/e2e.js";
import { needTool } from "./support/system-tools.js";

/** Subscribes with a persistent session, restarts the broker, and reports what the session kept. */
async function afterRestart(b: BrokerHandle, version: 4 | 5, expectKept: boolean): Promise<{ sessionPresent: boolean; got: string[] }> {
  const props = version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {};
  const sub = await mqtt.connectAsync(b.url, { clientId: `harness-${version}`, clean: false, protocolVersion: version, reconnectPeriod: 0, ...props });
  await sub.subscribeAsync("harness/#", { qos: 1 });
  await sub.endAsync();
  const pub = await mqtt.connectAsync(b.url, { protocolVersion: version, reconnectPeriod: 0 });
  await pub.publishAsync("harness/retained", "r", { qos: 1, retain: true });
  await pub.endAsync();
  const port = b.port;
  await b.restart();
  assert.equal(b.port, port, "same port after a restart");
  const pub2 = await mqtt.connectAsync(b.url, { protocolVersion: version, reconnectPeriod: 0 });
  await pub2.publishAsync("harness/queued", "q", { qos: 1 });
  await pub2.endAsync();
  const got: string[] = [];
  let sessionPresent: boolean | undefined;
  const again = mqtt.connect(b.url, { clientId: `harness-${version}`, clean: false, protocolVersion: version, reconnectPeriod: 0, ...props });
  again.on("message", (topic) => got.push(topic));
  again.on("connect", (connack) => (sessionPresent = connack.sessionPresent));
  try {
    await waitFor(() => sessionPresent !== undefined, "the reconnection");
    if (expectKept) await waitFor(() => got.length >= 2, "the queued and the retained message");
  } finally {
    await again.endAsync();
  }
  return { sessionPresent: sessionPresent!, got: got.sort() };
}

test("aedes: MQTT 3.1.1 on a loopback port; restart keeps sessions and retained messages", async () => {
  const b = await startAedes();
  try {
    assert.match(b.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await afterRestart(b, 4, true), { sessionPresent: true, got: ["harness/queued", "harness/retained"] });
  } finally {
    await b.stop();
  }
});

for (const version of [4, 5] as const) {
  test(`Mosquitto, MQTT ${version === 5 ? "5" : "3.1.1"}: with persistence, restart keeps sessions and retained messages; stop removes its folder`, async (t) => {
    if (!needTool(t, "mosquitto")) return;
    const b = await startMosquitto({ persistence: true });
    try {
      assert.deepEqual(await afterRestart(b, version, true), { sessionPresent: true, got: ["harness/queued", "harness/retained"] });
    } finally {
      await b.stop();
    }
    const { existsSync } = await import("node:fs");
    assert.equal(existsSync(b.dir), false);
  });
}

test("Mosquitto without persistence: a restart forgets sessions", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const b = await startMosquitto();
  try {
    assert.equal((await afterRestart(b, 4, false)).sessionPresent, false);
  } finally {
    await b.stop();
  }
});
