// Real components for the agent tests: the embedded aedes broker on a loopback port, the release
// TA (build/ta.wasm), provisioned in-memory handsets, an MQTT peer that plays the registry's side
// of the topics, and signed commands (PROTOCOL §5).
import { createServer, type Server } from "node:net";
import { Aedes } from "aedes";
import mqtt, { type MqttClient } from "mqtt";
import type { KeyObject } from "node:crypto";
import { generateEd25519, kidOfPublic, rawPublicKey } from "../../attestation/cose/key.js";
import { createSign1, nodeSigner, type Signer } from "../../attestation/cose/sign1.js";
import { encodeDeterministic } from "../../attestation/cbor/deterministic.js";
import { ueidFromImei } from "../../attestation/imei.js";
import { DeviceFolder, type DeviceInfo } from "../../agent/device-folder.js";
import { provisionDevice } from "../../agent/factory.js";
import { compileTa } from "./ta.js";

let cachedModule: WebAssembly.Module | undefined;
/** build/ta.wasm, compiled once per test process and shared by every handset. */
export function taModule(): WebAssembly.Module {
  cachedModule ??= compileTa();
  return cachedModule;
}

export interface TestBroker {
  readonly url: string;
  readonly port: number;
  readonly broker: Aedes;
  close(): Promise<void>;
}

/** aedes (MQTT 3.1.1) on 127.0.0.1 and an ephemeral port. */
export async function startBroker(port = 0): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  const sockets = new Set<import("node:net").Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as import("node:net").AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    broker,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}

export interface Keys {
  readonly oem: Signer;
  readonly oemPrivate: KeyObject;
  readonly registry: Signer;
  readonly registryPrivate: KeyObject;
  readonly registryPublic: Uint8Array;
}

export function makeKeys(): Keys {
  const oem = generateEd25519().privateKey;
  const reg = generateEd25519().privateKey;
  return { oem: nodeSigner(oem), oemPrivate: oem, registry: nodeSigner(reg), registryPrivate: reg, registryPublic: rawPublicKey(reg) };
}

export interface TestDevice {
  readonly folder: DeviceFolder;
  readonly info: DeviceInfo;
}

/** A provisioned handset in memory (or in `folder`). */
export async function provisionTestDevice(keys: Keys, imei = "490154203237518", folder = DeviceFolder.inMemory()): Promise<TestDevice> {
  const info = await provisionDevice(folder, taModule(), { imei, oem: keys.oem, registryKeys: [keys.registryPublic], model: "Test Phone" });
  return { folder, info };
}

export interface CommandFields {
  readonly imei: string;
  readonly did: string;
  readonly seq: number;
  readonly action: 1 | 2 | 3;
  readonly message?: string;
  readonly contact?: string;
}

/** A §5 command: tag 18 COSE_Sign1 over the payload map, signed by `signer`. */
export function signCommand(signer: Signer, f: CommandFields): Uint8Array {
  const payload = new Map<number, unknown>([
    [1, ueidFromImei(f.imei)],
    [2, new Uint8Array(Buffer.from(f.did, "hex"))],
    [3, f.seq],
    [4, f.action],
  ]);
  if (f.message !== undefined) payload.set(5, f.message);
  if (f.contact !== undefined) payload.set(6, f.contact);
  return createSign1(encodeDeterministic(payload), signer, { cwtTag: false, kid: kidOfPublic(signer.publicKey) });
}

export interface Received {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
}

/** An MQTT client on the registry's side of the topics, recording everything it receives. */
export class Peer {
  readonly received: Received[] = [];
  readonly #waiters: { pred: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      const m = { topic, payload: new Uint8Array(payload), retain: packet.retain };
      this.received.push(m);
      for (const w of [...this.#waiters]) {
        if (w.pred(m)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
  }

  static async connect(url: string, subscribe: string[] = ["at/v1/d/+/+"]): Promise<Peer> {
    const client = await mqtt.connectAsync(url, { clientId: `test-peer-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    const peer = new Peer(client);
    if (subscribe.length) await client.subscribeAsync(subscribe, { qos: 1 });
    return peer;
  }

  /** The first message (already received or future) matching `pred`. */
  waitFor(pred: (m: Received) => boolean, timeoutMs = 5000, what = "message"): Promise<Received> {
    const found = this.received.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.#waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }

  /** Waits for the n-th (1-based) message on a topic suffix. */
  async waitForCount(suffix: string, n: number, timeoutMs = 5000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.on(suffix);
      if (got.length >= n) return got;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} message(s) on ${suffix}, got ${got.length}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  on(suffix: string): Received[] {
    return this.received.filter((m) => m.topic.endsWith("/" + suffix));
  }

  async publish(topic: string, payload: Uint8Array | string, retain = false): Promise<void> {
    await this.client.publishAsync(topic, typeof payload === "string" ? payload : Buffer.from(payload), { qos: 1, retain });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A Mosquitto (MQTT 3.1.1 and 5) on a free loopback port, stopped by `close`. */
export async function startMosquitto(): Promise<{ url: string; close(): Promise<void> }> {
  const { spawn } = await import("node:child_process");
  const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
  const port = (probe.address() as import("node:net").AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const dir = await mkdtemp(join(tmpdir(), "at-mosq-"));
  const conf = join(dir, "mosquitto.conf");
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const proc = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
  const url = `mqtt://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 500 });
      await c.endAsync(true);
      break;
    } catch (e) {
      if (i > 100 || proc.exitCode !== null) {
        proc.kill("SIGKILL");
        throw new Error(`mosquitto did not start on ${port}: ${(e as Error).message}`);
      }
      await sleep(50);
    }
  }
  return {
    url,
    async close() {
      const exited = new Promise<void>((r) => (proc.exitCode !== null ? r() : proc.once("exit", () => r())));
      proc.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
