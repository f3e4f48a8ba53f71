// A member's request for a range of another log's entries over MQTT (docs/LEDGER.md §6.1). One
// small `get` makes the log re-publish entries to every member of the federation, so it is an
// amplifier: a log answers only a request signed by a member it pins, fresh, naming that very
// log, for at most MAX_GET_RANGE entries, within the requester's budget (get-limiter.ts).
//
//   get = COSE_Sign1 (signed.ts, the requester's registry key, kid = the requester's log id) over {
//     "v": 1, "t": "get",
//     "log": bstr .size 16,    ; the log asked (a get replayed on another log's topic is refused)
//     "start": uint, "end": uint,   ; entries [start, end), start < end
//     "ts": uint,              ; ms since the epoch, the requester's clock (freshness window)
//   }
import type { KeyObject } from "node:crypto";
import type { Signer } from "../../attestation/cose/sign1.js";
import { equalBytes } from "../../attestation/bytes.js";
import { toHex } from "../../attestation/index.js";
import { accept, refuse, type Checked } from "./errors.js";
import { field, openObject, peekObject, signObject } from "./signed.js";
import { LOG_ID_BYTES } from "./entry.js";

/** Entries re-published for one `get` at most. */
export const MAX_GET_RANGE = 512;
/** A get older or newer than this (ms, against the answering log's clock) is refused. */
export const GET_FRESHNESS_MS = 5 * 60_000;

export interface GetRequest {
  /** The log asked. */
  readonly log: Uint8Array;
  readonly start: number;
  readonly end: number;
  readonly ts: number;
}

export interface VerifiedGet extends GetRequest {
  /** The requester's log id (hex): the member whose budget it draws on. */
  readonly from: string;
}

/** Signs a get with the requester's registry key (`kid` = its log id). */
export function signGet(g: GetRequest, signer: Signer, kid: Uint8Array): Uint8Array {
  return signObject({ v: 1, t: "get", log: g.log, start: g.start, end: g.end, ts: g.ts }, signer, kid);
}

/**
 * Opens a get from hostile bytes: signed by a pinned member (`memberKey` answers the key of a
 * pinned peer by hex log id, undefined otherwise), naming `ownLog`, fresh at `now`. The range is
 * capped at MAX_GET_RANGE. Never throws.
 */
export function openGet(bytes: unknown, ownLog: Uint8Array, memberKey: (hex: string) => KeyObject | undefined, now: number): Checked<VerifiedGet> {
  const peeked = peekObject(bytes, "get");
  if (!peeked.ok) return peeked;
  const kid = peeked.value.sign1.kid;
  if (!kid || kid.length !== LOG_ID_BYTES) return refuse("E_LEDGER_LOG", "a get names no requester");
  const from = toHex(kid);
  const key = memberKey(from);
  if (!key) return refuse("E_LEDGER_LOG", `a get from ${from}, which is not a pinned member`);
  const opened = openObject(bytes, "get", key, kid);
  if (!opened.ok) return opened;
  const m = opened.value;
  if (!field.keys(m, ["v", "t", "log", "start", "end", "ts"])) return refuse("E_LEDGER_SHAPE", "get fields");
  const log = field.bytes(m, "log", LOG_ID_BYTES);
  const start = field.uint(m, "start");
  const end = field.uint(m, "end");
  const ts = field.uint(m, "ts");
  if (!log || start === undefined || end === undefined || ts === undefined || end <= start) return refuse("E_LEDGER_SHAPE", "get needs log, start < end and ts");
  if (!equalBytes(log, ownLog)) return refuse("E_LEDGER_LOG", "the get asks another log");
  if (Math.abs(now - ts) > GET_FRESHNESS_MS) return refuse("E_LEDGER_STALE", `the get was signed ${Math.round((now - ts) / 1000)} s from now, outside ±${GET_FRESHNESS_MS / 1000} s`);
  return accept({ log, start, end: Math.min(end, start + MAX_GET_RANGE), ts, from });
}
