// The agent's view of an MQTT connection, and its MQTT.js implementation. The agent only needs:
// connect once (CONNACK or failure), publish and subscribe with QoS 1, incoming messages whose
// PUBACK waits until the agent has persisted what they changed, and one "closed" notice.
// Reconnecting is the agent's job (with backoff.ts), so one Link is one network connection.
import mqtt from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import { SESSION_EXPIRY_S } from "../protocol/messages.js";
import { describeConnectError } from "../transport/errors.js";

export interface LinkOptions {
  readonly clientId: string;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5 (PROTOCOL §2: both supported). */
  readonly protocolVersion: 4 | 5;
  /** Last Will, published by the broker if the connection dies (QoS 1). */
  readonly will: { readonly topic: string; readonly payload: Uint8Array; readonly retain: boolean };
  /** Keepalive in seconds (default 60). */
  readonly keepaliveS?: number;
  /** Give up on a connection attempt after this many ms (default 10 000). */
  readonly connectTimeoutMs?: number;
}

export interface LinkHandlers {
  /**
   * An incoming PUBLISH. For QoS 1 the broker receives its PUBACK only once the returned promise
   * settles (PROTOCOL §5: persist before acknowledging), and no further packet is processed on
   * this connection until then - so the handler must never wait for a PUBACK of its own publishes.
   */
  message(topic: string, payload: Uint8Array): Promise<void> | void;
  /** The connection ended after CONNACK (broker gone, network down, or `end`). Called once. */
  closed(error?: Error): void;
}

export interface Link {
  /** The broker resumed an existing session (CONNACK session present). */
  readonly sessionPresent: boolean;
  /** QoS 1 publish; resolves on PUBACK. */
  publish(topic: string, payload: Uint8Array, options?: { retain?: boolean }): Promise<void>;
  /** QoS 1 subscriptions; resolves on SUBACK, rejects if the broker refused one. */
  subscribe(topics: readonly string[]): Promise<void>;
  /** Disconnects. With `graceful` false the Will is published (as if the device lost power). */
  end(graceful?: boolean): Promise<void>;
}

/** Opens one connection: resolves on CONNACK, rejects when the attempt fails. */
export type Transport = (options: LinkOptions, handlers: LinkHandlers) => Promise<Link>;

/**
 * MQTT.js over the broker URL (mqtt://host:port, mqtts://...): a persistent session
 * (3.1.1 cleanSession = false; 5 cleanStart = false with a 7-day session expiry, PROTOCOL §2)
 * and no automatic reconnect.
 */
export function mqttTransport(brokerUrl: string, extra: Partial<IClientOptions> = {}): Transport {
  return (options, handlers) =>
    new Promise<Link>((resolve, reject) => {
      const clientOptions: IClientOptions = {
        ...extra,
        clientId: options.clientId,
        protocolVersion: options.protocolVersion,
        clean: false,
        reconnectPeriod: 0,
        keepalive: options.keepaliveS ?? 60,
        connectTimeout: options.connectTimeoutMs ?? 10_000,
        resubscribe: false,
        will: { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: 1, retain: options.will.retain },
        ...(options.protocolVersion === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
      };
      let client: MqttClient;
      try {
        client = mqtt.connect(brokerUrl, clientOptions);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      let connected = false;
      let closedOnce = false;
      let lastError: Error | undefined;
      client.handleMessage = (packet, done) => {
        const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
        let p: Promise<void> | void;
        try {
          p = handlers.message(packet.topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
        } catch {
          p = undefined; // a handler that throws still lets the connection go on
        }
        Promise.resolve(p).then(
          () => done(),
          () => done(),
        );
      };
      const where = `the broker at ${brokerUrl}`;
      client.on("error", (e) => {
        // A TLS or CONNACK refusal says why (transport/errors.ts: wrong CA, expired, revoked, name).
        lastError = describeConnectError(e, where);
        if (!connected) {
          client.end(true);
          reject(lastError);
        }
      });
      client.on("close", () => {
        if (!connected) {
          client.end(true);
          reject(lastError ?? new Error(`${where} closed the connection before CONNACK`));
          return;
        }
        if (closedOnce) return;
        closedOnce = true;
        client.end(true);
        handlers.closed(lastError);
      });
      client.once("connect", (connack) => {
        connected = true;
        // Small packets, latency matters: no Nagle (it stalls a second publish ~40 ms behind the peer's delayed ACK).
        (client.stream as { setNoDelay?: (on: boolean) => unknown }).setNoDelay?.(true);
        resolve({
          sessionPresent: connack.sessionPresent,
          publish: (topic, payload, o) =>
            new Promise((res, rej) => {
              client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1, retain: o?.retain ?? false }, (err) => (err ? rej(err) : res()));
            }),
          subscribe: (topics) =>
            new Promise((res, rej) => {
              client.subscribe(
                topics.map((t) => t),
                { qos: 1 },
                (err, granted) => {
                  if (err) return rej(err);
                  const refused = (granted ?? []).filter((g) => g.qos === 128);
                  if (refused.length) return rej(new Error(`the broker refused ${refused.map((g) => g.topic).join(", ")}`));
                  res();
                },
              );
            }),
          end: (graceful = true) =>
            new Promise((res) => {
              // force = !graceful: a forced end drops the socket without DISCONNECT, so the Will fires.
              client.end(!graceful, {}, () => res());
            }),
        });
      });
    });
}
