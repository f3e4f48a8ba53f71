// A virtual handset: one phone of a simulated fleet, in this process. Its flash is a
// MemoryStorage (the device folder layout of agent/device-folder.ts), its Trusted App a fresh
// instance of one shared compiled module at every boot, its platform a SimulatedHandset (reset
// at every power-on, as a phone's RAM is), its radio a NetworkSwitch, and its agent the real
// device agent (agent/agent.ts). VirtualHandsetDriver is the conformance suite's default
// HandsetDriver. Hooks let the test tree and simulator/conformance/faulty/ build broken
// handsets (negative controls) without touching the agent.
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { Agent } from "../agent/agent.js";
import { DeviceFolder } from "../agent/device-folder.js";
import { SimulatedHandset, type Enforcer } from "../agent/enforcement.js";
import { provisionDevice } from "../agent/factory.js";
import { silentLogger, type Logger } from "../agent/log.js";
import type { Transport } from "../agent/mqtt-link.js";
import { DeviceSession } from "../agent/session.js";
import type { TaCaller } from "../agent/device-ta.js";
import { MemoryStorage, type DeviceStorage } from "../agent/storage.js";
import { OemRoots, verifyEndorsement } from "../attestation/index.js";
import { NetworkSwitch } from "./network.js";
import type {
  Capability, EnforcementRecord, Handset, HandsetDriver, ProvisionSpec, Screen, StorageAttacks, StorageSnapshot,
} from "./conformance/target.js";

/** Test-only seams for broken variants (negative controls). */
export interface HandsetHooks {
  /** Wraps the handset's flash (e.g. a counter kept in ordinary flash). */
  wrapStorage?(storage: MemoryStorage): DeviceStorage;
  /** Wraps the platform the agent enforces on (e.g. one that ignores the lock). */
  wrapEnforcer?(platform: Enforcer, handset: VirtualHandset): Enforcer;
  /** Wraps the transport under the radio (e.g. an agent that never reconnects). */
  wrapTransport?(transport: Transport, handset: VirtualHandset): Transport;
  /** Replaces the factory reset (called powered off; the handset boots afterwards). */
  factoryReset?(handset: VirtualHandset): Promise<void>;
  /** Makes the agent's TA instance (e.g. one whose host asks for another purpose). */
  createTa?(module: WebAssembly.Module, handset: VirtualHandset): TaCaller;
}

export interface VirtualHandsetOptions {
  readonly module: WebAssembly.Module;
  /** The connection to the broker (e.g. mqttTransport(url)). */
  readonly transport: Transport;
  readonly mqttVersion: 4 | 5;
  readonly measurement?: Uint8Array;
  /** Heartbeat interval, s (default 0: none; the registry re-sends on hello). */
  readonly heartbeatS?: number;
  /** Reconnect backoff (default 50 ms doubling to 1 s: a lab wants quick reconnects). */
  readonly backoff?: { readonly baseMs?: number; readonly capMs?: number };
  readonly logger?: Logger;
  /** Sees every enforcement action of every handset (fleets report locks with it). */
  readonly onEnforce?: (handset: VirtualHandset, record: EnforcementRecord) => void;
  readonly hooks?: HandsetHooks;
}

const now = (): number => performance.timeOrigin + performance.now();

export class VirtualHandset implements Handset {
  readonly folder: DeviceFolder;
  readonly flash: MemoryStorage;
  readonly #o: VirtualHandsetOptions;
  readonly #net: NetworkSwitch;
  readonly #records: EnforcementRecord[] = [];
  #platform: SimulatedHandset | undefined;
  #agent: Agent | undefined;
  #booting: Promise<void> | undefined;

  constructor(
    readonly imei: string,
    readonly did: string,
    readonly devicePublic: Uint8Array,
    flash: MemoryStorage,
    options: VirtualHandsetOptions,
  ) {
    this.#o = options;
    this.flash = flash;
    this.folder = new DeviceFolder(options.hooks?.wrapStorage ? options.hooks.wrapStorage(flash) : flash);
    const t = options.hooks?.wrapTransport ? options.hooks.wrapTransport(options.transport, this) : options.transport;
    this.#net = new NetworkSwitch(t);
  }

  get powered(): boolean {
    return this.#agent !== undefined;
  }

  get online(): boolean {
    return this.#agent?.connected ?? false;
  }

  /** The platform of the current boot (what the agent enforces on), if powered on. */
  get platform(): SimulatedHandset | undefined {
    return this.#platform;
  }

  /** The running agent (for fleets and tests), if powered on. */
  get agent(): Agent | undefined {
    return this.#agent;
  }

  async powerOn(): Promise<void> {
    if (this.#agent) return;
    this.#booting ??= this.#boot().finally(() => (this.#booting = undefined));
    await this.#booting;
  }

  async #boot(): Promise<void> {
    // A phone's platform starts unlocked at every boot: the agent must lock it before anything else.
    const platform = new SimulatedHandset((e) => {
      const r = { at: now(), action: e.action };
      this.#records.push(r);
      this.#o.onEnforce?.(this, r);
    }, 4);
    this.#platform = platform;
    const enforcer = this.#o.hooks?.wrapEnforcer ? this.#o.hooks.wrapEnforcer(platform, this) : platform;
    this.#agent = await Agent.start({
      folder: this.folder,
      module: this.#o.module,
      transport: this.#net.transport,
      enforcer,
      logger: this.#o.logger ?? silentLogger,
      protocolVersion: this.#o.mqttVersion,
      heartbeatS: this.#o.heartbeatS ?? 0,
      backoff: { baseMs: this.#o.backoff?.baseMs ?? 50, capMs: this.#o.backoff?.capMs ?? 1000 },
      ...(this.#o.measurement ? { measurement: this.#o.measurement } : {}),
      ...(this.#o.hooks?.createTa ? { createTa: (m: WebAssembly.Module) => this.#o.hooks!.createTa!(m, this) } : {}),
    });
  }

  async powerOff(graceful = false): Promise<void> {
    await this.#booting?.catch(() => undefined);
    const a = this.#agent;
    this.#agent = undefined;
    if (a) await a.stop(graceful);
  }

  setNetwork(up: boolean): void {
    this.#net.set(up);
  }

  get networkUp(): boolean {
    return this.#net.up;
  }

  screen(): Screen {
    const p = this.#platform;
    return { locked: p?.locked ?? false, text: p?.screen ?? "" };
  }

  enforcement(): readonly EnforcementRecord[] {
    return this.#records;
  }

  async claimProof(code: string): Promise<Uint8Array> {
    const session = await DeviceSession.boot(this.folder, this.#o.module, { commit: false });
    return session.claimProof(code);
  }

  async factoryReset(): Promise<void> {
    await this.powerOff(true);
    if (this.#o.hooks?.factoryReset) await this.#o.hooks.factoryReset(this);
    else await this.folder.wipeUserData();
    await this.powerOn();
  }

  writeUserData(name: string, data: Uint8Array): Promise<void> {
    return this.folder.writeUserData(name, data);
  }

  listUserData(): Promise<string[]> {
    return this.folder.listUserData();
  }

  readonly storage: StorageAttacks = {
    snapshot: async (): Promise<StorageSnapshot> => ({
      sealed: (await this.flash.read("sealed.bin")) ?? new Uint8Array(0),
      counter: Number(new TextDecoder().decode((await this.flash.read("counter")) ?? new Uint8Array(0)).trim() || "0"),
    }),
    restore: async (s, options) => {
      await this.flash.write("sealed.bin", s.sealed);
      if (options.counter) await this.flash.write("counter", new TextEncoder().encode(`${s.counter}\n`));
    },
    corruptSealed: async () => {
      const blob = await this.flash.read("sealed.bin");
      if (!blob || blob.length === 0) throw new Error("no sealed state to corrupt");
      blob[blob.length >> 1]! ^= 0x01;
      await this.flash.write("sealed.bin", blob);
    },
    writeEndorsement: (e) => this.folder.writeEndorsement(e),
  };
}

/** The default driver: virtual handsets in this process. */
export class VirtualHandsetDriver implements HandsetDriver {
  readonly name: string;
  readonly capabilities: readonly Capability[] = ["storage-attacks"];
  readonly #o: VirtualHandsetOptions;

  constructor(options: VirtualHandsetOptions, name = "virtual handsets (in-process agent + TA)") {
    this.#o = options;
    this.name = name;
  }

  get options(): VirtualHandsetOptions {
    return this.#o;
  }

  async provision(spec: ProvisionSpec): Promise<VirtualHandset> {
    const flash = new MemoryStorage();
    const info = await provisionDevice(new DeviceFolder(flash), this.#o.module, {
      imei: spec.imei,
      ...(spec.imei2 !== undefined ? { imei2: spec.imei2 } : {}),
      oem: spec.oem,
      registryKeys: spec.registryKeys,
      model: spec.model,
      random: (n) => new Uint8Array(randomBytes(n)),
    });
    // The device key, as the OEM endorsed it (the suite is the factory here).
    const e = verifyEndorsement(await new DeviceFolder(flash).readEndorsement(), new OemRoots([spec.oem.publicKey]));
    if (!e.ok) throw e.error;
    const measurement = spec.measurement ?? this.#o.measurement;
    return new VirtualHandset(info.imei, info.did, e.value.claims.deviceKey, flash, { ...this.#o, ...(measurement ? { measurement } : {}) });
  }
}
