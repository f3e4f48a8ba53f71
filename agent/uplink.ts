// The device's side of the MQTT session (PROTOCOL §2, §3): keeps one connection up with the
// persistent-session client id at-d-<did> and the Last Will, reconnects with exponential backoff
// and jitter, subscribes, says hello on every connect, and sends heartbeats while connected.
// What the messages mean is the agent's business (agent.ts); this module only moves them.
import { Backoff, type BackoffOptions } from "./backoff.js";
import type { Clock, TimerHandle } from "./clock.js";
import type { Logger } from "./log.js";
import type { Link, Transport } from "./mqtt-link.js";
import { isPermanentRefusal, type TransportError } from "../transport/errors.js";
import { DEVICE_SUBSCRIPTIONS, deviceClientId, deviceTopic, type DeviceTopicKind } from "../protocol/messages.js";

export interface UplinkOptions {
  readonly did: string;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly protocolVersion: 4 | 5;
  readonly keepaliveS?: number;
  readonly backoff?: Omit<BackoffOptions, "clock">;
  /** Seconds between heartbeats; 0 disables them. */
  readonly heartbeatS: number;
  /** An incoming message on a subscribed topic; the broker gets the PUBACK when it settles. */
  readonly onMessage: (topic: string, payload: Uint8Array) => Promise<void>;
  /** The hello payload, built at each connect (§4.1). */
  readonly hello: () => Uint8Array;
  /** The heartbeat payload, built at each beat (§4.4). */
  readonly heartbeat: () => Uint8Array;
  /**
   * Called instead of retrying when the broker refuses the very first connection in a way no
   * retry heals (TransportError.permanent: our certificate or identity refused, or the broker's
   * certificate untrusted). Without it the uplink retries forever, as for any other failure.
   */
  readonly onRefused?: (error: TransportError) => void;
}

interface Connection {
  link: Link | undefined;
  alive: boolean;
  /**
   * Publishes made between CONNACK and the link reaching the uplink: a persistent session
   * delivers what the broker queued while the device was offline right after CONNACK (MQTT
   * 3.1.1 §4.4, MQTT 5 §4.4), and the answers to those messages go out once the link is here.
   */
  early: { kind: DeviceTopicKind; payload: Uint8Array; retain: boolean }[];
}

/** Bound on answers held for a connection that is still opening. */
const MAX_EARLY_PUBLISHES = 64;

const ONLINE = new TextEncoder().encode("online");
const OFFLINE = new TextEncoder().encode("offline");

export class Uplink {
  readonly #o: UplinkOptions;
  readonly #backoff: Backoff;
  #conn: Connection | undefined;
  /** The connection being opened (transport called, link not yet resolved). */
  #opening: Connection | undefined;
  #heartbeat: TimerHandle | undefined;
  #connecting = false;
  #stopped = false;
  #everConnected = false;

  constructor(options: UplinkOptions) {
    this.#o = options;
    this.#backoff = new Backoff({ ...options.backoff, clock: options.clock });
  }

  /** True while a connection is up. */
  get connected(): boolean {
    return this.#conn?.alive === true && this.#conn.link !== undefined;
  }

  /** Makes the first connection attempt; later ones follow the backoff. */
  start(): void {
    this.#connect();
  }

  /**
   * QoS 1 publish on the current connection, without waiting for the PUBACK (an incoming
   * message's handler must never wait on one: see LinkHandlers.message). Dropped, and logged,
   * while disconnected: the protocol recovers (the registry re-sends on hello).
   */
  publish(kind: DeviceTopicKind, payload: Uint8Array, retain = false): void {
    const link = this.#conn?.alive ? this.#conn.link : undefined;
    const opening = this.#opening;
    if (!link && opening?.alive && opening.early.length < MAX_EARLY_PUBLISHES) {
      opening.early.push({ kind, payload, retain });
      return;
    }
    if (!link) {
      this.#o.logger.log("warn", "agent.publish_dropped", { topic: kind, reason: "not connected" });
      return;
    }
    link.publish(deviceTopic(this.#o.did, kind), payload, { retain }).catch((e) => this.#o.logger.log("warn", "agent.publish_failed", { topic: kind, error: errText(e) }));
  }

  /** Graceful: retained status "offline", then DISCONNECT. Otherwise a power cut (the Will fires). */
  async stop(graceful: boolean): Promise<void> {
    this.#stopped = true;
    this.#backoff.cancel();
    this.#stopHeartbeat();
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn?.link) {
      conn.alive = false;
      if (graceful) await conn.link.publish(deviceTopic(this.#o.did, "status"), OFFLINE, { retain: true }).catch(() => undefined);
      await conn.link.end(graceful).catch(() => undefined);
    }
  }

  #connect(): void {
    if (this.#stopped || this.#connecting) return;
    this.#connecting = true;
    const conn: Connection = { link: undefined, alive: true, early: [] };
    this.#opening = conn;
    this.#o
      .transport(
        {
          clientId: deviceClientId(this.#o.did),
          protocolVersion: this.#o.protocolVersion,
          // §2: the Will announces the device offline if its connection dies.
          will: { topic: deviceTopic(this.#o.did, "status"), payload: OFFLINE, retain: true },
          ...(this.#o.keepaliveS !== undefined ? { keepaliveS: this.#o.keepaliveS } : {}),
        },
        { message: (topic, payload) => this.#o.onMessage(topic, payload), closed: (error) => this.#onClosed(conn, error) },
      )
      .then(
        (link) => {
          this.#connecting = false;
          if (this.#opening === conn) this.#opening = undefined;
          if (this.#stopped || !conn.alive) {
            void link.end(false).catch(() => undefined);
            return;
          }
          conn.link = link;
          this.#conn = conn;
          this.#everConnected = true;
          for (const e of conn.early.splice(0)) this.publish(e.kind, e.payload, e.retain);
          void this.#online(conn, link);
        },
        (error) => {
          this.#connecting = false;
          if (this.#opening === conn) this.#opening = undefined;
          conn.alive = false;
          if (!this.#everConnected && this.#o.onRefused && isPermanentRefusal(error)) {
            this.#stopped = true;
            this.#o.logger.log("error", "agent.refused", { code: error.code, error: errText(error) });
            this.#o.onRefused(error);
            return;
          }
          this.#retry("agent.connect_failed", error);
        },
      );
  }

  async #online(conn: Connection, link: Link): Promise<void> {
    this.#o.logger.log("info", "agent.connected", { did: this.#o.did, sessionPresent: link.sessionPresent });
    try {
      this.publish("status", ONLINE, true);
      // Subscribe before hello: the registry answers a hello with a challenge (§4.1).
      await link.subscribe(DEVICE_SUBSCRIPTIONS.map((k) => deviceTopic(this.#o.did, k)));
    } catch (e) {
      this.#o.logger.log("warn", "agent.subscribe_failed", { error: errText(e) });
      if (conn.alive) void link.end(false).catch(() => undefined);
      return;
    }
    if (!conn.alive) return;
    this.#backoff.reset();
    this.publish("hello", this.#o.hello());
    this.#startHeartbeat(conn);
  }

  #onClosed(conn: Connection, error: Error | undefined): void {
    if (!conn.alive) return;
    conn.alive = false;
    if (this.#conn === conn) this.#conn = undefined;
    this.#stopHeartbeat();
    this.#retry("agent.disconnected", error);
  }

  #retry(event: string, error: unknown): void {
    if (this.#stopped) return;
    const delay = this.#backoff.schedule(() => this.#connect());
    this.#o.logger.log("warn", event, { error: error === undefined ? null : errText(error), retryInMs: delay, attempt: this.#backoff.attempt });
  }

  #startHeartbeat(conn: Connection): void {
    this.#stopHeartbeat();
    const ms = this.#o.heartbeatS * 1000;
    if (!(ms > 0)) return;
    const beat = () => {
      if (!conn.alive || this.#stopped) return;
      this.publish("heartbeat", this.#o.heartbeat());
      this.#heartbeat = this.#o.clock.setTimeout(beat, ms);
    };
    this.#heartbeat = this.#o.clock.setTimeout(beat, ms);
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) this.#o.clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
