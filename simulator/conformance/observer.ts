// The suite's eyes and hands on the broker: one MQTT client that records the protocol's traffic
// (PROTOCOL §3, both directions) and, playing an attacker, publishes on any topic. On a broker
// with ACLs it needs read and write on at/v1/# (docs/CONFORMANCE.md).
import { mqttSecurityOptions, type MqttSecurity } from "../../transport/mqtt-options.js";
import mqtt, { type MqttClient } from "mqtt";
import { parseDeviceTopic, type DeviceTopicKind } from "../../protocol/messages.js";

export interface Seen {
  readonly topic: string;
  readonly did: string;
  readonly kind: DeviceTopicKind;
  readonly payload: Uint8Array;
  readonly retain: boolean;
  /** Index in arrival order (for "after this point" waits). */
  readonly index: number;
}

export class Observer {
  readonly #seen: Seen[] = [];
  readonly #waiters = new Set<() => void>();
  #closed = false;

  #topics: readonly string[] = [];

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      const t = parseDeviceTopic(topic);
      if (!t) return;
      this.#seen.push({ topic, did: t.did, kind: t.kind, payload: new Uint8Array(payload), retain: packet.retain, index: this.#seen.length });
      for (const w of [...this.#waiters]) w();
    });
  }

  /** Connects with a clean session and subscribes (QoS 1) to `topics` (default: every device topic). */
  static async connect(url: string, mqttVersion: 4 | 5, topics: readonly string[] = ["at/v1/d/+/+"], security?: MqttSecurity): Promise<Observer> {
    const client = await mqtt.connectAsync(url, {
      ...mqttSecurityOptions(url, security),
      clientId: `at-conformance-${Math.random().toString(16).slice(2, 10)}`,
      protocolVersion: mqttVersion,
      clean: true,
      reconnectPeriod: 500,
      connectTimeout: 10_000,
    });
    const o = new Observer(client);
    o.#topics = topics;
    await client.subscribeAsync([...topics], { qos: 1 });
    return o;
  }

  /**
   * Resolves once the observer is connected and subscribed again (after a broker restart: until
   * then it misses messages, so scenarios wait for this before watching).
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    if (!this.client.connected) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`the observer did not reconnect within ${timeoutMs} ms`)), timeoutMs);
        this.client.once("connect", () => (clearTimeout(t), resolve()));
      });
    }
    await this.client.subscribeAsync([...this.#topics], { qos: 1 });
  }

  /** Messages so far, optionally from index `from` on. */
  seen(from = 0): readonly Seen[] {
    return from === 0 ? this.#seen : this.#seen.slice(from);
  }

  /** The index the next message will get. */
  get mark(): number {
    return this.#seen.length;
  }

  /** Messages of one device and kind (from index `from`). */
  of(did: string, kind: DeviceTopicKind, from = 0): Seen[] {
    const out: Seen[] = [];
    for (let i = from; i < this.#seen.length; i++) {
      const m = this.#seen[i]!;
      if (m.did === did && m.kind === kind) out.push(m);
    }
    return out;
  }

  /** The first message at index >= from for which `pick` returns a value; rejects after `timeoutMs`. */
  waitFor<T>(pick: (m: Seen) => T | undefined, timeoutMs: number, what: string, from = 0): Promise<T> {
    return new Promise((resolve, reject) => {
      let next = from;
      const scan = (): boolean => {
        for (; next < this.#seen.length; next++) {
          const v = pick(this.#seen[next]!);
          if (v !== undefined) {
            resolve(v);
            return true;
          }
        }
        return false;
      };
      if (scan()) return;
      const waiter = (): void => {
        if (scan()) done();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      this.#waiters.add(waiter);
    });
  }

  /** Publishes with QoS 1 (resolves on PUBACK). */
  async publish(topic: string, payload: Uint8Array | string, retain = false): Promise<void> {
    await this.client.publishAsync(topic, typeof payload === "string" ? payload : Buffer.from(payload), { qos: 1, retain });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.client.endAsync(true).catch(() => undefined);
  }
}
