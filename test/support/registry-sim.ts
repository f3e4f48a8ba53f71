// Test support for the registry suites: a real aedes broker on a loopback TCP port, simulated
// handsets speaking docs/PROTOCOL.md over real MQTT, temp folders, and polling waits.
// A handset's Trusted App is either the real TA (agent/device-ta.ts) or a reference TA built on test/support/reference-token.ts (node:crypto)
// that applies commands by PROTOCOL.md §5's rules, so command jobs can be driven end to end.
import { registryDb } from "./postgres.js";
import { createServer, type Server } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Aedes } from "aedes";
import { connect, type MqttClient } from "mqtt";
import { decodeSign1, verifySign1, decodeStrict, generateEd25519, kidOfPublic, toHex, ueidFromImei } from "../../attestation/index.js";
import { isCborMap } from "../../attestation/cbor/value.js";
import { equalBytes } from "../../attestation/bytes.js";
import {
  decodeChallenge, deviceTopic, encodeAttestation, encodeHello, encodeHeartbeat, encodeReceipt, encodeResult, resultCode,
  type DeviceTopicKind,
} from "../../protocol/messages.js";
import { buildReferenceToken, deviceSeed, publicFromSeed } from "./reference-token.js";
import { OEM, endorse, type Device as FixtureDevice } from "./attestation-fixture.js";
import { createEndorsement } from "../../attestation/endorsement.js";
import { DeviceTA, TA_STATE } from "../../agent/device-ta.js";
import { TrustedApp } from "../../agent/trusted-app.js";
import { TaError } from "../../agent/ta-errors.js";
import { Registry, type RegistryOptions } from "../../registry/registry.js";
import { RegistryClient } from "../../registry/client.js";
import { signingKey, type SigningKey } from "../../registry/keys.js";
import { MemoryLogger } from "../../agent/log.js";

export function tempDir(prefix = "at-registry-"): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls `pred` every 5 ms until it is truthy; rejects with `what` after `timeoutMs`. Not a timing assertion. */
export async function waitFor<T>(pred: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Broker {
  readonly url: string;
  readonly port: number;
  readonly aedes: Aedes;
  close(): Promise<void>;
}

/** The embedded aedes broker (MQTT 3.1.1) on 127.0.0.1:<free port>. */
export async function startBroker(port = 0): Promise<Broker> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const bound = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${bound}`,
    port: bound,
    aedes,
    close: () =>
      new Promise<void>((resolve) => {
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}

// --- Trusted Apps ---------------------------------------------------------------------------

export interface SimTa {
  readonly publicKey: Uint8Array;
  readonly lockState: number;
  readonly lastSeq: number;
  readonly tampered: boolean;
  attest(nonce: Uint8Array, measurement?: Uint8Array, purpose?: number): Uint8Array;
  /** PROTOCOL.md §5: 0 = applied, < 0 = refused (state unchanged). */
  applyCommand(cmd: Uint8Array): number;
}

export const REF_ERR = { SIGNATURE: -30, WRONG_DEVICE: -31, STALE_SEQ: -32, SHAPE: -33, TAMPERED: -34 } as const;

export interface Identity {
  readonly imei: string;
  readonly imei2?: string;
  readonly oemid: Uint8Array;
  readonly hwmodel: string;
}

/** A reference TA: tokens by reference-token.ts, commands by §5's rules. */
export class RefTa implements SimTa {
  readonly huk: Uint8Array;
  readonly publicKey: Uint8Array;
  lockState = 0;
  lastSeq = 0;
  bootcount = 1;
  tampered = false;

  constructor(
    readonly id: Identity,
    readonly registryKeys: readonly Uint8Array[],
    huk: Uint8Array = new Uint8Array(randomBytes(32)),
  ) {
    this.huk = huk;
    this.publicKey = publicFromSeed(deviceSeed(huk));
  }

  attest(nonce: Uint8Array, measurement?: Uint8Array, purpose = 1): Uint8Array {
    return buildReferenceToken({
      intuse: purpose,
      huk: this.huk,
      nonce,
      imei: this.id.imei,
      ...(this.id.imei2 ? { imei2: this.id.imei2 } : {}),
      oemid: this.id.oemid,
      hwmodel: this.id.hwmodel,
      dbgstat: 3,
      bootcount: this.bootcount,
      ...(measurement ? { measurement } : {}),
      lockState: this.tampered ? 2 : this.lockState,
      lastSeq: this.lastSeq,
      taState: this.tampered ? 1 : 0,
    });
  }

  applyCommand(cmd: Uint8Array): number {
    if (this.tampered) return REF_ERR.TAMPERED;
    let s;
    try {
      s = decodeSign1(cmd);
    } catch {
      return REF_ERR.SHAPE;
    }
    if (!this.registryKeys.some((k) => verifySign1(cmd, k).ok)) return REF_ERR.SIGNATURE;
    let p;
    try {
      p = decodeStrict(s.payload);
    } catch {
      return REF_ERR.SHAPE;
    }
    if (!isCborMap(p)) return REF_ERR.SHAPE;
    const ueid = p.get(1);
    const kid = p.get(2);
    const seq = p.get(3);
    const action = p.get(4);
    if (!(ueid instanceof Uint8Array) || !(kid instanceof Uint8Array) || typeof seq !== "number" || typeof action !== "number") return REF_ERR.SHAPE;
    if (!equalBytes(ueid, ueidFromImei(this.id.imei)) || !equalBytes(kid, kidOfPublic(this.publicKey))) return REF_ERR.WRONG_DEVICE;
    if (seq <= this.lastSeq) return REF_ERR.STALE_SEQ;
    if (action < 1 || action > 3) return REF_ERR.SHAPE;
    if (action === 1) this.lockState = 2;
    if (action === 2) this.lockState = 0;
    this.lastSeq = seq;
    return 0;
  }
}

// --- handsets on MQTT -----------------------------------------------------------------------

export interface SimDeviceOptions {
  readonly broker: string;
  readonly ta: SimTa;
  readonly endorsement: Uint8Array;
  readonly protocolVersion?: 4 | 5;
  /** Answer commands (receipt + result). Default true. */
  readonly respond?: boolean;
  /** Answer challenges. Default true. */
  readonly attest?: boolean;
  readonly measurement?: Uint8Array;
  /** Send REJECTED results without a token (a third-party agent, or a spoofer on the topic). */
  readonly tokenlessRejections?: boolean;
}

export interface ReceivedCommand {
  readonly topic: "command" | "desired";
  readonly bytes: Uint8Array;
  readonly result: number;
}

/** A handset: the agent side of PROTOCOL.md §3-§4, minimal, over a real MQTT client. */
export class SimDevice {
  readonly did: string;
  readonly challenges: Uint8Array[] = [];
  readonly commands: ReceivedCommand[] = [];
  readonly attestationsSent: number[] = [];
  client: MqttClient | undefined;
  #lastApplied: Uint8Array | undefined;

  constructor(readonly o: SimDeviceOptions) {
    this.did = toHex(kidOfPublic(o.ta.publicKey));
  }

  get ta(): SimTa {
    return this.o.ta;
  }

  topic(kind: DeviceTopicKind): string {
    return deviceTopic(this.did, kind);
  }

  /** Connects (persistent session, Last Will), subscribes, announces online, sends hello. */
  async connect(): Promise<void> {
    const client = connect(this.o.broker, {
      clientId: `at-d-${this.did}`,
      clean: false,
      protocolVersion: this.o.protocolVersion ?? 4,
      ...(this.o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
      reconnectPeriod: 0,
      will: { topic: this.topic("status"), payload: Buffer.from("offline"), qos: 1, retain: true },
    });
    this.client = client;
    client.on("message", (topic, payload) => this.#onMessage(topic, new Uint8Array(payload)));
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    await client.subscribeAsync(
      Object.fromEntries(["challenge", "command", "desired"].map((k) => [this.topic(k as DeviceTopicKind), { qos: 1 as const }])),
    );
    await client.publishAsync(this.topic("status"), "online", { qos: 1, retain: true });
    await this.hello();
  }

  async hello(): Promise<void> {
    await this.publish("hello", encodeHello({ endorsement: this.o.endorsement, bootcount: 1, lock: this.ta.lockState, seq: this.ta.lastSeq, agent: "sim/1" }));
  }

  async heartbeat(): Promise<void> {
    await this.publish("heartbeat", encodeHeartbeat({ bootcount: 1, lock: this.ta.lockState, seq: this.ta.lastSeq, tampered: this.ta.tampered }));
  }

  async publish(kind: DeviceTopicKind, payload: Uint8Array | string, retain = false): Promise<void> {
    await this.client!.publishAsync(this.topic(kind), typeof payload === "string" ? payload : Buffer.from(payload), { qos: 1, retain });
  }

  /** A clean disconnect (no Last Will); the session stays on the broker. */
  async disconnect(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await c.endAsync();
  }

  /** Drops the connection without DISCONNECT: the broker publishes the Last Will. */
  crash(): void {
    const c = this.client;
    this.client = undefined;
    c?.stream.destroy();
    c?.end(true);
  }

  #onMessage(topic: string, payload: Uint8Array): void {
    const kind = topic.split("/").pop();
    if (kind === "challenge") {
      const { nonce } = decodeChallenge(payload);
      this.challenges.push(nonce);
      if (this.o.attest !== false) {
        this.attestationsSent.push(Date.now());
        void this.publish("attestation", encodeAttestation({ token: this.ta.attest(nonce, this.o.measurement) })).catch(() => {});
      }
      return;
    }
    if (kind !== "command" && kind !== "desired") return;
    if (this.o.respond === false) {
      this.commands.push({ topic: kind, bytes: payload, result: NaN });
      return;
    }
    void this.#answer(kind, payload).catch(() => {});
  }

  async #answer(kind: "command" | "desired", bytes: Uint8Array): Promise<void> {
    let seq = 0;
    let action = 0;
    try {
      const p = decodeStrict(decodeSign1(bytes).payload);
      if (isCborMap(p)) {
        seq = Number(p.get(3) ?? 0);
        action = Number(p.get(4) ?? 0);
      }
    } catch {
      // an unreadable command: the TA refuses it below
    }
    // §4.6: a duplicate of the command the TA accepted last is re-reported, not re-applied.
    const duplicate = this.#lastApplied !== undefined && equalBytes(this.#lastApplied, bytes);
    const rc = duplicate ? 0 : this.ta.applyCommand(bytes);
    this.commands.push({ topic: kind, bytes, result: rc });
    if (!this.client || seq === 0) return;
    if (kind === "desired" && rc !== 0) return; // a stale desired state is not a job
    await this.publish("receipt", encodeReceipt({ seq }));
    const nonce = new Uint8Array(createHash("sha512").update(bytes).digest().subarray(0, 32));
    const token = this.ta.attest(nonce, this.o.measurement);
    if (rc === 0) {
      this.#lastApplied = bytes;
      await this.publish("result", encodeResult({ seq, status: "SUCCEEDED", code: resultCode(action, true), token }));
    } else {
      await this.publish("result", encodeResult({ seq, status: "REJECTED", code: resultCode(action, false), error: rc, ...(this.o.tokenlessRejections ? {} : { token }) }));
    }
  }
}

// --- fixtures -------------------------------------------------------------------------------

let imeiCounter = 0;
/** A fresh valid IMEI (TAC 35693803 + a serial), distinct per call within a process. */
export function freshImei(): string {
  const tacSnr = `35693803${String(100000 + ((process.pid * 7919 + imeiCounter++) % 900000)).padStart(6, "0")}`;
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    let d = tacSnr.charCodeAt(13 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return tacSnr + String((10 - (sum % 10)) % 10);
}

export const OEMID = Uint8Array.of(0x00, 0x1b, 0x63);

/** A reference handset with its endorsement by the fixture OEM. */
export function refHandset(registryKeys: readonly Uint8Array[], over: Partial<Identity> & { huk?: Uint8Array } = {}): { ta: RefTa; endorsement: Uint8Array } {
  const id: Identity = { imei: over.imei ?? freshImei(), ...(over.imei2 ? { imei2: over.imei2 } : {}), oemid: over.oemid ?? OEMID, hwmodel: over.hwmodel ?? "Sim Phone" };
  const ta = new RefTa(id, registryKeys, over.huk);
  const endorsement = createEndorsement({
    oem: OEM,
    issuer: "Example OEM",
    issuedAt: 1_700_000_000,
    deviceKey: ta.publicKey,
    imei: id.imei,
    ...(id.imei2 ? { imei2: id.imei2 } : {}),
    oemid: id.oemid,
    hwmodel: id.hwmodel,
  });
  return { ta, endorsement };
}

export { OEM, endorse, type FixtureDevice };

// --- the real TA ----------------------------------------------------------------------------


let taModule: Promise<WebAssembly.Module> | undefined;

/** The real TA (build/ta.wasm) as a SimTa: provisioned, rebooted NORMAL; attests and applies commands. */
export class RealTa implements SimTa {
  readonly publicKey: Uint8Array;
  constructor(readonly dev: DeviceTA) {
    this.publicKey = dev.devicePublic();
  }
  get lockState(): number {
    return this.dev.lockState().lockState;
  }
  get lastSeq(): number {
    return this.dev.lockState().lastSeq;
  }
  get tampered(): boolean {
    return this.dev.lockState().taState === TA_STATE.TAMPERED;
  }
  attest(nonce: Uint8Array, measurement?: Uint8Array, purpose?: number): Uint8Array {
    return this.dev.attest(nonce, measurement, purpose);
  }
  applyCommand(cmd: Uint8Array): number {
    try {
      this.dev.applyCommand(cmd); // the new sealed blob would be stored here; the test keeps it in memory
      return 0;
    } catch (e) {
      if (e instanceof TaError) return e.code;
      throw e;
    }
  }
}

/** A handset with the real TA: factory boot + provision, then a NORMAL boot; endorsed by the fixture OEM. */
export async function realHandset(registryKeys: readonly Uint8Array[], over: Partial<Identity> = {}): Promise<{ ta: RealTa; endorsement: Uint8Array; imei: string }> {
  taModule ??= TrustedApp.compile();
  const module = await taModule;
  const id: Identity = { imei: over.imei ?? freshImei(), ...(over.imei2 ? { imei2: over.imei2 } : {}), oemid: over.oemid ?? OEMID, hwmodel: over.hwmodel ?? "Real TA Phone" };
  const huk = new Uint8Array(randomBytes(32));
  const factory = DeviceTA.fromModule(module);
  factory.boot(huk, new Uint8Array(0), 0, 3);
  const blob = factory.provision({ imei: id.imei, ...(id.imei2 ? { imei2: id.imei2 } : {}), oemid: id.oemid, hwmodel: id.hwmodel, registryKeys: [...registryKeys] });
  const dev = DeviceTA.fromModule(module);
  const booted = dev.boot(huk, blob, 1, 3);
  if (booted.taState !== TA_STATE.NORMAL) throw new Error(`the provisioned TA booted in state ${booted.taState}`);
  const ta = new RealTa(dev);
  const endorsement = createEndorsement({
    oem: OEM, issuedAt: 1_700_000_000, deviceKey: ta.publicKey, imei: id.imei, ...(id.imei2 ? { imei2: id.imei2 } : {}), oemid: id.oemid, hwmodel: id.hwmodel,
  });
  return { ta, endorsement, imei: id.imei };
}

// --- a registry under test ------------------------------------------------------------------


export interface Harness {
  readonly broker: Broker;
  readonly dir: { path: string; cleanup(): void };
  readonly dbPath: string;
  readonly registryKey: SigningKey;
  readonly authority: SigningKey;
  readonly log: MemoryLogger;
  registry: Registry;
  readonly url: string;
  /** Starts another registry on the same database (after the first is stopped or killed). */
  restart(over?: Partial<RegistryOptions>): Promise<Registry>;
  handset(over?: Partial<Identity> & { huk?: Uint8Array }): { ta: RefTa; endorsement: Uint8Array };
  device(h: { ta: SimTa; endorsement: Uint8Array }, over?: Partial<SimDeviceOptions>): SimDevice;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Another broker (e.g. Mosquitto) instead of a fresh aedes. */
  readonly broker?: { url: string; close(): Promise<void> };
  /** MQTT protocol level of the registry and of the handsets (default 4). */
  readonly protocolVersion?: 4 | 5;
}

export async function startHarness(over: Partial<RegistryOptions> = {}, ho: HarnessOptions = {}): Promise<Harness> {
  const broker = (ho.broker as Broker | undefined) ?? (await startBroker());
  const dir = tempDir();
  const dbPath = await registryDb(join(dir.path, "registry.sqlite"));
  const registryKey = signingKey(generateEd25519().privateKey);
  const authority = signingKey(generateEd25519().privateKey);
  const log = new MemoryLogger();
  const devices: SimDevice[] = [];
  const make = async (o: Partial<RegistryOptions>): Promise<Registry> => {
    const r = new Registry({
      db: dbPath,
      registryKey,
      oemRoots: [OEM.publicKey],
      authorities: [authority.publicKey],
      mqtt: { url: broker.url, name: "test", protocolVersion: ho.protocolVersion ?? 4 },
      http: { host: "127.0.0.1", port: 0 },
      log,
      ...over,
      ...o,
    });
    await r.start();
    return r;
  };
  const registry = await make({});
  const h: Harness = {
    broker,
    dir,
    dbPath,
    registryKey,
    authority,
    log,
    registry,
    get url() {
      return h.registry.httpUrl!;
    },
    async restart(o = {}) {
      h.registry = await make(o);
      return h.registry;
    },
    handset: (o = {}) => refHandset([registryKey.publicKey], o),
    device(hs, o = {}) {
      const d = new SimDevice({ broker: broker.url, ta: hs.ta, endorsement: hs.endorsement, protocolVersion: ho.protocolVersion ?? 4, ...o });
      devices.push(d);
      return d;
    },
    async close() {
      for (const d of devices) d.crash();
      await h.registry.stop();
      await broker.close();
      dir.cleanup();
    },
  };
  return h;
}

/** GET a JSON resource. */
export async function getJson(url: string): Promise<{ status: number; body: any; type: string | null }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.json(), type: r.headers.get("content-type") };
}

/**
 * The whole device view (PROTOCOL.md §6.2 "Device views": status, flags, lock state, presence,
 * pending command), through a signed "view" request by `key`: a pinned authority or the owner.
 */
export function fullView(url: string, key: SigningKey, imei: string): Promise<{ status: number; body: any }> {
  return new RegistryClient(url).device(imei, key.signer);
}

/** POST a request body (application/cose). */
export async function postCose(url: string, body: Uint8Array, contentType = "application/cose"): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { method: "POST", body: Buffer.from(body), headers: { "content-type": contentType } });
  return { status: r.status, body: await r.json() };
}
