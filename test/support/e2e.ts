// End-to-end scaffolding (reused by the conformance suite and fleets): real
// components only. A "world" is a temp folder with the OEM, registry and authority keys (PEM
// files, as the CLI writes them) and the compiled release TA; the registry runs as a child
// process (`antitheft registry`, JSON logs, its SQLite file in the world) so it can be killed
// with SIGKILL; handsets are factory-provisioned folders on disk whose agents run in this process
// (agent/agent.ts with a SimulatedHandset); owners sign requests and talk HTTP; an observer
// MQTT client sees (and, as an attacker, publishes on) every topic.
// Waits poll a condition with a timeout (never a bare sleep), and are not timing assertions.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import mqtt, { type MqttClient } from "mqtt";
import { generateEd25519, imeiFromTacSnr, toHex } from "../../attestation/index.js";
import { Agent } from "../../agent/agent.js";
import { DeviceFolder, type DeviceInfo } from "../../agent/device-folder.js";
import { SimulatedHandset } from "../../agent/enforcement.js";
import { provisionFolder } from "../../agent/factory.js";
import { MemoryLogger } from "../../agent/log.js";
import { mqttTransport, type Transport } from "../../agent/mqtt-link.js";
import { DeviceSession, type SessionView } from "../../agent/session.js";
import { RegistryClient, type HttpAnswer } from "../../registry/client.js";
import { loadSigningKey, signingKey, writeKeyPair, type SigningKey } from "../../registry/keys.js";
import { buildRequest, type RequestInput } from "../../registry/request-codec.js";
import type { MqttVersion } from "./brokers.js";
import { deviceTlsFiles } from "../../transport/device-tls-files.js";
import { loadClientTls } from "../../transport/client-tls.js";
import { mqttSecurityOptions, type MqttSecurity } from "../../transport/mqtt-options.js";
import { compileTa } from "./ta.js";

/** The CLI entry point, compiled (dist/cli/antitheft.js). */
export const CLI = fileURLToPath(new URL("../../cli/antitheft.js", import.meta.url));

/** Polls `pred` until it returns a truthy value; rejects naming `what` after `timeoutMs`. */
export async function waitFor<T>(pred: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A valid IMEI (Luhn check digit) from an 8-digit TAC and a serial number. */
export function testImei(serial: number, tac = "35693803"): string {
  return imeiFromTacSnr(tac + String(serial).padStart(6, "0"));
}

// ---- the world: keys, TA, temp folder -------------------------------------------------------

export interface World {
  readonly dir: string;
  readonly module: WebAssembly.Module;
  /** Key files (PKCS#8 .key / SPKI .pub). */
  readonly files: { readonly oem: KeyFiles; readonly registry: KeyFiles; readonly authority: KeyFiles };
  readonly oem: SigningKey;
  readonly registry: SigningKey;
  readonly authority: SigningKey;
  cleanup(): void;
}

export interface KeyFiles {
  readonly key: string;
  readonly pub: string;
}

let sharedModule: WebAssembly.Module | undefined;
/** build/ta.wasm compiled once per process and shared by every handset. */
export function taModule(): WebAssembly.Module {
  sharedModule ??= compileTa();
  return sharedModule;
}

export function createWorld(prefix = "at-e2e-"): World {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const pair = (name: string): KeyFiles => {
    const r = writeKeyPair(join(dir, `${name}.key`));
    return { key: r.keyPath, pub: r.pubPath };
  };
  const files = { oem: pair("oem"), registry: pair("registry"), authority: pair("authority") };
  return {
    dir,
    module: taModule(),
    files,
    oem: loadSigningKey(files.oem.key),
    registry: loadSigningKey(files.registry.key),
    authority: loadSigningKey(files.authority.key),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ---- the registry as a child process --------------------------------------------------------

export interface LogEvent {
  readonly t: number;
  readonly level: "debug" | "info" | "warn" | "error";
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface RegistryProcessOptions {
  readonly world: World;
  readonly broker: string;
  readonly protocolVersion: MqttVersion;
  /** Default <world>/registry.sqlite. */
  readonly db?: string;
  /** Registry name (client id at-r-<name>); default "e2e". */
  readonly name?: string;
  /** More `antitheft registry` flags (e.g. the ledger's --federation-key, --peer-pub). */
  readonly args?: readonly string[];
}

/**
 * `antitheft registry` in a child process with JSON logs. Its events (across restarts) are
 * kept in `events`; `kill9` is a power cut, `restart` starts it again on the same database.
 */
export class RegistryProcess {
  readonly events: LogEvent[] = [];
  /** Non-JSON output (stray errors), for failure messages. */
  readonly text: string[] = [];
  readonly db: string;
  readonly #o: RegistryProcessOptions;
  #proc: ChildProcess | undefined;
  #url = "";
  #stderr = "";

  private constructor(o: RegistryProcessOptions) {
    this.#o = o;
    this.db = o.db ?? join(o.world.dir, "registry.sqlite");
  }

  /** The kid of its command key: the "aud" of the requests it accepts (PROTOCOL.md §6.2). */
  get audience(): Uint8Array {
    return this.#o.world.registry.kid;
  }

  static async start(o: RegistryProcessOptions): Promise<RegistryProcess> {
    const r = new RegistryProcess(o);
    await r.#spawn();
    return r;
  }

  /** Base URL of its HTTP interface (changes on restart). */
  get url(): string {
    return this.#url;
  }

  get client(): RegistryClient {
    return new RegistryClient(this.#url);
  }

  get alive(): boolean {
    const p = this.#proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Events matching `pred` so far. */
  find(pred: (e: LogEvent) => boolean): LogEvent[] {
    return this.events.filter(pred);
  }

  /** The first event at index >= `from` matching `pred`. */
  waitForEvent(pred: (e: LogEvent) => boolean, what: string, from = 0, timeoutMs = 10_000): Promise<LogEvent> {
    return waitFor(() => this.events.slice(from).find(pred), `registry event: ${what}`, timeoutMs, 5);
  }

  async #spawn(): Promise<void> {
    const o = this.#o;
    const f = o.world.files;
    const args = [
      CLI, "registry",
      "--broker", o.broker,
      "--db", this.db,
      "--key", f.registry.key,
      "--oem-pub", f.oem.pub,
      "--authority-pub", f.authority.pub,
      "--http", "127.0.0.1:0",
      "--mqtt-version", String(o.protocolVersion),
      "--name", o.name ?? "e2e",
      "--log", "json",
      ...(o.args ?? []),
    ];
    const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.#proc = proc;
    this.#url = "";
    let buffered = "";
    proc.stdout!.setEncoding("utf8");
    proc.stdout!.on("data", (chunk: string) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.#line(line);
      }
    });
    proc.stderr!.setEncoding("utf8");
    proc.stderr!.on("data", (chunk: string) => void (this.#stderr += chunk));
    try {
      await waitFor(() => this.#url || !this.alive, "the registry's start-up event", 15_000, 5);
    } catch (e) {
      proc.kill("SIGKILL");
      throw e;
    }
    if (!this.#url) throw new Error(`the registry exited (${proc.exitCode ?? proc.signalCode}) while starting:\n${this.#stderr}${this.text.join("\n")}`);
  }

  #line(line: string): void {
    if (line.startsWith("{")) {
      try {
        const e = JSON.parse(line) as LogEvent;
        this.events.push(e);
        if (e.event === "registry.started" && typeof e.http === "string") this.#url = e.http;
        return;
      } catch {
        // not a log line after all
      }
    }
    this.text.push(line);
  }

  /** kill -9: no clean-up of any kind. */
  async kill9(): Promise<void> {
    const p = this.#proc;
    if (!p || !this.alive) return;
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    p.kill("SIGKILL");
    await exited;
  }

  /** Starts it again on the same database (after kill9 or stop). */
  async restart(): Promise<void> {
    if (this.alive) throw new Error("the registry is still running");
    await this.#spawn();
  }

  /** SIGTERM (a clean stop); SIGKILL if it has not exited within 5 s. */
  async stop(): Promise<void> {
    const p = this.#proc;
    if (!p || !this.alive) return;
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  }

  /** What it wrote to stderr (for failure messages). */
  get stderr(): string {
    return this.#stderr;
  }

  /** The whole device view, by a signed "view" request of the world's authority (PROTOCOL.md §6.2 "Device views"). */
  async device(imei: string): Promise<DeviceView> {
    const a = await this.client.device(imei, this.#o.world.authority.signer);
    if (a.status !== 200) throw new Error(`device view of ${imei}: HTTP ${a.status} ${JSON.stringify(a.body)}`);
    return a.body as unknown as DeviceView;
  }

  /** TS 29.511 equipment status ("WHITELISTED" | ... ), or "HTTP <n>" for a non-200 answer. */
  async equipmentStatus(imei: string): Promise<string> {
    const a = await this.client.equipmentStatus(`imei-${imei}`);
    return a.status === 200 ? String(a.body.status) : `HTTP ${a.status}`;
  }
}

/** The public device view (PROTOCOL.md §6.2), as far as the tests read it. */
export interface DeviceView {
  readonly imei: string;
  readonly status: string;
  readonly devices: readonly {
    readonly lockState: number;
    readonly presence: { readonly online: boolean; readonly lastSeen: string; readonly verified: false };
    readonly lastAttested: string;
    readonly claimed: boolean;
    readonly tampered: boolean;
    readonly flags: readonly { kind: string; raisedBy: string }[];
    readonly pendingCommand: { seq: number; action: string; status: string } | null;
  }[];
}

/**
 * Every row of every table of a registry database, read-only (the registry may be running:
 * WAL lets a reader in), as one comparable string; `ignore` leaves out columns by table.
 */
export function snapshotDb(path: string, ignore: Readonly<Record<string, readonly string[]>> = {}): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
    const out: Record<string, unknown[]> = {};
    for (const { name } of tables) {
      const rows = db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).all() as Record<string, unknown>[];
      const skip = new Set(ignore[name] ?? []);
      out[name] = rows
        .map((r) =>
          JSON.stringify(
            Object.entries(r)
              .filter(([k]) => !skip.has(k))
              .map(([k, v]) => [k, v instanceof Uint8Array ? toHex(v) : typeof v === "bigint" ? String(v) : v]),
          ),
        )
        .sort();
    }
    return JSON.stringify(out);
  } finally {
    db.close();
  }
}

// ---- handsets --------------------------------------------------------------------------------

export interface ConnectRecord {
  /** The platform's state when the agent opened its first network connection of this boot. */
  readonly locked: boolean;
  readonly screen: string;
  readonly boot: number;
}

/**
 * A factory-provisioned handset on disk whose agent runs in this process. Each `start` is a
 * boot: a fresh SimulatedHandset (a rebooted phone's platform starts unlocked until the agent
 * enforces), a fresh TA instance, the agent's transport recording the platform's state at
 * every connection attempt.
 */
export class Handset {
  readonly log = new MemoryLogger();
  readonly connects: ConnectRecord[] = [];
  platform = new SimulatedHandset();
  agent: Agent | undefined;
  boots = 0;

  private constructor(
    readonly world: World,
    readonly name: string,
    readonly dir: string,
    readonly info: DeviceInfo,
  ) {}

  /** Provisions <world>/<name> at the factory (OEM endorsement, registry key in the TA). */
  static async provision(world: World, name: string, imei: string, model = "E2E Phone", tlsCa?: { certPem: string; keyPem: string }): Promise<Handset> {
    const dir = join(world.dir, name);
    const info = await provisionFolder(dir, world.module, {
      imei,
      oem: world.oem.signer,
      registryKeys: [world.registry.publicKey],
      model,
      ...(tlsCa ? { tlsCa } : {}),
    });
    return new Handset(world, name, dir, info);
  }

  get imei(): string {
    return this.info.imei;
  }

  get did(): string {
    return this.info.did;
  }

  get folder(): DeviceFolder {
    return DeviceFolder.at(this.dir);
  }

  /** Boots the handset and starts its agent against `broker` (mqtts://: with the folder's transport identity, as `antitheft agent` does). */
  async start(broker: string, protocolVersion: MqttVersion): Promise<Agent> {
    if (this.agent) throw new Error(`${this.name} is already running`);
    const boot = ++this.boots;
    const platform = new SimulatedHandset();
    this.platform = platform;
    const tlsFiles = broker.startsWith("mqtts:") ? deviceTlsFiles(this.dir) : undefined;
    const inner = mqttTransport(broker, tlsFiles ? mqttSecurityOptions(broker, { tls: loadClientTls(tlsFiles) }) : {});
    const transport: Transport = (options, handlers) => {
      this.connects.push({ locked: platform.locked, screen: platform.screen, boot });
      return inner(options, handlers);
    };
    this.agent = await Agent.start({
      folder: this.folder,
      module: this.world.module,
      transport,
      enforcer: platform,
      logger: this.log,
      protocolVersion,
      heartbeatS: 0,
      backoff: { baseMs: 50, capMs: 500 },
    });
    return this.agent;
  }

  /** Stops the agent: gracefully, or as a power cut (the broker publishes the Will). */
  async stop(graceful = true): Promise<void> {
    const a = this.agent;
    this.agent = undefined;
    await a?.stop(graceful);
  }

  /** The TA's view from the running agent. */
  view(): SessionView {
    if (!this.agent) throw new Error(`${this.name} is not running`);
    return this.agent.view();
  }

  /** Connection records of the current boot. */
  connectsThisBoot(): ConnectRecord[] {
    return this.connects.filter((c) => c.boot === this.boots);
  }

  /** The handset's claim proof for a claim code typed on it (read-only boot: nothing on disk changes). */
  async claimProof(code: string): Promise<Uint8Array> {
    const s = await DeviceSession.boot(this.folder, this.world.module, { commit: false });
    return s.claimProof(code);
  }

  /** The TA's persisted state on disk (sealed blob and replay-protected counter), comparable. */
  persisted(): string {
    const read = (f: string) => {
      try {
        return readFileSync(join(this.dir, f)).toString("hex");
      } catch {
        return "(absent)";
      }
    };
    return `${read("sealed.bin")}/${read("counter")}`;
  }
}

/** Runs the CLI (`node dist/cli/antitheft.js ...args`) to completion. */
export function runCli(args: readonly string[], timeoutMs = 30_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI without blocking this process's event loop (a broker or registry in this process keeps serving). */
export function runCliAsync(args: readonly string[], options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], ...(options.env ? { env: options.env } : {}) });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => void (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => void (stderr += d.toString()));
    const t = setTimeout(() => p.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    p.on("exit", (status) => (clearTimeout(t), resolve({ status, stdout, stderr })));
  });
}

// ---- owners ----------------------------------------------------------------------------------

export class Owner {
  readonly key: SigningKey;

  constructor(readonly name: string, key?: SigningKey) {
    this.key = key ?? signingKey(generateEd25519().privateKey);
  }

  /** Signs and sends a request. */
  send(registry: RegistryProcess, r: RequestInput): Promise<HttpAnswer> {
    return registry.client.send(buildRequest(this.key.signer, r, registry.audience));
  }

  /** Asks the registry for a claim code for `handset` (undefined if refused). */
  async claimCode(registry: RegistryProcess, handset: Handset): Promise<string | undefined> {
    const a = await this.send(registry, { type: "claim-code", imei: handset.imei, key: this.key.coseKey });
    return a.status === 200 ? String(a.body.code) : undefined;
  }

  /** Claims `handset`: a claim code, typed on the handset, and the proof it makes for it. */
  async claim(registry: RegistryProcess, handset: Handset): Promise<HttpAnswer> {
    const code = (await this.claimCode(registry, handset)) ?? "00000-00000";
    const proof = await handset.claimProof(code);
    return this.send(registry, { type: "claim", imei: handset.imei, key: this.key.coseKey, code, proof });
  }
}


// ---- an MQTT observer (and attacker) ---------------------------------------------------------

export interface Seen {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
}

/** An MQTT client subscribed to every protocol topic: records what flows, publishes what it is told. */
export class Observer {
  readonly seen: Seen[] = [];

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => this.seen.push({ topic, payload: new Uint8Array(payload), retain: packet.retain }));
  }

  static async connect(broker: string, protocolVersion: MqttVersion, topics: string[] = ["at/v1/#"], security?: MqttSecurity): Promise<Observer> {
    const client = await mqtt.connectAsync(broker, {
      ...mqttSecurityOptions(broker, security),
      clientId: `at-e2e-observer-${Math.random().toString(16).slice(2)}`,
      protocolVersion,
      reconnectPeriod: 200,
      clean: true,
    });
    const o = new Observer(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return o;
  }

  /** Messages seen on at/v1/d/<did>/<kind>. */
  on(did: string, kind: string): Seen[] {
    return this.seen.filter((m) => m.topic === `at/v1/d/${did}/${kind}`);
  }

  /** QoS 1 publish; resolves on PUBACK. */
  async publish(topic: string, payload: Uint8Array | string, retain = false): Promise<void> {
    await this.client.publishAsync(topic, typeof payload === "string" ? payload : Buffer.from(payload), { qos: 1, retain });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/**
 * Runs an HTTP exchange, once more if the connection was found closed before the request was
 * read: under load the client may reuse a keep-alive socket the server has just closed
 * (keepAliveTimeout). The registry never saw that request, so sending it again is safe.
 */
export async function twice<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (!/other side closed|ECONNRESET|socket hang up/.test(String((e as Error)?.message ?? e))) throw e;
    return f();
  }
}
