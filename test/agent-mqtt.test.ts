// The device agent against real components: the embedded aedes broker on a loopback port, the
// release TA (build/ta.wasm), MQTT.js, the attestation library's verifier. No broker mocks.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Client } from "aedes";
import fc from "fast-check";
import { encodeDeterministic } from "../attestation/cbor/deterministic.js";
import { CborTag } from "../attestation/cbor/value.js";
import { generateEd25519 } from "../attestation/cose/key.js";
import { createSign1, nodeSigner } from "../attestation/cose/sign1.js";
import { OemRoots } from "../attestation/endorsement.js";
import { NonceStore } from "../attestation/nonce-store.js";
import { verifyAttestation, verifyDeviceToken } from "../attestation/verifier.js";
import { Agent, type AgentOptions } from "../agent/agent.js";
import { ManualClock } from "../agent/clock.js";
import { FILES, DeviceFolder } from "../agent/device-folder.js";
import { SimulatedHandset, type EnforcementEvent } from "../agent/enforcement.js";
import { MemoryLogger } from "../agent/log.js";
import { mqttTransport, type Transport } from "../agent/mqtt-link.js";
import {
  commandNonce, decodeAttestation, decodeHeartbeat, decodeHello, decodeReceipt, decodeResult, deviceTopic, encodeChallenge,
  MAX_PAYLOAD_BYTES,
} from "../protocol/messages.js";
import type { DeviceStorage } from "../agent/storage.js";
import { TA_ERRORS } from "../agent/ta-errors.js";
import { needTool } from "./support/system-tools.js";
import {
  makeKeys, Peer, provisionTestDevice, signCommand, sleep, startBroker, startMosquitto, taModule,
  type Keys, type TestBroker, type TestDevice,
} from "./support/agent-harness.js";

const flush = () => new Promise<void>((r) => setImmediate(r));

interface Running {
  agent: Agent;
  handset: SimulatedHandset;
  logger: MemoryLogger;
  events: string[];
}

async function startAgent(dev: TestDevice, broker: TestBroker, extra: Partial<AgentOptions> = {}, events: string[] = []): Promise<Running> {
  const handset = new SimulatedHandset((e: EnforcementEvent) => events.push(`enforce:${e.action}`));
  const logger = new MemoryLogger();
  const real = mqttTransport(broker.url);
  const transport: Transport = (o, h) => {
    events.push("connect");
    return real(o, h);
  };
  const agent = await Agent.start({
    folder: dev.folder,
    module: taModule(),
    transport,
    enforcer: handset,
    logger,
    heartbeatS: 0,
    backoff: { baseMs: 20, capMs: 200 },
    ...extra,
  });
  return { agent, handset, logger, events };
}

/** Publishes a challenge and waits for the attestation answering it: every publish the agent made before is in. */
async function roundTrip(peer: Peer, did: string): Promise<Uint8Array> {
  const nonce = new Uint8Array(32).map(() => Math.floor(Math.random() * 256));
  const before = peer.on("attestation").length;
  await peer.publish(deviceTopic(did, "challenge"), encodeChallenge({ nonce }));
  const got = await peer.waitForCount("attestation", before + 1);
  return decodeAttestation(got[got.length - 1]!.payload).token;
}

async function snapshot(folder: DeviceFolder): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of [FILES.huk, FILES.sealed, FILES.counter, FILES.endorsement, FILES.info]) {
    out[f] = Buffer.from((await folder.storage.read(f)) ?? new Uint8Array(0)).toString("hex");
  }
  return out;
}

async function setup(): Promise<{ keys: Keys; dev: TestDevice; broker: TestBroker; peer: Peer; close: () => Promise<void> }> {
  const keys = makeKeys();
  const dev = await provisionTestDevice(keys);
  const broker = await startBroker();
  const peer = await Peer.connect(broker.url);
  return { keys, dev, broker, peer, close: async () => (await peer.close(), await broker.close()) };
}

test("agent: connects as at-d-<did> with a persistent session, says hello, answers a challenge with a verifiable token", async () => {
  const { keys, dev, broker, peer, close } = await setup();
  const clientIds: string[] = [];
  broker.broker.on("client", (c: Client) => clientIds.push(c.id));
  const measurement = new Uint8Array(32).fill(0x5a);
  const { agent } = await startAgent(dev, broker, { measurement });
  try {
    const did = dev.info.did;
    assert.equal(agent.did, did);
    const hello = decodeHello((await peer.waitFor((m) => m.topic === deviceTopic(did, "hello"))).payload);
    assert.deepEqual(hello.endorsement, await dev.folder.readEndorsement());
    assert.equal(hello.lock, 0);
    assert.equal(hello.seq, 0);
    assert.equal(hello.bootcount, agent.view().bootcount);
    assert.ok(clientIds.includes(`at-d-${did}`));
    const status = await peer.waitFor((m) => m.topic === deviceTopic(did, "status"));
    assert.equal(Buffer.from(status.payload).toString(), "online");

    const nonces = new NonceStore({ ttlMs: 60_000 });
    const nonce = nonces.issue(32);
    await peer.publish(deviceTopic(did, "challenge"), encodeChallenge({ nonce }));
    const att = await peer.waitFor((m) => m.topic === deviceTopic(did, "attestation"));
    const r = verifyAttestation({ token: decodeAttestation(att.payload).token, endorsement: hello.endorsement, nonce }, { oemRoots: new OemRoots([keys.oem.publicKey]), nonces });
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.equal(r.value.imei, dev.info.imei);
    assert.equal(r.value.locked, false);
    assert.deepEqual(r.value.token.measurements.map((m) => m.digest), [measurement]);
    // the boot was committed: bootcount and counter moved on
    assert.equal(await dev.folder.readCounter(), 2);
  } finally {
    await agent.stop();
    await close();
  }
});

test("agent: heartbeats on the configured interval (fake time)", async () => {
  const { dev, broker, peer, close } = await setup();
  const clock = new ManualClock(0);
  const { agent } = await startAgent(dev, broker, { clock, heartbeatS: 30 });
  try {
    const did = dev.info.did;
    await peer.waitFor((m) => m.topic === deviceTopic(did, "hello"));
    clock.advance(29_999);
    await roundTrip(peer, did);
    assert.equal(peer.on("heartbeat").length, 0, "no heartbeat before the interval");
    clock.advance(1);
    const [hb] = await peer.waitForCount("heartbeat", 1);
    assert.deepEqual(decodeHeartbeat(hb!.payload), { bootcount: agent.view().bootcount, lock: 0, seq: 0, tampered: false });
    clock.advance(30_000);
    await peer.waitForCount("heartbeat", 2);
    clock.advance(15_000);
    await roundTrip(peer, did);
    assert.equal(peer.on("heartbeat").length, 2);
  } finally {
    await agent.stop();
    await close();
  }
});

test("agent: a TAMPERED handset (sealed state altered) is locked before any connection, and reports it", async () => {
  const { keys, dev, broker, peer, close } = await setup();
  const blob = (await dev.folder.storage.read(FILES.sealed))!;
  blob[blob.length - 1]! ^= 0x01; // break the MAC: an attacker edited sealed.bin
  await dev.folder.storage.write(FILES.sealed, blob);
  const events: string[] = [];
  const { agent, handset } = await startAgent(dev, broker, {}, events);
  try {
    assert.equal(agent.view().tampered, true);
    assert.equal(handset.locked, true);
    assert.deepEqual(events.slice(0, 2), ["enforce:lock", "connect"], "locked before the first connection attempt");
    const hello = decodeHello((await peer.waitFor((m) => m.topic === deviceTopic(dev.info.did, "hello"))).payload);
    assert.equal(hello.lock, 2);
    const nonces = new NonceStore({ ttlMs: 60_000 });
    const nonce = nonces.issue(32);
    await peer.publish(deviceTopic(dev.info.did, "challenge"), encodeChallenge({ nonce }));
    const att = await peer.waitFor((m) => m.topic.endsWith("/attestation"));
    const r = verifyAttestation({ token: decodeAttestation(att.payload).token, endorsement: hello.endorsement, nonce }, { oemRoots: new OemRoots([keys.oem.publicKey]), nonces });
    assert.ok(r.ok && r.value.tampered && r.value.locked);
    // even a genuine unlock command cannot open it
    const before = await snapshot(dev.folder);
    await peer.publish(deviceTopic(dev.info.did, "command"), signCommand(keys.registry, { imei: dev.info.imei, did: dev.info.did, seq: 1, action: 2 }));
    const res = decodeResult((await peer.waitFor((m) => m.topic.endsWith("/result"))).payload);
    assert.equal(res.status, "REJECTED");
    assert.equal(res.error, TA_ERRORS.ERR_TAMPERED.code);
    assert.equal(res.code, 7);
    assert.equal(handset.locked, true);
    assert.deepEqual(await snapshot(dev.folder), before);
  } finally {
    await agent.stop();
    await close();
  }
});

test("agent: reconnects with exponential backoff on fake time, and resets it after a success", async () => {
  const { dev, broker, peer, close } = await setup();
  const clock = new ManualClock(0);
  const attempts: number[] = [];
  let failures = 3;
  const real = mqttTransport(broker.url);
  const transport: Transport = (o, h) => {
    attempts.push(clock.now());
    if (failures-- > 0) return Promise.reject(new Error("ECONNREFUSED (injected)"));
    return real(o, h);
  };
  const clients: Client[] = [];
  broker.broker.on("client", (c: Client) => clients.push(c));
  const agent = await Agent.start({
    folder: dev.folder, module: taModule(), transport, enforcer: new SimulatedHandset(), clock, heartbeatS: 0,
    backoff: { baseMs: 1000, capMs: 3000, random: () => 0.999999 },
  });
  try {
    await flush();
    assert.deepEqual(attempts, [0]);
    clock.advance(999);
    await flush();
    assert.deepEqual(attempts, [0], "not before the delay");
    clock.advance(1);
    await flush();
    assert.deepEqual(attempts, [0, 1000]);
    clock.advance(2000);
    await flush();
    assert.deepEqual(attempts, [0, 1000, 3000]);
    clock.advance(2999);
    await flush();
    assert.equal(attempts.length, 3, "capped at 3000, not 4000 yet");
    clock.advance(1);
    await flush();
    assert.deepEqual(attempts, [0, 1000, 3000, 6000]);
    await peer.waitFor((m) => m.topic === deviceTopic(dev.info.did, "hello"));
    assert.equal(agent.connected, true);

    // The broker drops the connection: the next attempt comes after the base delay again.
    const client = clients.find((c) => c.id === `at-d-${dev.info.did}`)!;
    client.close();
    for (let i = 0; i < 200 && agent.connected; i++) await sleep(5);
    assert.equal(agent.connected, false);
    clock.advance(999);
    await flush();
    assert.equal(attempts.length, 4);
    clock.advance(1);
    await flush();
    assert.deepEqual(attempts, [0, 1000, 3000, 6000, 7000]);
    await peer.waitForCount("hello", 2);
  } finally {
    await agent.stop();
    await close();
  }
});

test("agent: Last Will on power loss; QoS 1 messages sent while offline arrive after a restart (persistent session)", async () => {
  const { keys, dev, broker, peer, close } = await setup();
  const did = dev.info.did;
  const first = await startAgent(dev, broker);
  await peer.waitFor((m) => m.topic === deviceTopic(did, "hello"));
  const boot1 = first.agent.view().bootcount;
  await first.agent.stop(false); // power cut: no DISCONNECT
  const will = await peer.waitFor((m) => m.topic === deviceTopic(did, "status") && Buffer.from(m.payload).toString() === "offline");
  assert.ok(will);

  const nonces = new NonceStore({ ttlMs: 60_000 });
  const nonce = nonces.issue(32);
  await peer.publish(deviceTopic(did, "challenge"), encodeChallenge({ nonce }));
  const second = await startAgent(dev, broker);
  try {
    assert.equal(second.agent.view().bootcount, boot1 + 1, "every boot is counted and committed");
    const att = await peer.waitFor((m) => m.topic === deviceTopic(did, "attestation"));
    const hello = decodeHello((await peer.waitForCount("hello", 2))[1]!.payload);
    const r = verifyAttestation({ token: decodeAttestation(att.payload).token, endorsement: hello.endorsement, nonce }, { oemRoots: new OemRoots([keys.oem.publicKey]), nonces });
    assert.ok(r.ok, "the challenge queued while offline was answered");
  } finally {
    await second.agent.stop(true);
  }
  // A graceful stop leaves a retained "offline" that a newcomer sees.
  const late = await Peer.connect(broker.url, [deviceTopic(did, "status")]);
  const st = await late.waitFor((m) => m.topic === deviceTopic(did, "status"));
  assert.equal(Buffer.from(st.payload).toString(), "offline");
  assert.equal(st.retain, true);
  await late.close();
  await close();
});

test("agent: hostile payloads on every subscribed topic are logged and dropped; nothing changes, nothing crashes", async () => {
  const { keys, dev, broker, peer, close } = await setup();
  const did = dev.info.did;
  const events: string[] = [];
  const { agent, handset, logger } = await startAgent(dev, broker, {}, events);
  try {
    await peer.waitFor((m) => m.topic === deviceTopic(did, "hello"));
    const before = await snapshot(dev.folder);
    const viewBefore = agent.view();
    const enforcedBefore = events.filter((e) => e.startsWith("enforce")).length;

    const otherKey = nodeSigner(generateEd25519().privateKey);
    const nested: unknown = Array.from({ length: 40 }).reduce<unknown>((acc) => [acc], 0);
    const signedJunk = createSign1(Uint8Array.of(0xff, 0x00), keys.registry, { cwtTag: false });
    const payloads: Uint8Array[] = [
      new Uint8Array(0),
      new TextEncoder().encode("lock now please"),
      Uint8Array.of(0xa1, 0x61), // truncated map
      Uint8Array.of(0x5f, 0x41, 0x00, 0xff), // indefinite-length bytes
      new Uint8Array(MAX_PAYLOAD_BYTES + 1).fill(0xa0), // oversized
      encodeDeterministic(nested),
      encodeDeterministic({ v: 2, nonce: new Uint8Array(32) }),
      encodeDeterministic({ v: 1, nonce: new Uint8Array(7) }),
      encodeDeterministic(new CborTag(18, [1, 2, 3, 4])),
      signedJunk,
      // well-formed commands that must not pass the TA: wrong signer, another device, seq 0
      signCommand(otherKey, { imei: dev.info.imei, did, seq: 1, action: 1, message: "forged" }),
      signCommand(keys.registry, { imei: "356938035643809", did: "ff".repeat(16), seq: 1, action: 1, message: "not yours" }),
      ...fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), { numRuns: 20, seed: 7 }),
    ];
    for (const kind of ["challenge", "command", "desired"] as const) {
      for (const p of payloads) await peer.publish(deviceTopic(did, kind), p);
    }
    await roundTrip(peer, did);
    await agent.whenIdle();
    await roundTrip(peer, did); // still answering, after everything

    assert.deepEqual(await snapshot(dev.folder), before, "TA state, counter, fuse and identity unchanged");
    assert.deepEqual(agent.view(), viewBefore);
    assert.equal(events.filter((e) => e.startsWith("enforce")).length, enforcedBefore, "no enforcement happened");
    assert.equal(handset.locked, false);
    assert.equal(events.filter((e) => e === "connect").length, 1, "the connection never dropped");
    const results = peer.on("result").map((m) => decodeResult(m.payload));
    assert.ok(results.every((r) => r.status === "REJECTED"), "the TA refused every forgery");
    assert.deepEqual(results.map((r) => r.error).sort(), [TA_ERRORS.ERR_CMD_SIGNATURE.code, TA_ERRORS.ERR_CMD_SIGNATURE.code, TA_ERRORS.ERR_CMD_UEID.code, TA_ERRORS.ERR_CMD_UEID.code].sort());
    assert.equal(results.length, 4, "the two well-formed forgeries were answered on command and desired");
    assert.ok(logger.named("command.malformed").length > 0);
    assert.ok(logger.named("challenge.malformed").length > 0);
    assert.ok(logger.named("message.too_large").length === 3);
    assert.equal(logger.named("agent.task_failed").length, 0, "no handler crashed");
  } finally {
    await agent.stop();
    await close();
  }
});

/** A storage that records reads/writes into a shared event log. */
function recording(inner: DeviceStorage, events: string[]): DeviceStorage {
  return {
    read: (n) => inner.read(n),
    write: async (n, d) => {
      await inner.write(n, d);
      events.push(`write:${n}`);
    },
    create: (n, d) => inner.create(n, d),
    removeTree: (n) => inner.removeTree(n),
    list: (d) => inner.list(d),
  };
}

test("agent: lock command -> receipt, TA, blob then counter, PUBACK, enforce, result with proof; duplicates re-reported", async () => {
  const { keys, dev, broker, peer, close } = await setup();
  const did = dev.info.did;
  const events: string[] = [];
  const folder = new DeviceFolder(recording(dev.folder.storage, events));
  const real = mqttTransport(broker.url);
  const transport: Transport = (o, h) =>
    real(o, {
      closed: h.closed,
      message: (t, p) => {
        const r = h.message(t, p);
        void Promise.resolve(r).then(() => events.push(`puback:${t.split("/").pop()}`));
        return r;
      },
    });
  const { agent, handset } = await startAgent({ folder, info: dev.info }, broker, { transport }, events);
  try {
    await peer.waitFor((m) => m.topic === deviceTopic(did, "hello"));
    events.length = 0;
    const cmd = signCommand(keys.registry, { imei: dev.info.imei, did, seq: 1, action: 1, message: "This phone is stolen", contact: "+44 20 7946 0000" });
    await peer.publish(deviceTopic(did, "command"), cmd);
    const res = decodeResult((await peer.waitFor((m) => m.topic.endsWith("/result"))).payload);
    assert.deepEqual(decodeReceipt(peer.on("receipt")[0]!.payload), { seq: 1 });
    assert.equal(res.status, "SUCCEEDED");
    assert.equal(res.code, 2);
    const nonces = new NonceStore({ ttlMs: 60_000 });
    nonces.register(commandNonce(cmd));
    const proof = verifyDeviceToken({ token: res.token!, nonce: commandNonce(cmd) }, { deviceKey: agent.devicePublic, imei: dev.info.imei }, { nonces });
    assert.ok(proof.ok && proof.value.lockState === 2 && proof.value.lastSeq === 1);
    const order = events.filter((e) => /^(write:(sealed\.bin|counter)|puback:command|enforce:lock)$/.test(e));
    assert.deepEqual(order, ["write:sealed.bin", "write:counter", "puback:command", "enforce:lock"]);
    assert.equal(handset.locked, true);
    assert.match(handset.screen, /This phone is stolen/);
    assert.match(handset.screen, /\+44 20 7946 0000/);

    // duplicate delivery: SUCCEEDED again, nothing re-applied
    const counter = await dev.folder.readCounter();
    await peer.publish(deviceTopic(did, "command"), cmd);
    const dup = decodeResult((await peer.waitForCount("result", 2))[1]!.payload);
    assert.equal(dup.status, "SUCCEEDED");
    assert.equal(await dev.folder.readCounter(), counter);
    // a different command replaying seq 1 is refused by the TA
    const stale = signCommand(keys.registry, { imei: dev.info.imei, did, seq: 1, action: 2 });
    await peer.publish(deviceTopic(did, "command"), stale);
    const replay = decodeResult((await peer.waitForCount("result", 3))[2]!.payload);
    assert.equal(replay.status, "REJECTED");
    assert.equal(replay.code, 7);
    // the refusal carries the device's token for these very bytes, showing its state (PROTOCOL §4.6)
    const refusalNonces = new NonceStore({ ttlMs: 60_000 });
    refusalNonces.register(commandNonce(stale));
    const refusal = verifyDeviceToken({ token: replay.token!, nonce: commandNonce(stale) }, { deviceKey: agent.devicePublic, imei: dev.info.imei }, { nonces: refusalNonces });
    assert.ok(refusal.ok, "the REJECTED result's token verifies under the device key");
    assert.equal(refusal.value.lockState, 2);
    assert.equal(refusal.value.lastSeq, 1);
    assert.equal(handset.locked, true);
    // unlock with seq 2, through the retained desired state
    const unlockCmd = signCommand(keys.registry, { imei: dev.info.imei, did, seq: 2, action: 2 });
    await peer.publish(deviceTopic(did, "desired"), unlockCmd, true);
    const unlock = decodeResult((await peer.waitForCount("result", 4))[3]!.payload);
    assert.equal(unlock.status, "SUCCEEDED");
    assert.equal(unlock.code, 3);
    assert.equal(handset.locked, false);
    // A desired state that already holds (the same bytes again) or is older (seq 1) is not a job:
    // no receipt, no result. The same bytes on .../command are the registry asking again: re-reported.
    const receipts = peer.on("receipt").length;
    await peer.publish(deviceTopic(did, "desired"), unlockCmd, true);
    await peer.publish(deviceTopic(did, "desired"), cmd, true);
    await peer.publish(deviceTopic(did, "command"), unlockCmd);
    const again = await peer.waitForCount("result", 5);
    assert.equal(decodeResult(again[4]!.payload).status, "SUCCEEDED");
    assert.equal(decodeResult(again[4]!.payload).seq, 2);
    assert.equal(peer.on("receipt").length, receipts + 1, "only the re-send on .../command was receipted");
    assert.equal(peer.on("result").length, 5, "the desired duplicates were not answered");
    assert.equal(handset.locked, false);
  } finally {
    await agent.stop();
    await close();
  }
});

test("agent: restarted while locked, it is locked before it connects", async () => {
  const { keys, dev, broker, peer, close } = await setup();
  const did = dev.info.did;
  const first = await startAgent(dev, broker);
  await peer.waitFor((m) => m.topic === deviceTopic(did, "hello"));
  await peer.publish(deviceTopic(did, "command"), signCommand(keys.registry, { imei: dev.info.imei, did, seq: 1, action: 1, message: "Stolen", contact: "112" }));
  assert.equal(decodeResult((await peer.waitFor((m) => m.topic.endsWith("/result"))).payload).status, "SUCCEEDED");
  await first.agent.stop(false);
  const events: string[] = [];
  const second = await startAgent(dev, broker, {}, events);
  try {
    assert.deepEqual(events.slice(0, 2), ["enforce:lock", "connect"]);
    assert.match(second.handset.screen, /Stolen/);
    assert.equal(second.agent.view().lock, 2);
  } finally {
    await second.agent.stop();
    await close();
  }
});

test("agent: MQTT 5 against a real Mosquitto: hello, challenge, Last Will", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const keys = makeKeys();
  const dev = await provisionTestDevice(keys);
  const mosq = await startMosquitto();
  const peer = await Peer.connect(mosq.url);
  try {
    const agent = await Agent.start({
      folder: dev.folder, module: taModule(), transport: mqttTransport(mosq.url), enforcer: new SimulatedHandset(),
      protocolVersion: 5, heartbeatS: 0, backoff: { baseMs: 20, capMs: 200 },
    });
    const did = dev.info.did;
    const hello = decodeHello((await peer.waitFor((m) => m.topic === deviceTopic(did, "hello"))).payload);
    const nonces = new NonceStore({ ttlMs: 60_000 });
    const nonce = nonces.issue(32);
    await peer.publish(deviceTopic(did, "challenge"), encodeChallenge({ nonce }));
    const att = await peer.waitFor((m) => m.topic === deviceTopic(did, "attestation"));
    const r = verifyAttestation({ token: decodeAttestation(att.payload).token, endorsement: hello.endorsement, nonce }, { oemRoots: new OemRoots([keys.oem.publicKey]), nonces });
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    await agent.stop(false);
    await peer.waitFor((m) => m.topic === deviceTopic(did, "status") && Buffer.from(m.payload).toString() === "offline");
  } finally {
    await peer.close();
    await mosq.close();
  }
});

test("agent: a failed commit is resolved from storage: blob stored -> SUCCEEDED; blob lost -> FAILED, then a re-send applies", async () => {
  const { keys, dev, broker, peer, close } = await setup();
  const did = dev.info.did;
  const inner = dev.folder.storage;
  let failNext: string | undefined;
  const storage: DeviceStorage = {
    read: (n) => inner.read(n),
    write: async (n, d) => {
      if (n === failNext) {
        failNext = undefined;
        throw new Error(`injected power cut while writing ${n}`);
      }
      await inner.write(n, d);
    },
    create: (n, d) => inner.create(n, d),
    removeTree: (n) => inner.removeTree(n),
    list: (d) => inner.list(d),
  };
  const { agent, handset, logger } = await startAgent({ folder: new DeviceFolder(storage), info: dev.info }, broker);
  try {
    await peer.waitFor((m) => m.topic === deviceTopic(did, "hello"));
    // 1. the counter write fails: the blob is stored, so the lock did happen
    failNext = FILES.counter;
    await peer.publish(deviceTopic(did, "command"), signCommand(keys.registry, { imei: dev.info.imei, did, seq: 1, action: 1, message: "m" }));
    const r1 = decodeResult((await peer.waitForCount("result", 1))[0]!.payload);
    assert.equal(r1.status, "SUCCEEDED");
    assert.equal(handset.locked, true);
    assert.equal(agent.view().seq, 1);
    assert.equal(await dev.folder.readCounter(), agent.view().version, "storage and TA agree again");
    assert.equal(logger.named("command.commit_failed").length, 1);
    // 2. the blob write fails: nothing happened; the platform stays as storage says
    failNext = FILES.sealed;
    const unlock = signCommand(keys.registry, { imei: dev.info.imei, did, seq: 2, action: 2 });
    await peer.publish(deviceTopic(did, "command"), unlock);
    const r2 = decodeResult((await peer.waitForCount("result", 2))[1]!.payload);
    assert.equal(r2.status, "FAILED");
    assert.equal(r2.code, 7);
    assert.equal(handset.locked, true);
    assert.equal(agent.view().seq, 1);
    // 3. the registry sends it again: now it applies
    await peer.publish(deviceTopic(did, "command"), unlock);
    const r3 = decodeResult((await peer.waitForCount("result", 3))[2]!.payload);
    assert.equal(r3.status, "SUCCEEDED");
    assert.equal(handset.locked, false);
  } finally {
    await agent.stop();
    await close();
  }
});
