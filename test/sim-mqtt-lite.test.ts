// The lean MQTT client of fleets (simulator/mqtt-lite.ts): packet encodings checked against an
// independent implementation (mqtt-packet, the codec MQTT.js and aedes use) with fixed vectors
// and fast-check properties, the stream splitter at every chunk boundary, and the Transport
// contract against a real broker (aedes): persistent sessions, the Will, subscriptions, PUBACK
// after the handler. A hostile broker only ever closes the connection with a typed error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import mqtt from "mqtt";
import {
  decodePublish, encodeConnect, encodePublish, encodeSubscribe, liteTransport, MqttLiteError, splitPackets,
} from "../simulator/mqtt-lite.js";
import { startEmbeddedBroker } from "../simulator/embedded-broker.js";
import type { LinkOptions } from "../agent/mqtt-link.js";

/** Parses one packet with mqtt-packet (the oracle). */
function oracle(bytes: Uint8Array, protocolVersion: 4 | 5): mqttPacket.Packet {
  const parser = mqttPacket.parser({ protocolVersion });
  let out: mqttPacket.Packet | undefined;
  let err: Error | undefined;
  parser.on("packet", (p) => (out = p));
  parser.on("error", (e) => (err = e));
  parser.parse(Buffer.from(bytes));
  if (err) throw err;
  assert.ok(out, "the oracle parsed no packet");
  return out;
}

const will = { topic: "at/v1/d/00112233445566778899aabbccddeeff/status", payload: new TextEncoder().encode("offline"), retain: true };

for (const v of [4, 5] as const) {
  test(`mqtt-lite: CONNECT (MQTT ${v}) as the oracle reads it: persistent session, Will QoS 1 retained${v === 5 ? ", 7-day expiry" : ""}`, () => {
    const p = oracle(encodeConnect({ clientId: "at-d-abc", protocolVersion: v, will, keepaliveS: 30 }), v) as mqttPacket.IConnectPacket;
    assert.equal(p.cmd, "connect");
    assert.equal(p.protocolVersion, v);
    assert.equal(p.clientId, "at-d-abc");
    assert.equal(p.clean, false);
    assert.equal(p.keepalive, 30);
    assert.equal(p.will?.topic, will.topic);
    assert.equal(Buffer.from(p.will!.payload as Buffer).toString(), "offline");
    assert.equal(p.will?.qos, 1);
    assert.equal(p.will?.retain, true);
    if (v === 5) assert.equal(p.properties?.sessionExpiryInterval, 7 * 24 * 3600);
  });

  test(`mqtt-lite: SUBSCRIBE (MQTT ${v}) as the oracle reads it`, () => {
    const p = oracle(encodeSubscribe(v, 7, ["a/b", "c/+/d"]), v) as mqttPacket.ISubscribePacket;
    assert.equal(p.cmd, "subscribe");
    assert.equal(p.messageId, 7);
    assert.deepEqual(p.subscriptions.map((s) => [s.topic, s.qos]), [["a/b", 1], ["c/+/d", 1]]);
  });

  test(`mqtt-lite: PUBLISH (MQTT ${v}) round trips through the oracle both ways (property)`, () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 80 }).filter((t) => !/[+#\u0000]/.test(t)),
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: 0xffff }),
        fc.boolean(),
        (topic, payload, id, retain) => {
          // ours -> oracle
          const p = oracle(encodePublish(v, topic, payload, id, retain), v) as mqttPacket.IPublishPacket;
          assert.equal(p.topic, topic);
          assert.equal(p.messageId, id);
          assert.equal(p.qos, 1);
          assert.equal(p.retain, retain);
          assert.deepEqual(new Uint8Array(p.payload as Buffer), payload);
          // oracle -> ours
          const bytes = mqttPacket.generate({ cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, messageId: id, retain, dup: false }, { protocolVersion: v });
          const { packets, rest } = splitPackets(bytes);
          assert.equal(rest.length, 0);
          const m = decodePublish(v, packets[0]!);
          assert.deepEqual([m.topic, m.id, m.qos, m.retain], [topic, id, 1, retain]);
          assert.deepEqual(new Uint8Array(m.payload), payload);
        },
      ),
      { numRuns: 150 },
    );
  });
}

test("mqtt-lite: the splitter finds the same packets whatever the chunk boundaries (property)", () => {
  const stream = Buffer.concat([
    encodePublish(4, "t/1", new Uint8Array(200).fill(1), 1, false),
    Buffer.from([0xd0, 0x00]), // PINGRESP
    encodePublish(4, "t/2", new Uint8Array(20_000).fill(2), 2, true), // a 3-byte remaining length
    Buffer.from([0x40, 0x02, 0x00, 0x05]), // PUBACK 5
  ]);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 8 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      let rest: Buffer = Buffer.alloc(0);
      const types: number[] = [];
      let from = 0;
      for (const to of [...points, stream.length]) {
        const r = splitPackets(Buffer.concat([rest, stream.subarray(from, to)]));
        types.push(...r.packets.map((p) => p.type));
        rest = Buffer.from(r.rest);
        from = to;
      }
      assert.deepEqual(types, [3, 13, 3, 4]);
      assert.equal(rest.length, 0);
    }),
    { numRuns: 200 },
  );
});

test("mqtt-lite: malformed input is a typed error, never a crash", () => {
  assert.throws(() => splitPackets(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), MqttLiteError); // 5-byte length
  assert.throws(() => splitPackets(Buffer.from([0x30, 0xff, 0xff, 0x7f])), MqttLiteError); // over the packet limit
  const truncatedTopic = splitPackets(Buffer.from([0x32, 0x03, 0x00, 0x10, 0x61])).packets[0]!;
  assert.throws(() => decodePublish(4, truncatedTopic), MqttLiteError);
  const qos3 = splitPackets(Buffer.from([0x36, 0x02, 0x00, 0x00])).packets[0]!;
  assert.throws(() => decodePublish(4, qos3), MqttLiteError);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        for (const p of splitPackets(Buffer.from(bytes)).packets) if (p.type === 3) decodePublish(5, p);
      } catch (e) {
        assert.ok(e instanceof MqttLiteError, String(e));
      }
    }),
  );
});

const options = (clientId: string, v: 4 | 5 = 4): LinkOptions => ({ clientId, protocolVersion: v, will: { ...will, topic: `will/${clientId}` }, keepaliveS: 10 });

test("mqtt-lite against aedes: subscribe, receive, PUBACK after the handler, persistent session, Will", async () => {
  const broker = await startEmbeddedBroker();
  const peer = await mqtt.connectAsync(broker.url, { clientId: "peer", reconnectPeriod: 0 });
  try {
    await peer.subscribeAsync(["will/#", "up/#"], { qos: 1 });
    const seen: string[] = [];
    peer.on("message", (t, p) => seen.push(`${t}=${p.toString()}`));
    const transport = liteTransport(broker.url);
    const got: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let closed: Error | undefined;
    const link = await transport(options("lite-1"), {
      message: async (topic, payload) => {
        got.push(`${topic}=${new TextDecoder().decode(payload)}`);
        if (got.length === 1) await gate; // hold the first PUBACK
      },
      closed: (e) => (closed = e),
    });
    assert.equal(link.sessionPresent, false);
    await link.subscribe(["down/1"]);
    await link.publish("up/1", new TextEncoder().encode("hello"));
    await peer.publishAsync("down/1", "a", { qos: 1 });
    await peer.publishAsync("down/1", "b", { qos: 1 });
    await waitUntil(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got, ["down/1=a"], "the next message waits for the handler of the first");
    assert.ok(seen.includes("up/1=hello"));

    // The connection dies while the first handler still runs: no PUBACK was sent, so the broker
    // delivers "a" again on the persistent session (persist before acknowledging).
    await link.end(false);
    assert.ok(closed instanceof MqttLiteError);
    release();
    const back: string[] = [];
    const link2 = await transport(options("lite-1"), { message: (t, p) => void back.push(`${t}=${new TextDecoder().decode(p)}`), closed: () => {} });
    assert.equal(link2.sessionPresent, true);
    await waitUntil(() => back.includes("down/1=a") && back.includes("down/1=b"));
    // Offline: a QoS 1 message is queued for the session and delivered on reconnect.
    await link2.end(true);
    await peer.publishAsync("down/1", "while-away", { qos: 1 });
    const link3 = await transport(options("lite-1"), { message: (t, p) => void back.push(`${t}=${new TextDecoder().decode(p)}`), closed: () => {} });
    await waitUntil(() => back.includes("down/1=while-away"));
    // A power cut: the broker publishes the Will.
    await link3.end(false);
    await waitUntil(() => seen.includes("will/lite-1=offline"));
  } finally {
    await peer.endAsync(true);
    await broker.stop();
  }
});

test("mqtt-lite: a hostile broker gets a typed error and a closed connection, nothing else", async () => {
  for (const reply of [Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n"), Buffer.from([0x20, 0x02, 0x00, 0x05]), Buffer.from([0x20, 0x02, 0x00, 0x00, 0xf0, 0x00])]) {
    const sockets = new Set<import("node:net").Socket>();
    const server = createServer((s) => (sockets.add(s), s.once("data", () => s.write(reply))));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let closedWith: Error | undefined;
    try {
      const link = await liteTransport(url)({ ...options("x"), connectTimeoutMs: 500 }, { message: () => {}, closed: (e) => (closedWith = e) });
      // Accepted (the third reply): the garbage after CONNACK closes it.
      await waitUntil(() => closedWith !== undefined);
      assert.ok(closedWith instanceof MqttLiteError, String(closedWith));
      await link.end(false);
    } catch (e) {
      assert.ok(e instanceof MqttLiteError, String(e));
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }
  assert.throws(() => liteTransport("mqtts://example.org:8883"), MqttLiteError);
});

async function waitUntil(f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
