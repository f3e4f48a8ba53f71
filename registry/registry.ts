// The reference registry: store + MQTT + HTTP, wired. `start()` opens the database (migrating
// it), connects to the broker, re-publishes anything committed but never sent, and listens for
// HTTP; `stop()` undoes it in reverse. Time, logging and the MQTT client factory are injected.
import type { KeyObject } from "node:crypto";
import type { AddressInfo } from "node:net";
import { OemRoots } from "../attestation/index.js";
import { silentLogger, type Logger } from "../agent/log.js";
import { ProtocolError, type DeviceTopicKind } from "../protocol/messages.js";
import { Store } from "./store.js";
import { GroupCommit, type GroupCommitOptions } from "./group-commit.js";
import { KeySet, acceptablePublicKey, type SigningKey } from "./keys.js";
import { toRawPublic } from "../attestation/cose/key.js";
import { Challenges } from "./challenges.js";
import type { Clock, Context, Publication } from "./context.js";
import type { ServerTls } from "../transport/https.js";
import { MqttService, type MqttFactory } from "./mqtt-service.js";
import { HttpInterface } from "./http.js";
import { handleAttestation, handleHello } from "./enrolment.js";
import { handleHeartbeat, handleStatus } from "./presence.js";
import { desiredAgain, handleReceipt, handleResult, unpublished } from "./commands.js";
import { Ledger, type LedgerOptions } from "./ledger/ledger.js";
import { rateLimiters, type RateLimitOptions } from "./rate-limits.js";
import { OemTacPolicy, isPinnedOem, type PinnedOem } from "./oem-ranges.js";
import { RegistryMetrics } from "./metrics.js";
import { DatabaseOutages } from "./db-outages.js";
import { PgDatabase } from "./store/pg/database.js";

type PublicKeyInput = Uint8Array | KeyObject | string;

export interface RegistryOptions {
  /** Path of the SQLite database (created if absent), or an open Store. */
  readonly db: string | Store;
  /** The registry's command key (its public key is provisioned into every TA). */
  readonly registryKey: SigningKey;
  /**
   * Pinned OEM root public keys (at least one), each optionally with the TAC ranges it may
   * endorse (oem-ranges.ts; a bare key may endorse any TAC).
   */
  readonly oemRoots: readonly (PublicKeyInput | PinnedOem)[] | OemRoots;
  /** Pinned authority public keys (operators, police). */
  readonly authorities?: readonly PublicKeyInput[];
  /** MQTT broker; omit for an HTTP-only registry (tests). */
  readonly mqtt?: {
    readonly url: string;
    readonly name?: string;
    readonly protocolVersion?: 4 | 5;
    readonly shareGroup?: string;
    readonly factory?: MqttFactory;
  };
  /** HTTP listener; omit for none. Port 0 picks a free port. With `tls`, HTTPS (transport/https.ts). */
  readonly http?: { readonly host: string; readonly port: number; readonly tls?: ServerTls };
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Challenge TTL (default 60 s). */
  readonly challengeTtlMs?: number;
  /** Request ts window in seconds (default 300). */
  readonly requestWindowS?: number;
  /** Claim code lifetime in ms (default 10 minutes, PROTOCOL.md §6.2). */
  readonly claimCodeTtlMs?: number;
  /** Accepted agent measurement digests (hex); empty = not checked. */
  readonly acceptedMeasurements?: readonly string[];
  /** Group commit: the scheduler (tests) and the least time between commits (default 4 ms). */
  readonly groupCommit?: GroupCommitOptions;
  /**
   * The tamper-evident ledger and its federation (docs/LEDGER.md). Its MQTT link defaults to the
   * registry's broker (client id at-l-<name>); omit `ledger` for a registry without one.
   */
  readonly ledger?: LedgerOptions;
  /** Token buckets per device id (hello, heartbeat) and per signer (requests); defaults in rate-limits.ts. */
  readonly rateLimits?: RateLimitOptions;
  /** The version GET /metrics reports (antitheft_build_info). */
  readonly version?: string;
  /**
   * The owner portal's WebAuthn relying party (docs/PORTAL.md §1): the origin(s) it is served
   * on and its RP id. Default: http://localhost:<HTTP port> and "localhost".
   */
  readonly portal?: { readonly origins?: readonly string[]; readonly rpId?: string; readonly rpName?: string };
}

/** How often the registry prunes the equipment-status change feed. */
const FEED_PRUNE_MS = 60_000;

export class Registry {
  readonly store: Store;
  readonly ctx: Context;
  readonly #gc: GroupCommit;
  readonly #mqtt: MqttService | undefined;
  readonly #http: HttpInterface | undefined;
  readonly ledger: Ledger | undefined;
  readonly #o: RegistryOptions;
  readonly #inflight = new Set<Promise<void>>();
  /** PostgreSQL: logs lost connections once and holds messages until the database is back (docs/STORAGE.md §7). */
  readonly #outages: DatabaseOutages | undefined;
  #started = false;
  #stopped = false;
  #pruneTimer: NodeJS.Timeout | undefined;

  constructor(o: RegistryOptions) {
    // Keys first (E_CONFIG), before anything is opened: small-order or off-curve keys are refused.
    if (!(o.oemRoots instanceof OemRoots)) for (const k of o.oemRoots) acceptablePublicKey(toRawPublic(isPinnedOem(k) ? k.key : k), "a pinned OEM root");
    const authorities = new KeySet(o.authorities ?? []);
    this.#o = o;
    const clock = o.clock ?? { now: () => Date.now() };
    const log = o.log ?? silentLogger;
    this.store = typeof o.db === "string" ? Store.open(o.db) : o.db;
    this.#gc = new GroupCommit(this.store, o.groupCommit);
    this.#mqtt = o.mqtt
      ? new MqttService({
          url: o.mqtt.url,
          name: o.mqtt.name ?? "registry",
          ...(o.mqtt.protocolVersion ? { protocolVersion: o.mqtt.protocolVersion } : {}),
          ...(o.mqtt.shareGroup ? { shareGroup: o.mqtt.shareGroup } : {}),
          ...(o.mqtt.factory ? { factory: o.mqtt.factory } : {}),
          log,
          onMessage: (did, kind, payload) => this.#dispatch(did, kind, payload),
          onSessionLost: () => this.ctx.publish(desiredAgain(this.ctx)),
        })
      : undefined;
    const lo = o.ledger;
    const fedMqtt = lo?.mqtt ?? (o.mqtt ? { url: o.mqtt.url, name: o.mqtt.name ?? "registry", ...(o.mqtt.protocolVersion ? { protocolVersion: o.mqtt.protocolVersion } : {}), ...(o.mqtt.factory ? { factory: o.mqtt.factory } : {}) } : undefined);
    try {
      this.ledger = lo ? new Ledger({ store: this.store, gc: this.#gc, clock, log, registryKey: o.registryKey }, { ...lo, ...(fedMqtt ? { mqtt: fedMqtt } : {}) }) : undefined;
    } catch (e) {
      if (typeof o.db === "string") this.store.close();
      throw e;
    }
    if (this.ledger) {
      const ledger = this.ledger;
      this.store.peerFlags = (imei) => ledger.peerFlags(imei);
    }
    this.ctx = {
      store: this.store,
      gc: this.#gc,
      clock,
      log,
      registryKey: o.registryKey,
      oemRoots: o.oemRoots instanceof OemRoots ? o.oemRoots : new OemRoots(o.oemRoots.map((k) => (isPinnedOem(k) ? { key: k.key } : k))),
      oemTacs: new OemTacPolicy(o.oemRoots instanceof OemRoots ? [] : o.oemRoots),
      authorities,
      challenges: new Challenges(this.store, { worker: o.mqtt?.name ?? "registry", ttlMs: o.challengeTtlMs ?? 60_000, now: () => clock.now() }),
      startedAt: clock.now(),
      policy: {
        requestWindowS: o.requestWindowS ?? 300,
        claimCodeTtlMs: o.claimCodeTtlMs ?? 600_000,
        acceptedMeasurements: new Set((o.acceptedMeasurements ?? []).map((h) => h.toLowerCase())),
      },
      limits: rateLimiters(o.rateLimits, () => clock.now()),
      portal: { rpId: o.portal?.rpId ?? "localhost", rpName: o.portal?.rpName ?? "antitheft registry", origins: [...(o.portal?.origins ?? [])] },
      publish: (pubs) => this.#publish(pubs),
      ...(this.ledger ? { ledger: this.ledger } : {}),
      metrics: new RegistryMetrics(),
    };
    this.#outages = this.store.db instanceof PgDatabase ? new DatabaseOutages(this.store.db, log, (m) => this.#dispatch(m.did, m.kind, m.payload, m.tries)) : undefined;
    const mqtt = this.#mqtt;
    this.#http = o.http ? new HttpInterface(this.ctx, { broker: () => (mqtt ? mqtt.connected : undefined), version: o.version ?? "unknown" }) : undefined;
  }

  /**
   * Listens for HTTP (equipment status needs only the database), then connects to the broker and
   * publishes every command committed but never published (a crash between the two, or a
   * request answered while the broker was unreachable).
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error("the registry is already started");
    this.#started = true;
    for (const kid of this.ctx.oemTacs.unranged) {
      this.ctx.log.log("warn", "oem.unranged", { oemKid: kid, reason: "pinned without TAC ranges: it may endorse any IMEI (PROTOCOL.md §6.1)" });
    }
    if (this.#http && this.#o.http) {
      // The equipment-status snapshot builds while the rest starts (docs/STORAGE.md §4); a
      // federated registry answers from its tables (its peers' flags are not in the snapshot).
      if (!this.ledger) this.store.statusCache.warm();
      this.#pruneFeed();
      this.#pruneTimer = setInterval(() => this.#pruneFeed(), FEED_PRUNE_MS);
      this.#pruneTimer.unref();
      const a = await this.#http.listen(this.#o.http.host, this.#o.http.port, this.#o.http.tls);
      if (this.ctx.portal.origins.length === 0) this.ctx.portal.origins.push(`${this.#o.http.tls ? "https" : "http"}://localhost:${a.port}`);
    }
    if (this.#mqtt) {
      await this.#mqtt.start();
      this.#publish(unpublished(this.ctx));
    }
    await this.ledger?.start();
  }

  /** The bound HTTP address (after start). */
  get httpAddress(): AddressInfo | undefined {
    return this.#http?.address;
  }

  /** Base URL of the HTTP interface, e.g. http://127.0.0.1:8080 (after start). */
  get httpUrl(): string | undefined {
    const a = this.httpAddress;
    if (!a) return undefined;
    const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
    return `${this.#o.http?.tls ? "https" : "http"}://${host}:${a.port}`;
  }

  /** The owner portal's URL (after start), on its first origin: <origin>/portal/. */
  get portalUrl(): string | undefined {
    return this.ctx.portal.origins[0] !== undefined ? `${this.ctx.portal.origins[0]}/portal/` : undefined;
  }

  /** Device messages waiting for the database to be reachable again (PostgreSQL, docs/STORAGE.md §7). */
  get heldMessages(): number {
    return this.#outages?.held ?? 0;
  }

  /** Resolves when every message handled and every publication made so far is processed, acknowledged and committed. */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    await this.ledger?.idle();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#pruneTimer);
    this.#outages?.stop();
    await this.#http?.close();
    await this.ledger?.stop();
    await this.#mqtt?.stop();
    this.#gc.flush();
    await Promise.allSettled([...this.#inflight]);
    this.#gc.flush();
    if (typeof this.#o.db === "string") this.store.close();
  }

  /** Keeps the equipment-status change feed to its newest rows (docs/STORAGE.md §4.1). */
  #pruneFeed(): void {
    try {
      const n = this.store.pruneStatusChanges();
      if (n > 0) this.ctx.log.log("debug", "status.feed-pruned", { rows: n });
    } catch (e) {
      this.ctx.log.log("warn", "status.feed-prune-failed", { error: (e as Error).message });
    }
  }

  #dispatch(did: string, kind: DeviceTopicKind, payload: Uint8Array, tries = 0): void {
    if (this.#stopped) return;
    const ctx = this.ctx;
    let p: Promise<void>;
    switch (kind) {
      case "hello":
        p = handleHello(ctx, did, payload);
        break;
      case "attestation":
        p = handleAttestation(ctx, did, payload);
        break;
      case "heartbeat":
        p = handleHeartbeat(ctx, did, payload);
        break;
      case "status":
        p = handleStatus(ctx, did, payload);
        break;
      case "receipt":
        p = handleReceipt(ctx, did, payload);
        break;
      case "result":
        p = handleResult(ctx, did, payload);
        break;
      default:
        return;
    }
    this.#track(
      p.catch((e) => {
        if (this.#outages?.hold({ did, kind, payload, tries }, e)) return; // run again once the database is back
        if (e instanceof ProtocolError) ctx.log.log("warn", `${kind}.refused`, { did, reason: e.message });
        else ctx.log.log("error", `${kind}.failed`, { did, error: String((e as Error)?.stack ?? e) });
      }),
    );
  }

  #track(p: Promise<void>): void {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  #publish(pubs: readonly Publication[]): void {
    if (!this.#mqtt || this.#stopped) return;
    for (const p of pubs) {
      try {
        this.#track(this.#mqtt.publish(p));
      } catch (e) {
        this.ctx.log.log("warn", "mqtt.publish-failed", { topic: p.topic, error: String(e) });
      }
    }
  }
}
