// Signed owner and authority requests (PROTOCOL.md §6.2): building them (owner/authority CLI)
// and parsing them from hostile bytes (registry). A request is a COSE_Sign1 (tag 18) signed by
// the requester, kid in the unprotected header, over a deterministic CBOR map with text keys.
// Parsing checks shape only; who may sign what is decided in requests.ts.
import { randomBytes } from "node:crypto";
import {
  coseKeyFromPublic, createSign1, decodeSign1, decodeStrict, encodeDeterministic, isValidImei, type Sign1, type Signer,
} from "../attestation/index.js";
import { publicFromCoseKey } from "../attestation/cose/key.js";
import { isCborMap, type CborValue } from "../attestation/cbor/value.js";
import { equalBytes } from "../attestation/bytes.js";
import { RegistryError } from "./errors.js";
import { checkCommandText } from "./commands.js";
import { ed25519KeyProblem, KEY_PROBLEM_TEXT } from "./key-validity.js";
import { normalizeClaimCode } from "../protocol/claim-code.js";
import { passkeyAlg } from "./passkey-keys.js";
import type { VerifiedAssertion } from "./webauthn.js";

export const REQUEST_TYPES = ["claim", "transfer", "report-stolen", "report-lost", "found", "flag", "flag-batch", "clear", "claim-code", "reset-owner", "view"] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];
export const MAX_REQUEST_BYTES = 16 * 1024;
export const REQUEST_ID_BYTES = 16;
export const MAX_REASON_CHARS = 256;
/** `flag-batch`: IMEIs per request (500 x 16 bytes of CBOR keeps the body well under 16 KiB). */
export const MAX_BATCH_IMEIS = 500;

type Field = "key" | "proof" | "code" | "message" | "contact" | "reason" | "imeis";

/** Fields each type requires and allows beyond v, type, imei, id, ts. */
const SHAPE: Readonly<Record<RequestType, { required: readonly Field[]; optional: readonly Field[] }>> = {
  claim: { required: ["key", "proof", "code"], optional: [] },
  "claim-code": { required: ["key"], optional: [] },
  "reset-owner": { required: [], optional: ["key", "reason"] },
  transfer: { required: ["key"], optional: [] },
  "report-stolen": { required: [], optional: ["message", "contact", "reason"] },
  "report-lost": { required: [], optional: ["message", "contact", "reason"] },
  found: { required: [], optional: ["reason"] },
  flag: { required: [], optional: ["message", "contact", "reason"] },
  "flag-batch": { required: ["imeis"], optional: ["message", "contact", "reason"] },
  clear: { required: [], optional: ["reason"] },
  view: { required: [], optional: [] },
};

export interface RequestFields {
  readonly type: RequestType;
  /** The IMEI (for `flag-batch`: the first of `imeis`, for logs). */
  readonly imei: string;
  /** `flag-batch` only: 1..MAX_BATCH_IMEIS distinct IMEIs. */
  readonly imeis?: readonly string[];
  readonly id: Uint8Array;
  /** Seconds since the epoch. */
  readonly ts: number;
  /** The registry the request is for: the kid of its command key (absent: refused, E_AUDIENCE). */
  readonly aud?: Uint8Array;
  /** claim: the owner's COSE_Key; transfer: the new owner's COSE_Key. */
  readonly key?: Uint8Array;
  /** claim: the device's registration-purpose attestation for claimNonce(code). */
  readonly proof?: Uint8Array;
  /** claim: the claim code the registry issued to this owner key (canonical form once parsed). */
  readonly code?: string;
  readonly message?: string;
  readonly contact?: string;
  readonly reason?: string;
}

export interface ParsedRequest extends RequestFields {
  /** kid from the unprotected header: names the signer. */
  readonly kid: Uint8Array;
  /** The structurally checked COSE_Sign1 (signature not yet verified); absent for a WebAuthn-signed request. */
  readonly sign1?: Sign1;
  /** A WebAuthn-signed request (docs/PORTAL.md §3): the passkey whose assertion over the payload verified. */
  readonly assertion?: VerifiedAssertion;
}

function bad(msg: string): never {
  throw new RegistryError("E_BAD_REQUEST", msg);
}

/** A COSE_Key byte string in its one canonical form {1: 1, -1: 6, -2: x}, x a valid key (key-validity.ts). */
export function checkCoseKey(b: Uint8Array, what: string): Uint8Array {
  let x: Uint8Array;
  try {
    x = publicFromCoseKey(decodeStrict(b));
  } catch (e) {
    return bad(`${what} is not an Ed25519 COSE_Key (${(e as Error).message})`);
  }
  if (!equalBytes(coseKeyFromPublic(x), b)) bad(`${what} is not the deterministic COSE_Key encoding`);
  const problem = ed25519KeyProblem(x); // a small-order key would let anyone sign as its holder
  if (problem) throw new RegistryError("E_BAD_KEY", `${what} ${KEY_PROBLEM_TEXT[problem]}`);
  return x;
}

/** Parses a request body. Throws RegistryError E_BAD_REQUEST / E_TOO_LARGE / E_BAD_KEY, nothing else. */
export function parseRequest(bytes: Uint8Array): ParsedRequest {
  if (!(bytes instanceof Uint8Array)) bad("the body must be bytes");
  if (bytes.length > MAX_REQUEST_BYTES) throw new RegistryError("E_TOO_LARGE");
  let s: Sign1;
  try {
    s = decodeSign1(bytes);
  } catch (e) {
    return bad(`not a COSE_Sign1 request with a deterministic CBOR payload (${(e as Error).message})`);
  }
  const kid = s.unprotectedHeader.get(4);
  if (!(kid instanceof Uint8Array) || kid.length !== 16 || s.protectedHeader.has(4)) bad("the signer's 16-byte kid must be in the unprotected header");
  return { ...parsePayload(s.payload), kid, sign1: s };
}

/**
 * Parses a request-payload (the CBOR map of §6.2) from hostile bytes: the content of a
 * COSE_Sign1 request, or the payload a WebAuthn assertion signs (docs/PORTAL.md §3).
 */
export function parsePayload(payload: Uint8Array): RequestFields {
  let p: CborValue;
  try {
    p = decodeStrict(payload, { maxDepth: 4, maxItems: 64 + MAX_BATCH_IMEIS });
  } catch (e) {
    return bad(`not a COSE_Sign1 request with a deterministic CBOR payload (${(e as Error).message})`);
  }
  if (!isCborMap(p)) bad("the payload is not a map");
  for (const k of p.keys()) if (typeof k !== "string") bad("payload keys must be text");
  if (p.get("v") !== 1) bad(`"v" must be 1`);
  const type = p.get("type");
  if (typeof type !== "string" || !(REQUEST_TYPES as readonly string[]).includes(type)) bad(`"type" must be one of ${REQUEST_TYPES.join(", ")}`);
  const shape = SHAPE[type as RequestType];
  const known = new Set<string>(["v", "type", "imei", "id", "ts", "aud", ...shape.required, ...shape.optional]);
  for (const k of p.keys()) if (!known.has(k as string)) bad(`"${String(k)}" is not a field of a ${type} request`);
  for (const k of shape.required) if (!p.has(k)) bad(`a ${type} request needs "${k}"`);
  let imei = p.get("imei");
  let imeis: string[] | undefined;
  if (type === "flag-batch") {
    if (p.has("imei")) bad(`a flag-batch request names its IMEIs in "imeis", not "imei"`);
    imeis = parseImeiList(p.get("imeis"));
    imei = imeis[0];
  } else if (typeof imei !== "string" || !isValidImei(imei)) bad(`"imei" must be 15 digits with a valid check digit (TS 23.003 Annex B)`);
  const id = p.get("id");
  if (!(id instanceof Uint8Array) || id.length !== REQUEST_ID_BYTES) bad(`"id" must be a ${REQUEST_ID_BYTES}-byte byte string`);
  const ts = p.get("ts");
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) bad(`"ts" must be an unsigned integer (seconds)`);
  const aud = p.get("aud");
  if (aud !== undefined && !(aud instanceof Uint8Array && aud.length === 16)) bad(`"aud" must be the 16-byte kid of the registry's key`);
  const out: Record<string, unknown> = { type, imei, id, ts, ...(imeis ? { imeis } : {}), ...(aud ? { aud } : {}) };
  for (const f of ["key", "proof"] as const) {
    if (!p.has(f)) continue;
    const v = p.get(f);
    if (!(v instanceof Uint8Array) || v.length === 0) bad(`"${f}" must be a byte string`);
    // An owner key is Ed25519 (the CLI's) or a passkey's (docs/PORTAL.md §2; requests.ts checks it is registered).
    if (f === "key" && passkeyAlg(v) === undefined) checkCoseKey(v, `"key"`);
    out[f] = v;
  }
  if (p.has("code")) {
    const v = p.get("code");
    try {
      out.code = normalizeClaimCode(v as string);
    } catch (e) {
      bad(`"code" is not a claim code (${(e as Error).message})`);
    }
  }
  for (const f of ["message", "contact", "reason"] as const) {
    if (!p.has(f)) continue;
    const v = p.get(f);
    if (typeof v !== "string") bad(`"${f}" must be a text string`);
    out[f] = v;
  }
  checkCommandText(out.message as string | undefined, out.contact as string | undefined);
  if (typeof out.reason === "string" && out.reason.length > MAX_REASON_CHARS) bad(`"reason" is longer than ${MAX_REASON_CHARS} characters`);
  return out as unknown as RequestFields;
}

/** `flag-batch`'s "imeis": an array of 1..MAX_BATCH_IMEIS distinct, valid IMEIs. */
function parseImeiList(v: CborValue | undefined): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_BATCH_IMEIS) bad(`"imeis" must be an array of 1..${MAX_BATCH_IMEIS} IMEIs`);
  const seen = new Set<string>();
  for (const x of v) {
    if (typeof x !== "string" || !isValidImei(x)) bad(`every entry of "imeis" must be 15 digits with a valid check digit (TS 23.003 Annex B)`);
    if (seen.has(x)) bad(`"imeis" names ${x} twice`);
    seen.add(x);
  }
  return [...seen];
}

export interface RequestInput {
  readonly type: RequestType;
  /** Ignored for `flag-batch` (use `imeis`). */
  readonly imei: string;
  readonly imeis?: readonly string[];
  readonly key?: Uint8Array;
  readonly proof?: Uint8Array;
  /** claim: the claim code (sent as typed; the registry normalises it). */
  readonly code?: string;
  readonly message?: string;
  readonly contact?: string;
  readonly reason?: string;
  /** Default: 16 random bytes. */
  readonly id?: Uint8Array;
  /** Default: now, in seconds. */
  readonly ts?: number;
}

/**
 * Builds and signs a request (tag 18 COSE_Sign1, kid of the signer in the unprotected header)
 * for the registry whose command key has kid `aud` (GET /antitheft/v1/registry tells it): any
 * other registry refuses it (E_AUDIENCE). `null` leaves "aud" out - only to show it is refused.
 */
export function buildRequest(signer: Signer, r: RequestInput, aud: Uint8Array | null): Uint8Array {
  return createSign1(buildPayload(r, aud), signer, { cwtTag: false });
}

/** The deterministic CBOR request-payload of §6.2 (what a COSE_Sign1 or a WebAuthn assertion signs). */
export function buildPayload(r: RequestInput, aud: Uint8Array | null): Uint8Array {
  const m = new Map<string, unknown>([
    ["v", 1],
    ["type", r.type],
    ...(r.type === "flag-batch" ? [["imeis", [...(r.imeis ?? [])]] as [string, unknown]] : [["imei", r.imei] as [string, unknown]]),
    ["id", r.id ?? new Uint8Array(randomBytes(REQUEST_ID_BYTES))],
    ["ts", r.ts ?? Math.floor(Date.now() / 1000)],
    ...(aud === null ? [] : [["aud", aud] as [string, unknown]]),
  ]);
  for (const f of ["key", "proof", "code", "message", "contact", "reason"] as const) if (r[f] !== undefined) m.set(f, r[f]);
  return encodeDeterministic(m);
}
