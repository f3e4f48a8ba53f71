// An embedded site for runs with no external services (`antitheft sim`, `antitheft conformance`
// without --registry, the tests): an MQTT broker - the embedded aedes (MQTT 3.1.1) on a free
// loopback port, restartable, or an external broker given by URL - and the reference registry
// in this process (SQLite in a temp folder, HTTP on loopback), with fresh OEM, registry and
// authority keys - and, with `ledger`, its tamper-evident ledger federated with two member
// registries the conformance suite plays (fresh peer keys and federation key, docs/LEDGER.md).
// A RegistryCustomizer lets simulator/conformance/faulty/ build broken
// registries (negative controls) from the real one without changing it.
import { securedMqttFactory, type MqttSecurity } from "../transport/mqtt-options.js";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedBroker, type EmbeddedBroker } from "./embedded-broker.js";
import { generateEd25519, privateKeyToPem, toHex } from "../attestation/index.js";
import { silentLogger, type Logger } from "../agent/log.js";
import { Registry, type RegistryOptions } from "../registry/registry.js";
import { signingKey, type SigningKey } from "../registry/keys.js";

/** The agent measurement the embedded registry accepts (SHA-256 of a fixed label). */
export const CONFORMANCE_MEASUREMENT = sha256("antitheft conformance agent v1");

function sha256(text: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(text).digest());
}

// ---- the site -------------------------------------------------------------------------------

/** Turns the reference registry into a variant (negative controls): options, a patch, a front. */
export interface RegistryCustomizer {
  readonly name: string;
  options?(o: RegistryOptions): RegistryOptions;
  /** Called on every registry instance after start (e.g. to break one check). */
  patch?(registry: Registry): void;
  /** An HTTP front the suite talks to instead of the registry (e.g. a gateway). */
  front?(registryUrl: string, site: EmbeddedSite): Promise<{ readonly url: string; close(): Promise<void> }>;
}

export interface SiteOptions {
  /** An external broker URL; omitted: the embedded aedes broker (MQTT 3.1.1). */
  readonly broker?: string;
  /** The registry's MQTT protocol level (default 4; 5 needs a broker that speaks it). */
  readonly mqttVersion?: 4 | 5;
  /** MQTT 5 shared subscriptions: registry workers in group `shareGroup`. */
  readonly shareGroup?: string;
  /** Registry name (client id at-r-<name>); default "sim-<random>". */
  readonly name?: string;
  readonly log?: Logger;
  readonly customize?: RegistryCustomizer;
  /**
   * Keep the ledger, pinning the suite's two simulated peer registries (`ledgerPeers`) and
   * sharing `federationKey` with them (the conformance suite's REQ-LG scenarios). Default off.
   */
  readonly ledger?: boolean;
  /** The registry's database: a SQLite path or a postgres:// URL (default <site dir>/registry.sqlite). */
  readonly db?: string;
  /** The registry's MQTT transport identity for an mqtts:// broker (docs/PROTOCOL.md §2.1). */
  readonly mqttSecurity?: MqttSecurity;
  /** Its ledger link's identity (CN at-l-<name>): with mutual TLS the registry's would make the two links one client. */
  readonly ledgerMqttSecurity?: MqttSecurity;
}

export class EmbeddedSite {
  readonly oem: SigningKey;
  /** The OEM factory key as PKCS#8 PEM (worker threads endorse their handsets with it). */
  readonly oemPem: string;
  readonly registryKey: SigningKey;
  readonly authority: SigningKey;
  /** A second OEM, pinned for one TAC only (`rangedTac`, PROTOCOL §6.1): the suite's oem-ranges capability. */
  readonly rangedOem: SigningKey;
  /** The one TAC `rangedOem` may endorse ("86" and six random digits: never a TAC of the suite's IMEIs, "35..."). */
  readonly rangedTac: string;
  readonly acceptedMeasurement = CONFORMANCE_MEASUREMENT;
  readonly mqttVersion: 4 | 5;
  readonly name: string;
  /** The member registries the suite plays, pinned as ledger peers (with `ledger`). */
  readonly ledgerPeers: readonly [SigningKey, SigningKey];
  /** The federation's pseudonymisation key the registry and the suite's peers share. */
  readonly federationKey: Uint8Array;
  #registry: Registry | undefined;
  #dbPath = "";
  #front: { url: string; close(): Promise<void> } | undefined;
  #httpPort = 0;
  #stopped = false;

  private constructor(
    readonly dir: string,
    readonly broker: EmbeddedBroker | undefined,
    readonly brokerUrl: string,
    readonly options: SiteOptions,
  ) {
    const oem = generateEd25519().privateKey;
    this.oem = signingKey(oem);
    this.oemPem = privateKeyToPem(oem);
    this.registryKey = signingKey(generateEd25519().privateKey);
    this.authority = signingKey(generateEd25519().privateKey);
    this.rangedOem = signingKey(generateEd25519().privateKey);
    this.rangedTac = `86${String(randomInt(0, 1_000_000)).padStart(6, "0")}`;
    this.mqttVersion = options.mqttVersion ?? 4;
    this.name = options.name ?? `sim-${toHex(sha256(String(Math.random()))).slice(0, 8)}`;
    this.ledgerPeers = [signingKey(generateEd25519().privateKey), signingKey(generateEd25519().privateKey)];
    this.federationKey = new Uint8Array(randomBytes(32));
  }

  static async start(options: SiteOptions = {}): Promise<EmbeddedSite> {
    const dir = await mkdtemp(join(tmpdir(), "antitheft-site-"));
    let broker: EmbeddedBroker | undefined;
    try {
      if (!options.broker) broker = await startEmbeddedBroker();
      const site = new EmbeddedSite(dir, broker, options.broker ?? broker!.url, options);
      await site.#startRegistry();
      return site;
    } catch (e) {
      await broker?.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
  }

  /** The registry running now. */
  get registry(): Registry {
    if (!this.#registry) throw new Error("the registry is not running");
    return this.#registry;
  }

  /** Where the suite sends HTTP: the registry, or the customizer's front. */
  registryUrl(): string {
    return this.#front?.url ?? this.registry.httpUrl!;
  }

  /** The registry's SQLite file or PostgreSQL URL (":memory:" for a variant that keeps no file). */
  get dbPath(): string {
    return this.#dbPath;
  }

  /** The registry's own HTTP URL (behind any front). */
  get directUrl(): string {
    return this.registry.httpUrl!;
  }

  async #startRegistry(): Promise<void> {
    const base: RegistryOptions = {
      db: this.options.db ?? join(this.dir, "registry.sqlite"),
      registryKey: this.registryKey,
      oemRoots: [this.oem.publicKey, { key: this.rangedOem.publicKey, tacs: this.rangedTac }],
      authorities: [this.authority.publicKey],
      mqtt: {
        url: this.brokerUrl,
        name: this.name,
        protocolVersion: this.mqttVersion,
        ...(this.options.shareGroup ? { shareGroup: this.options.shareGroup } : {}),
        ...(this.options.mqttSecurity ? { factory: securedMqttFactory(this.options.mqttSecurity) } : {}),
      },
      // The same port across restarts, so clients keep their URL.
      http: { host: "127.0.0.1", port: this.#httpPort },
      log: this.options.log ?? silentLogger,
      acceptedMeasurements: [toHex(CONFORMANCE_MEASUREMENT)],
      ...(this.options.ledger
        ? {
            ledger: {
              federationKey: this.federationKey,
              name: this.name,
              ...(this.options.ledgerMqttSecurity
                ? { mqtt: { url: this.brokerUrl, name: this.name, protocolVersion: this.mqttVersion, factory: securedMqttFactory(this.options.ledgerMqttSecurity) } }
                : {}),
              peers: this.ledgerPeers.map((k, i) => ({ publicKey: k.publicKey, name: `conformance-peer-${i + 1}` })),
            },
          }
        : {}),
    };
    const c = this.options.customize;
    const options = c?.options ? c.options(base) : base;
    this.#dbPath = typeof options.db === "string" ? options.db : ":memory:";
    const registry = new Registry(options);
    try {
      await registry.start();
    } catch (e) {
      await registry.stop().catch(() => undefined);
      throw e;
    }
    c?.patch?.(registry);
    this.#registry = registry;
    this.#httpPort = registry.httpAddress!.port;
    if (c?.front && !this.#front) this.#front = await c.front(registry.httpUrl!, this);
  }

  /** Stops the registry (orderly: its database is closed) and starts it again on the same database. */
  async restartRegistry(): Promise<void> {
    const r = this.#registry;
    this.#registry = undefined;
    await r?.stop();
    await this.#startRegistry();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#front?.close().catch(() => undefined);
    await this.#registry?.stop().catch(() => undefined);
    await this.broker?.stop().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
