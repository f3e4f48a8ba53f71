// The MQTT wire protocol of docs/PROTOCOL.md, version 1, shared by the agent, the registry and
// the conformance suite: topics (§3), the device <-> registry messages
// (§4) and a read-only peek into signed commands (§5). Both sides use this module: the agent
// encodes hello/attestation/heartbeat/receipt/result and decodes challenges; a registry does the
// reverse. Decoders take hostile bytes and throw only ProtocolError (code E_MESSAGE).
import { decodeStrict } from "../attestation/cbor/strict.js";
import { encodeDeterministic } from "../attestation/cbor/deterministic.js";
import { isCborMap, type CborMap, type CborValue } from "../attestation/cbor/value.js";
import { decodeSign1 } from "../attestation/cose/sign1.js";
import { createHash } from "node:crypto";

export const PROTOCOL_VERSION = 1;
export const TOPIC_PREFIX = "at/v1/";
/** §2: no payload exceeds 16 KiB; receivers drop larger ones. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
/** §4.2: challenge nonces are 32 bytes. */
export const CHALLENGE_NONCE_BYTES = 32;
/** §2: MQTT 5 session expiry of at least 7 days. */
export const SESSION_EXPIRY_S = 7 * 24 * 3600;

export const DEVICE_TOPICS = ["status", "hello", "challenge", "attestation", "heartbeat", "command", "desired", "receipt", "result"] as const;
export type DeviceTopicKind = (typeof DEVICE_TOPICS)[number];
/** §3: what a device subscribes to. */
export const DEVICE_SUBSCRIPTIONS: readonly DeviceTopicKind[] = ["challenge", "command", "desired"];

/** §1: did = 32 lowercase hex characters (the kid of the device key). */
export function isDid(s: unknown): s is string {
  return typeof s === "string" && /^[0-9a-f]{32}$/.test(s);
}

/** `at/v1/d/<did>/<kind>` (§3). */
export function deviceTopic(did: string, kind: DeviceTopicKind): string {
  if (!isDid(did)) throw new RangeError(`did must be 32 lowercase hex characters, got ${JSON.stringify(did)}`);
  return `${TOPIC_PREFIX}d/${did}/${kind}`;
}

/** The did and kind of a device topic, or undefined for any other topic. */
export function parseDeviceTopic(topic: string): { did: string; kind: DeviceTopicKind } | undefined {
  const m = /^at\/v1\/d\/([0-9a-f]{32})\/([a-z]+)$/.exec(topic);
  if (!m || !(DEVICE_TOPICS as readonly string[]).includes(m[2]!)) return undefined;
  return { did: m[1]!, kind: m[2] as DeviceTopicKind };
}

/** §1: MQTT client ids. */
export function deviceClientId(did: string): string {
  if (!isDid(did)) throw new RangeError("did must be 32 lowercase hex characters");
  return `at-d-${did}`;
}

export class ProtocolError extends Error {
  readonly code = "E_MESSAGE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(`E_MESSAGE: ${message}`, options);
    this.name = "ProtocolError";
  }
}

// LwM2M Object 8 resource 0 (lock state) and resource 5 (operation result), §4.6.
export const LOCK = { UNLOCKED: 0, PARTIAL: 1, FULL: 2 } as const;
export const RESULT_CODE = {
  DEFAULT: 0,
  PARTIAL_LOCK_OK: 1,
  FULL_LOCK_OK: 2,
  UNLOCK_OK: 3,
  WIPE_OK: 4,
  PARTIAL_LOCK_FAILED: 5,
  FULL_LOCK_FAILED: 6,
  UNLOCK_FAILED: 7,
  WIPE_FAILED: 8,
} as const;
/** §5 command actions. */
export const ACTION = { LOCK: 1, UNLOCK: 2, MESSAGE: 3 } as const;
export type ResultStatus = "SUCCEEDED" | "FAILED" | "REJECTED";

/** §4.6: the LwM2M code for a command's outcome. */
export function resultCode(action: number, ok: boolean): number {
  if (action === ACTION.LOCK) return ok ? RESULT_CODE.FULL_LOCK_OK : RESULT_CODE.FULL_LOCK_FAILED;
  if (action === ACTION.UNLOCK) return ok ? RESULT_CODE.UNLOCK_OK : RESULT_CODE.UNLOCK_FAILED;
  return RESULT_CODE.DEFAULT;
}

export interface Hello {
  readonly endorsement: Uint8Array;
  readonly bootcount: number;
  readonly lock: number;
  readonly seq: number;
  readonly agent?: string;
}
export interface Challenge {
  readonly nonce: Uint8Array;
}
export interface AttestationMessage {
  readonly token: Uint8Array;
}
export interface Heartbeat {
  readonly bootcount: number;
  readonly lock: number;
  readonly seq: number;
  readonly tampered: boolean;
}
export interface Receipt {
  readonly seq: number;
}
export interface Result {
  readonly seq: number;
  readonly status: ResultStatus;
  readonly code: number;
  readonly error?: number;
  readonly token?: Uint8Array;
}

const v1 = (fields: Record<string, CborValue | undefined>): Uint8Array => {
  const m = new Map<string, CborValue>([["v", PROTOCOL_VERSION]]);
  for (const [k, x] of Object.entries(fields)) if (x !== undefined) m.set(k, x);
  return encodeDeterministic(m);
};

export const encodeHello = (h: Hello): Uint8Array =>
  v1({ endorsement: h.endorsement, bootcount: h.bootcount, lock: h.lock, seq: h.seq, agent: h.agent });
export const encodeChallenge = (c: Challenge): Uint8Array => v1({ nonce: c.nonce });
export const encodeAttestation = (a: AttestationMessage): Uint8Array => v1({ token: a.token });
export const encodeHeartbeat = (h: Heartbeat): Uint8Array =>
  v1({ bootcount: h.bootcount, lock: h.lock, seq: h.seq, tampered: h.tampered });
export const encodeReceipt = (r: Receipt): Uint8Array => v1({ seq: r.seq, status: "IN_PROGRESS" });
export const encodeResult = (r: Result): Uint8Array =>
  v1({ seq: r.seq, status: r.status, code: r.code, error: r.error, token: r.token });

/** A v1 message map from hostile bytes (size-checked, strict CBOR, text keys, "v": 1). */
function message(bytes: Uint8Array, what: string): CborMap {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError(`${what}: payload must be bytes`);
  if (bytes.length > MAX_PAYLOAD_BYTES) throw new ProtocolError(`${what}: ${bytes.length} bytes is over the 16 KiB limit`);
  let v: CborValue;
  try {
    // Unsigned messages need not be deterministic; duplicates and malformations are still refused.
    v = decodeStrict(bytes, { deterministic: false, maxDepth: 4, maxItems: 64, maxBytes: MAX_PAYLOAD_BYTES });
  } catch (e) {
    throw new ProtocolError(`${what}: not CBOR of the expected profile (${(e as Error).message})`, { cause: e });
  }
  if (!isCborMap(v)) throw new ProtocolError(`${what}: not a map`);
  if (v.get("v") !== PROTOCOL_VERSION) throw new ProtocolError(`${what}: "v" is not ${PROTOCOL_VERSION}`);
  return v;
}

function uint(m: CborMap, key: string, what: string, max = 0xffff_ffff): number {
  const x = m.get(key);
  if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0 || x > max) throw new ProtocolError(`${what}: "${key}" must be a uint <= ${max}`);
  return x;
}
function bytesOf(m: CborMap, key: string, what: string, min = 0, max = MAX_PAYLOAD_BYTES): Uint8Array {
  const x = m.get(key);
  if (!(x instanceof Uint8Array) || x.length < min || x.length > max) throw new ProtocolError(`${what}: "${key}" must be a byte string of ${min}..${max} bytes`);
  return x;
}
function lockOf(m: CborMap, what: string): number {
  return uint(m, "lock", what, 2);
}

export function decodeHello(bytes: Uint8Array): Hello {
  const m = message(bytes, "hello");
  const agent = m.get("agent");
  if (agent !== undefined && (typeof agent !== "string" || agent.length > 128)) throw new ProtocolError(`hello: "agent" must be a text string of at most 128 characters`);
  return {
    endorsement: bytesOf(m, "endorsement", "hello", 1),
    bootcount: uint(m, "bootcount", "hello"),
    lock: lockOf(m, "hello"),
    seq: uint(m, "seq", "hello"),
    ...(agent !== undefined ? { agent } : {}),
  };
}

export function decodeChallenge(bytes: Uint8Array): Challenge {
  const m = message(bytes, "challenge");
  return { nonce: bytesOf(m, "nonce", "challenge", CHALLENGE_NONCE_BYTES, CHALLENGE_NONCE_BYTES) };
}

export function decodeAttestation(bytes: Uint8Array): AttestationMessage {
  return { token: bytesOf(message(bytes, "attestation"), "token", "attestation", 1) };
}

export function decodeHeartbeat(bytes: Uint8Array): Heartbeat {
  const m = message(bytes, "heartbeat");
  const tampered = m.get("tampered");
  if (typeof tampered !== "boolean") throw new ProtocolError(`heartbeat: "tampered" must be a boolean`);
  return { bootcount: uint(m, "bootcount", "heartbeat"), lock: lockOf(m, "heartbeat"), seq: uint(m, "seq", "heartbeat"), tampered };
}

export function decodeReceipt(bytes: Uint8Array): Receipt {
  const m = message(bytes, "receipt");
  if (m.get("status") !== "IN_PROGRESS") throw new ProtocolError(`receipt: "status" must be "IN_PROGRESS"`);
  return { seq: uint(m, "seq", "receipt") };
}

export function decodeResult(bytes: Uint8Array): Result {
  const m = message(bytes, "result");
  const status = m.get("status");
  if (status !== "SUCCEEDED" && status !== "FAILED" && status !== "REJECTED") throw new ProtocolError(`result: unknown "status"`);
  const error = m.get("error");
  if (error !== undefined && (typeof error !== "number" || !Number.isSafeInteger(error))) throw new ProtocolError(`result: "error" must be an integer`);
  const token = m.has("token") ? bytesOf(m, "token", "result", 1) : undefined;
  return {
    seq: uint(m, "seq", "result"),
    status,
    code: uint(m, "code", "result", 8),
    ...(error !== undefined ? { error } : {}),
    ...(token !== undefined ? { token } : {}),
  };
}

/** What a command claims about itself (§5) - NOT verified: only the TA decides. */
export interface CommandPeek {
  readonly seq: number;
  readonly action: number;
  readonly ueid: Uint8Array;
  readonly kid: Uint8Array;
  readonly message?: string;
  readonly contact?: string;
}

/**
 * Reads a command's payload without checking its signature, so the agent can address a receipt
 * and pick the LwM2M code of its result. Throws ProtocolError for anything that is not a
 * COSE_Sign1 carrying a §5 payload map; the TA applies the full rules (and the signature) itself.
 */
export function peekCommand(bytes: Uint8Array): CommandPeek {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError("command: payload must be bytes");
  if (bytes.length > MAX_PAYLOAD_BYTES) throw new ProtocolError(`command: ${bytes.length} bytes is over the 16 KiB limit`);
  let p: CborValue;
  try {
    // Lenient on encoding order: the TA, not this peek, judges the bytes.
    const s = decodeSign1(bytes, { strict: { deterministic: false, maxBytes: MAX_PAYLOAD_BYTES, maxDepth: 4, maxItems: 64 } });
    p = decodeStrict(s.payload, { deterministic: false, maxDepth: 2, maxItems: 32, maxBytes: MAX_PAYLOAD_BYTES });
  } catch (e) {
    throw new ProtocolError(`command: not a COSE_Sign1 with a CBOR payload (${(e as Error).message})`, { cause: e });
  }
  if (!isCborMap(p)) throw new ProtocolError("command: the payload is not a map");
  const ueid = p.get(1);
  const kid = p.get(2);
  const seq = p.get(3);
  const action = p.get(4);
  const message = p.get(5);
  const contact = p.get(6);
  if (!(ueid instanceof Uint8Array) || !(kid instanceof Uint8Array) || kid.length !== 16) throw new ProtocolError("command: target ueid (1) or device kid (2) missing or malformed");
  if (typeof seq !== "number" || !Number.isInteger(seq) || seq < 1 || seq > 0xffff_ffff) throw new ProtocolError("command: sequence number (3) must be 1..2^32-1");
  if (typeof action !== "number" || !Number.isInteger(action)) throw new ProtocolError("command: action (4) must be an integer");
  if (message !== undefined && typeof message !== "string") throw new ProtocolError("command: message (5) must be text");
  if (contact !== undefined && typeof contact !== "string") throw new ProtocolError("command: contact (6) must be text");
  return { seq, action, ueid, kid, ...(message !== undefined ? { message } : {}), ...(contact !== undefined ? { contact } : {}) };
}

/** §4.6: the nonce of a result's proof token, SHA-512(command COSE_Sign1 bytes)[0..32]. */
export function commandNonce(command: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha512").update(command).digest().subarray(0, 32));
}
