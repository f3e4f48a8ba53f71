// The registry's MQTT side (PROTOCOL.md §2, §3): one client `at-r-<name>` with a persistent
// session (MQTT 3.1.1 cleanSession=false; MQTT 5 cleanStart=false + 7-day session expiry), QoS 1
// subscriptions to the device->registry topics, QoS 1 publications. The client comes from an
// injected factory (tests and fleets may pass their own). Every inbound payload is screened
// here - size, topic shape - and handed to `onMessage`; nothing a payload does can throw out of
// this module or stop the client.
import { connect as mqttConnect, type IClientOptions, type MqttClient } from "mqtt";
import { TOPIC_PREFIX, MAX_PAYLOAD_BYTES, SESSION_EXPIRY_S, parseDeviceTopic, type DeviceTopicKind } from "../protocol/messages.js";
import type { Logger } from "../agent/log.js";
import type { Publication } from "./context.js";
import { explainTls, isPermanentRefusal, TransportError } from "../transport/errors.js";

/** §3: what the registry subscribes to. */
export const REGISTRY_INBOUND: readonly DeviceTopicKind[] = ["status", "hello", "attestation", "heartbeat", "receipt", "result"];

export type MqttFactory = (url: string, options: IClientOptions) => MqttClient;

export interface MqttServiceOptions {
  readonly url: string;
  /** The registry's name: client id `at-r-<name>`. */
  readonly name: string;
  /** 4 = MQTT 3.1.1 (aedes), 5 = MQTT 5 (Mosquitto). Default 4. */
  readonly protocolVersion?: 4 | 5;
  /** MQTT 5 only: subscribe as `$share/<group>/...` so several registry workers split the load. */
  readonly shareGroup?: string;
  readonly factory?: MqttFactory;
  readonly log: Logger;
  /** Called with each screened inbound message; must not throw (errors are logged if it does). */
  readonly onMessage: (did: string, kind: DeviceTopicKind, payload: Uint8Array) => void;
  /** Called on a (re)connect where the broker kept no session for us: retained state may be gone. */
  readonly onSessionLost?: () => void;
}

export class MqttService {
  readonly #o: MqttServiceOptions;
  #client: MqttClient | undefined;

  constructor(o: MqttServiceOptions) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(o.name)) throw new RangeError("the registry name must be 1..64 characters of [A-Za-z0-9._-]");
    if (o.shareGroup !== undefined && o.protocolVersion !== 5) throw new RangeError("shared subscriptions need MQTT 5");
    this.#o = o;
  }

  get clientId(): string {
    return `at-r-${this.#o.name}`;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** Connects and subscribes; resolves once the first subscription is granted. */
  start(): Promise<void> {
    const o = this.#o;
    const v = o.protocolVersion ?? 4;
    const options: IClientOptions = {
      clientId: this.clientId,
      protocolVersion: v,
      clean: false,
      reconnectPeriod: 1000,
      // A running registry keeps trying after a CONNACK refusal too (the broker's operator may
      // fix its ACL or password file); only the first connection fails fast (below).
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      keepalive: 30,
      ...(v === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
    };
    const client = (o.factory ?? mqttConnect)(o.url, options);
    this.#client = client;
    client.on("message", (topic, payload) => this.#inbound(topic, payload));
    client.on("offline", () => o.log.log("warn", "mqtt.offline", { broker: o.url }));
    return new Promise((resolve, reject) => {
      let first = true;
      // After stop() the client may still complain about writes racing its end: not worth a warning.
      client.on("error", (e) => {
        // A TLS or CONNACK refusal is named (transport/errors.ts: wrong CA, expired, revoked, name mismatch).
        const t = explainTls(e, `the broker at ${o.url}`);
        const fatal = first && isPermanentRefusal(t);
        o.log.log(this.#client !== client ? "debug" : fatal ? "error" : "warn", "mqtt.error", { error: t?.message ?? e.message, ...(t ? { code: t.code } : {}) });
        // A refusal retrying cannot heal (a certificate or identity the broker refuses, or a
        // broker we do not trust), before we ever connected: fail fast instead of retrying forever.
        // Connection refused, a reset or a timeout is transient: MQTT.js retries every second.
        if (fatal) {
          first = false;
          client.end(true);
          reject(t);
        }
      });
      client.on("connect", (connack) => {
        // Small packets, latency matters: no Nagle (it stalls a second publish ~40 ms behind the peer's delayed ACK).
        (client.stream as { setNoDelay?: (on: boolean) => unknown }).setNoDelay?.(true);
        o.log.log("info", "mqtt.connected", { broker: o.url, clientId: this.clientId, sessionPresent: connack.sessionPresent });
        if (connack.sessionPresent && !first) return;
        this.#subscribe(client).then(
          () => {
            if (!connack.sessionPresent) o.onSessionLost?.();
            if (first) resolve();
            first = false;
          },
          (e) => {
            o.log.log("error", "mqtt.subscribe-failed", { error: String(e) });
            if (first) {
              first = false;
              if (e instanceof TransportError) client.end(true);
              reject(e);
            }
          },
        );
      });
    });
  }

  #subscribe(client: MqttClient): Promise<void> {
    const prefix = this.#o.shareGroup ? `$share/${this.#o.shareGroup}/` : "";
    const topics = Object.fromEntries(REGISTRY_INBOUND.map((k) => [`${prefix}${TOPIC_PREFIX}d/+/${k}`, { qos: 1 as const }]));
    return new Promise((resolve, reject) => {
      client.subscribe(topics, (err, granted) => {
        if (err) return reject(err);
        const refused = (granted ?? []).filter((g) => g.qos === 128);
        // The ACL grants this identity no rights on the registry's topics: no retry heals that.
        if (refused.length > 0)
          return reject(new TransportError("E_MQTT_NOT_AUTHORIZED", `the broker at ${this.#o.url} refused ${this.clientId} the subscriptions ${refused.map((g) => g.topic).join(", ")}: its ACL grants this identity no registry rights`));
        resolve();
      });
    });
  }

  #inbound(topic: string, payload: Buffer): void {
    const log = this.#o.log;
    if (payload.length > MAX_PAYLOAD_BYTES) {
      return log.log("warn", "mqtt.dropped", { topic, reason: `payload of ${payload.length} bytes is over 16 KiB` });
    }
    const t = parseDeviceTopic(topic);
    if (!t || !REGISTRY_INBOUND.includes(t.kind)) return log.log("warn", "mqtt.dropped", { topic, reason: "not a registry topic" });
    try {
      this.#o.onMessage(t.did, t.kind, new Uint8Array(payload.buffer, payload.byteOffset, payload.length));
    } catch (e) {
      log.log("error", "mqtt.handler-threw", { topic, error: String(e) });
    }
  }

  /**
   * Publishes with QoS 1; `onSent` runs after the broker's PUBACK. Queued while offline.
   * Resolves once acknowledged and `onSent` has finished; never rejects (failures are logged).
   */
  publish(p: Publication): Promise<void> {
    const client = this.#client;
    if (!client) throw new Error("the MQTT service is not started");
    const log = this.#o.log;
    return new Promise((resolve) => {
      client.publish(p.topic, Buffer.from(p.payload.buffer, p.payload.byteOffset, p.payload.byteLength), { qos: 1, retain: p.retain }, (err) => {
        if (err) {
          log.log("warn", "mqtt.publish-failed", { topic: p.topic, error: err.message });
          return resolve();
        }
        Promise.resolve()
          .then(() => p.onSent?.())
          .catch((e) => log.log("error", "mqtt.on-sent-failed", { topic: p.topic, error: String(e) }))
          .finally(() => resolve());
      });
    });
  }

  /** Disconnects cleanly (the session stays on the broker). */
  stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return Promise.resolve();
    return new Promise((resolve) => {
      // A graceful end waits for in-flight publications; a broker that is gone gets 2 s.
      const force = setTimeout(() => client.end(true, {}, () => resolve()), 2000);
      client.end(false, {}, () => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
