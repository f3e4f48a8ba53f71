// A lean MQTT client for fleets: the agent's Transport (agent/mqtt-link.ts) in a few KB per
// connection instead of an MQTT.js client's ~35 KiB, so tens of thousands of virtual handsets fit
// in one process. It speaks exactly what the protocol needs (docs/PROTOCOL.md §2): MQTT 3.1.1 and
// 5 CONNECT with a persistent session and a Last Will, QoS 1 PUBLISH/PUBACK both ways, SUBSCRIBE,
// keepalive pings and DISCONNECT. Anything else from the broker (QoS 2, AUTH) closes the
// connection. Packet layouts: MQTT 3.1.1 (OASIS 2014) §2-3 and MQTT 5.0 (OASIS 2019) §2-3.
import { connect as tcpConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect, type SecureContext, type TLSSocket } from "node:tls";
import { describeConnectError } from "../transport/errors.js";
import type { Link, LinkHandlers, LinkOptions, Transport } from "../agent/mqtt-link.js";
import { SESSION_EXPIRY_S } from "../protocol/messages.js";

const T = { CONNECT: 1, CONNACK: 2, PUBLISH: 3, PUBACK: 4, SUBSCRIBE: 8, SUBACK: 9, PINGREQ: 12, PINGRESP: 13, DISCONNECT: 14 } as const;
/** Largest packet accepted from the broker (the protocol's payloads are <= 16 KiB; hostile ones are bigger). */
const MAX_PACKET = 256 * 1024;

export class MqttLiteError extends Error {
  readonly code = "E_MQTT";
  constructor(message: string) {
    super(`E_MQTT: ${message}`);
    this.name = "MqttLiteError";
  }
}

// ---- encoding (MQTT §1.5: UTF-8 strings and binary data with a 2-byte length; §2.2.3 varint) ----

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function str(s: string | Uint8Array): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s.buffer, s.byteOffset, s.byteLength);
  if (b.length > 0xffff) throw new MqttLiteError("a string or binary field is over 65535 bytes");
  const h = Buffer.allocUnsafe(2);
  h.writeUInt16BE(b.length);
  return Buffer.concat([h, b]);
}

function packet(type: number, flags: number, parts: readonly Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([(type << 4) | flags, ...varint(body.length)]), body]);
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);

/** §3.1 CONNECT with clean session/start false, the Will (QoS 1) and, for v5, a session expiry. */
export function encodeConnect(o: LinkOptions): Buffer {
  const v5 = o.protocolVersion === 5;
  const flags = 0x04 /* will */ | (1 << 3) /* will QoS 1 */ | (o.will.retain ? 0x20 : 0); // clean = 0
  const props = v5 ? Buffer.from([5, 0x11, ...u32(SESSION_EXPIRY_S)]) : Buffer.alloc(0);
  return packet(T.CONNECT, 0, [
    str("MQTT"),
    Buffer.from([o.protocolVersion, flags]),
    u16(o.keepaliveS ?? 60),
    props,
    str(o.clientId),
    v5 ? Buffer.from([0]) : Buffer.alloc(0), // no will properties
    str(o.will.topic),
    str(o.will.payload),
  ]);
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

export function encodePublish(v: 4 | 5, topic: string, payload: Uint8Array, id: number, retain: boolean): Buffer {
  return packet(T.PUBLISH, (1 << 1) | (retain ? 1 : 0), [str(topic), u16(id), v === 5 ? Buffer.from([0]) : Buffer.alloc(0), Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)]);
}

export function encodeSubscribe(v: 4 | 5, id: number, topics: readonly string[]): Buffer {
  return packet(T.SUBSCRIBE, 0x02, [u16(id), v === 5 ? Buffer.from([0]) : Buffer.alloc(0), ...topics.flatMap((t) => [str(t), Buffer.from([1])])]);
}

const puback = (id: number): Buffer => Buffer.from([T.PUBACK << 4, 2, id >> 8, id & 0xff]);
const PINGREQ = Buffer.from([T.PINGREQ << 4, 0]);
const DISCONNECT = Buffer.from([T.DISCONNECT << 4, 0]);

// ---- decoding ----------------------------------------------------------------------------------

export interface Packet {
  readonly type: number;
  readonly flags: number;
  readonly body: Buffer;
}

/** Splits complete packets off the front of `buf`; returns them and the unconsumed rest. */
export function splitPackets(buf: Buffer): { packets: Packet[]; rest: Buffer } {
  const packets: Packet[] = [];
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    let len = 0;
    let mul = 1;
    let i = at + 1;
    let complete = false;
    for (let k = 0; k < 4 && i < buf.length; k++, i++) {
      len += (buf[i]! & 0x7f) * mul;
      mul *= 128;
      if ((buf[i]! & 0x80) === 0) {
        complete = true;
        i++;
        break;
      }
      if (k === 3) throw new MqttLiteError("malformed remaining length");
    }
    if (!complete) break;
    if (len > MAX_PACKET) throw new MqttLiteError(`a packet of ${len} bytes is over the limit`);
    if (buf.length - i < len) break;
    packets.push({ type: buf[at]! >> 4, flags: buf[at]! & 0x0f, body: buf.subarray(i, i + len) });
    at = i + len;
  }
  return { packets, rest: at === 0 ? buf : buf.subarray(at) };
}

/** The varint at `at` in `b`: [value, next offset]. */
function readVarint(b: Buffer, at: number): [number, number] {
  let n = 0;
  let mul = 1;
  for (let k = 0; k < 4; k++) {
    if (at >= b.length) throw new MqttLiteError("truncated varint");
    const x = b[at++]!;
    n += (x & 0x7f) * mul;
    mul *= 128;
    if ((x & 0x80) === 0) return [n, at];
  }
  throw new MqttLiteError("malformed varint");
}

export function decodePublish(v: 4 | 5, p: Packet): { topic: string; id: number; qos: number; retain: boolean; payload: Buffer } {
  const qos = (p.flags >> 1) & 3;
  if (qos === 3) throw new MqttLiteError("PUBLISH with QoS 3");
  const b = p.body;
  if (b.length < 2) throw new MqttLiteError("truncated PUBLISH");
  const tl = b.readUInt16BE(0);
  let at = 2 + tl;
  if (at > b.length) throw new MqttLiteError("truncated PUBLISH topic");
  const topic = b.toString("utf8", 2, at);
  let id = 0;
  if (qos > 0) {
    if (at + 2 > b.length) throw new MqttLiteError("truncated PUBLISH packet id");
    id = b.readUInt16BE(at);
    at += 2;
  }
  if (v === 5) {
    const [plen, next] = readVarint(b, at);
    at = next + plen;
    if (at > b.length) throw new MqttLiteError("truncated PUBLISH properties");
  }
  return { topic, id, qos, retain: (p.flags & 1) === 1, payload: b.subarray(at) };
}

// ---- the transport ----------------------------------------------------------------------------

/**
 * TLS for a fleet on one lean client (docs/PROTOCOL.md §2.1): the SecureContext of a client id -
 * the CA, TLS settings and that handset's own key and certificate. Node attaches a client
 * certificate only through the context (TLSSocket.setKeyCert is for servers), so each handset
 * needs its own; the caller keeps one per handset and reuses it across reconnections.
 */
export interface LiteTls {
  contextFor(clientId: string): SecureContext;
  /** The name the broker's certificate must carry (default: the URL's host, unless an IP address). */
  readonly servername?: string;
}

/** The lean Transport: `mqtt://host:port`, or `mqtts://host:port` with `tls` (no WebSocket). */
export function liteTransport(brokerUrl: string, tls?: LiteTls): Transport {
  const u = new URL(brokerUrl);
  if (u.protocol !== "mqtt:" && u.protocol !== "mqtts:") throw new MqttLiteError(`the lite client speaks mqtt:// and mqtts:// only, got ${u.protocol}`);
  if ((u.protocol === "mqtts:") !== (tls !== undefined)) throw new MqttLiteError(u.protocol === "mqtts:" ? "an mqtts:// broker needs the TLS settings" : "TLS settings need an mqtts:// broker");
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(u.port || (tls ? 8883 : 1883));
  return (options, handlers) => connectLite(host, port, options, handlers, tls);
}

function openSocket(host: string, port: number, clientId: string, tls: LiteTls | undefined): { socket: Socket; ready: string } {
  if (!tls) return { socket: tcpConnect({ host, port }), ready: "connect" };
  const servername = tls.servername ?? (isIP(host) ? undefined : host);
  const socket: TLSSocket = tlsConnect({ host, port, secureContext: tls.contextFor(clientId), ...(servername ? { servername } : {}), rejectUnauthorized: true });
  return { socket, ready: "secureConnect" };
}

function connectLite(host: string, port: number, o: LinkOptions, h: LinkHandlers, tls?: LiteTls): Promise<Link> {
  const v = o.protocolVersion;
  return new Promise<Link>((resolve, reject) => {
    const { socket, ready } = openSocket(host, port, o.clientId, tls);
    socket.setNoDelay(true);
    let rest: Buffer = Buffer.alloc(0);
    let nextId = 0;
    const acks = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
    let up = false;
    let closed = false;
    let chain: Promise<void> = Promise.resolve();
    let ping: NodeJS.Timeout | undefined;
    const keepMs = (o.keepaliveS ?? 60) * 1000;
    const connectTimer = setTimeout(() => fail(new MqttLiteError("no CONNACK in time")), o.connectTimeoutMs ?? 10_000);

    const id = (): number => (nextId = (nextId % 0xffff) + 1);
    const send = (b: Buffer): void => {
      if (!closed) socket.write(b);
    };
    const armPing = (): void => {
      clearTimeout(ping);
      if (keepMs > 0) ping = setTimeout(() => (send(PINGREQ), armPing()), keepMs * 0.9);
      ping?.unref();
    };
    const fail = (e: Error): void => {
      if (closed) return;
      closed = true;
      clearTimeout(connectTimer);
      clearTimeout(ping);
      socket.destroy();
      for (const a of acks.values()) a.reject(e);
      acks.clear();
      if (up) h.closed(e);
      else reject(e);
    };
    socket.on("error", (e) => fail(tls ? describeConnectError(e, `the broker at ${host}:${port}`) : e));
    socket.on("close", () => fail(new MqttLiteError("connection closed")));
    socket.on(ready, () => {
      send(encodeConnect(o));
      armPing();
    });
    socket.on("data", (chunk: Buffer) => {
      let parsed;
      try {
        parsed = splitPackets(rest.length ? Buffer.concat([rest, chunk]) : chunk);
      } catch (e) {
        return fail(e as Error);
      }
      // Keep only the unparsed tail (a copy, so the socket's chunk can be collected).
      rest = parsed.rest.length ? Buffer.from(parsed.rest) : Buffer.alloc(0);
      for (const p of parsed.packets) chain = chain.then(() => onPacket(p)).catch((e: Error) => fail(e));
    });

    const onPacket = async (p: Packet): Promise<void> => {
      if (closed) return;
      switch (p.type) {
        case T.CONNACK: {
          if (up || p.body.length < 2) throw new MqttLiteError("unexpected CONNACK");
          if (p.body[1] !== 0) throw new MqttLiteError(`the broker refused the connection (code ${p.body[1]})`);
          up = true;
          clearTimeout(connectTimer);
          resolve(link((p.body[0]! & 1) === 1));
          return;
        }
        case T.PUBLISH: {
          const m = decodePublish(v, p);
          if (m.qos === 2) throw new MqttLiteError("QoS 2 is not used by the protocol");
          // The PUBACK waits for the handler (persist before acknowledging, PROTOCOL §5). Copy:
          // handlers keep payloads beyond this packet's buffer.
          await Promise.resolve(h.message(m.topic, new Uint8Array(m.payload))).catch(() => undefined);
          if (m.qos === 1) send(puback(m.id));
          return;
        }
        case T.PUBACK:
        case T.SUBACK: {
          const pid = p.body.readUInt16BE(0);
          const a = acks.get(pid);
          acks.delete(pid);
          if (!a) return;
          if (p.type === T.SUBACK) {
            let at = 2;
            if (v === 5) {
              const [plen, next] = readVarint(p.body, at);
              at = next + plen;
            }
            const codes = [...p.body.subarray(at)];
            if (codes.some((c) => c >= 0x80)) return a.reject(new MqttLiteError(`the broker refused a subscription (${codes.join(",")})`));
          }
          a.resolve();
          return;
        }
        case T.PINGRESP:
          return;
        case T.DISCONNECT:
          throw new MqttLiteError("the broker disconnected");
        default:
          throw new MqttLiteError(`unexpected packet type ${p.type}`);
      }
    };

    const waitAck = (pid: number): Promise<void> =>
      new Promise((res, rej) => {
        if (closed) return rej(new MqttLiteError("not connected"));
        acks.set(pid, { resolve: res, reject: rej });
      });

    const link = (sessionPresent: boolean): Link => ({
      sessionPresent,
      publish(topic, payload, opts) {
        const pid = id();
        const done = waitAck(pid);
        send(encodePublish(v, topic, payload, pid, opts?.retain ?? false));
        return done;
      },
      subscribe(topics) {
        const pid = id();
        const done = waitAck(pid);
        send(encodeSubscribe(v, pid, topics));
        return done;
      },
      end(graceful = true) {
        // Resolves once the connection is gone (and `closed` was called).
        return new Promise<void>((res) => {
          if (closed) return res();
          socket.once("close", () => res());
          if (graceful) {
            socket.end(DISCONNECT);
            setTimeout(() => socket.destroy(), 2000).unref();
          } else socket.destroy();
        });
      },
    });
  });
}
