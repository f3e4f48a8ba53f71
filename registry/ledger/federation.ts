// The registry's MQTT link to the federation (topics.ts): its own client `at-l-<name>`, apart from
// the device link (mqtt-service.ts), so the federation may run on another broker than the
// handsets - typically a broker the member registries bridge. Persistent session (clean=false)
// and QoS 1: entries published while a peer is offline wait for it on the broker.
// Every inbound payload is screened here (size, topic shape) and handed on; nothing a payload
// does can throw out of this module or stop the client.
import { connect as mqttConnect, type IClientOptions, type MqttClient } from "mqtt";
import { MAX_PAYLOAD_BYTES, SESSION_EXPIRY_S } from "../../protocol/messages.js";
import type { Logger } from "../../agent/log.js";
import type { MqttFactory } from "../mqtt-service.js";
import { explainTls, isPermanentRefusal, TransportError } from "../../transport/errors.js";
import { LEDGER_TOPIC_PREFIX, ledgerTopic, parseLedgerTopic, type LedgerTopicKind } from "./topics.js";

export interface FederationLinkOptions {
  readonly url: string;
  /** Client id `at-l-<name>`. */
  readonly name: string;
  /** This registry's log id (hex): it alone answers `get` for it. */
  readonly ownLog: string;
  readonly protocolVersion?: 4 | 5;
  readonly factory?: MqttFactory;
  readonly log: Logger;
  readonly onMessage: (log: string, kind: LedgerTopicKind, payload: Uint8Array) => void;
  /** Called on every (re)connect, after the subscriptions are granted. */
  readonly onConnect?: () => void;
}

export class FederationLink {
  readonly #o: FederationLinkOptions;
  #client: MqttClient | undefined;

  constructor(o: FederationLinkOptions) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(o.name)) throw new RangeError("the federation client name must be 1..64 characters of [A-Za-z0-9._-]");
    this.#o = o;
  }

  get clientId(): string {
    return `at-l-${this.#o.name}`;
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
      // As the device link (mqtt-service.ts): keep trying after a refusal once running.
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      keepalive: 30,
      ...(v === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
    };
    const client = (o.factory ?? mqttConnect)(o.url, options);
    this.#client = client;
    client.on("message", (topic, payload) => this.#inbound(topic, payload));
    return new Promise((resolve, reject) => {
      let first = true;
      client.on("error", (e) => {
        const t = explainTls(e, `the ledger broker at ${o.url}`);
        const fatal = first && isPermanentRefusal(t);
        o.log.log(this.#client !== client ? "debug" : fatal ? "error" : "warn", "ledger.mqtt-error", { error: t?.message ?? e.message, ...(t ? { code: t.code } : {}) });
        // A refusal retrying cannot heal, before the link ever came up: fail fast (mqtt-service.ts).
        if (fatal) {
          first = false;
          client.end(true);
          reject(t);
        }
      });
      client.on("connect", () => {
        const subs: Record<string, { qos: 1 }> = {};
        for (const k of ["entry", "sth", "gossip", "alarm", "checkpoint"]) subs[`${LEDGER_TOPIC_PREFIX}+/${k}`] = { qos: 1 };
        subs[ledgerTopic(o.ownLog, "get")] = { qos: 1 };
        client.subscribe(subs, (err, granted) => {
          const refused = (granted ?? []).filter((g) => g.qos === 128);
          // Refused subscriptions: the ACL grants this identity no ledger rights (PROTOCOL.md §2.1).
          const failure =
            err ??
            (refused.length
              ? new TransportError("E_MQTT_NOT_AUTHORIZED", `the ledger broker at ${o.url} refused ${this.clientId} the subscriptions ${refused.map((g) => g.topic).join(", ")}: its ACL grants this identity no ledger rights`)
              : undefined);
          if (failure) {
            o.log.log("error", "ledger.subscribe-failed", { error: String(failure) });
            if (first && failure instanceof TransportError) client.end(true);
            if (first) reject(failure);
          } else {
            o.log.log("info", "ledger.connected", { broker: o.url, clientId: this.clientId });
            o.onConnect?.();
            if (first) resolve();
          }
          first = false;
        });
      });
    });
  }

  #inbound(topic: string, payload: Buffer): void {
    const log = this.#o.log;
    if (payload.length > MAX_PAYLOAD_BYTES) return log.log("warn", "ledger.dropped", { topic, reason: `payload of ${payload.length} bytes is over 16 KiB` });
    const t = parseLedgerTopic(topic);
    if (!t) return log.log("warn", "ledger.dropped", { topic, reason: "not a ledger topic" });
    try {
      this.#o.onMessage(t.log, t.kind, new Uint8Array(payload.buffer, payload.byteOffset, payload.length));
    } catch (e) {
      log.log("error", "ledger.handler-threw", { topic, error: String(e) });
    }
  }

  /** Publishes with QoS 1; resolves once acknowledged (or failed: logged). Never rejects. */
  publish(topic: string, payload: Uint8Array, retain = false): Promise<void> {
    const client = this.#client;
    if (!client) return Promise.resolve();
    return new Promise((resolve) => {
      client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1, retain }, (err) => {
        if (err) this.#o.log.log("warn", "ledger.publish-failed", { topic, error: err.message });
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => client.end(true, {}, () => resolve()), 2000);
      client.end(false, {}, () => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
