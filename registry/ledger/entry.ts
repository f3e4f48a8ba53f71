// A ledger entry: one status event of one registry, signed by that registry (docs/LEDGER.md §2).
//
//   entry = COSE_Sign1 (signed.ts) over {
//     "v": 1, "t": "entry",
//     "log": bstr .size 16,     ; the originating registry's kid = the log id
//     "seq": uint,              ; the entry's index in that log (its leaf index), from 0
//     "ts": uint,               ; milliseconds since the epoch, the registry's clock
//     "ev": "stolen" / "lost" / "authority" / "clone" / "tampered"     ; a flag raised
//         / "found" / "cleared"                                        ; a flag cleared
//         / "owner-reset",                                             ; an authority reset the ownership (no flag change)
//     "sub": [1*2 bstr .size 32], ; pseudonyms of the device's IMEIs (pseudonym.ts)
//     "fk": bstr .size 8,       ; id of the federation key the pseudonyms were made with
//     "by": "owner" / "authority" / "registry",  ; the role that raised or cleared (no key, no name)
//     ? "ref": uint,            ; found / cleared: seq of the entry that raised the flag (< seq)
//     ? "test": true,           ; every IMEI is a test IMEI (TAC 00xxxxxx, protocol/test-imei.ts):
//                               ; a conformance run's entry, which peers do not apply (§2)
//   }
// The leaf the Merkle tree commits to is the COSE_Sign1 bytes (RFC 9162 §2.1.1 leaf input).
import type { KeyObject } from "node:crypto";
import type { Signer } from "../../attestation/cose/sign1.js";
import type { FlagKind, PartyRole } from "../store.js";
import { accept, refuse, type Checked } from "./errors.js";
import { field, openObject, peekObject, signObject } from "./signed.js";
import { KEY_ID_BYTES, PSEUDONYM_BYTES } from "./pseudonym.js";

export type RaiseEvent = FlagKind;
export type ClearEvent = "found" | "cleared";
/** Events that record an act and change no flag (docs/LEDGER.md §2). */
export type NoticeEvent = "owner-reset";
export type LedgerEvent = RaiseEvent | ClearEvent | NoticeEvent;

export const RAISE_EVENTS: readonly RaiseEvent[] = ["stolen", "lost", "authority", "clone", "tampered"];
export const CLEAR_EVENTS: readonly ClearEvent[] = ["found", "cleared"];
export const NOTICE_EVENTS: readonly NoticeEvent[] = ["owner-reset"];
const EVENTS: readonly string[] = [...RAISE_EVENTS, ...CLEAR_EVENTS, ...NOTICE_EVENTS];
const ROLES: readonly PartyRole[] = ["owner", "authority", "registry"];

export const LOG_ID_BYTES = 16;
export const MAX_SUBJECTS = 2; // dual-SIM handsets carry two IMEIs (STANDARDS.md)

export interface EntryBody {
  readonly log: Uint8Array;
  readonly seq: number;
  readonly ts: number;
  readonly ev: LedgerEvent;
  readonly sub: readonly Uint8Array[];
  readonly fk: Uint8Array;
  readonly by: PartyRole;
  readonly ref?: number;
  /** A test entry (docs/LEDGER.md §2): peers keep it in the tree but apply no flag from it. */
  readonly test?: true;
}

export function isRaise(ev: LedgerEvent): ev is RaiseEvent {
  return (RAISE_EVENTS as readonly string[]).includes(ev);
}

export function isClear(ev: LedgerEvent): ev is ClearEvent {
  return (CLEAR_EVENTS as readonly string[]).includes(ev);
}

/** Signs an entry with the log's key (the registry key). */
export function signEntry(body: EntryBody, signer: Signer): Uint8Array {
  const payload: Record<string, unknown> = {
    v: 1, t: "entry", log: body.log, seq: body.seq, ts: body.ts, ev: body.ev, sub: [...body.sub], fk: body.fk, by: body.by,
  };
  if (body.ref !== undefined) payload.ref = body.ref;
  if (body.test) payload.test = true;
  return signObject(payload, signer, body.log);
}

function body(m: Map<unknown, unknown>): Checked<EntryBody> {
  const p = m as Parameters<typeof field.uint>[0];
  if (!field.keys(p, ["v", "t", "log", "seq", "ts", "ev", "sub", "fk", "by"], ["ref", "test"])) return refuse("E_LEDGER_SHAPE", "entry fields");
  if (p.has("test") && p.get("test") !== true) return refuse("E_LEDGER_SHAPE", "test, when present, is true");
  const log = field.bytes(p, "log", LOG_ID_BYTES);
  const seq = field.uint(p, "seq");
  const ts = field.uint(p, "ts");
  const ev = field.text(p, "ev", EVENTS) as LedgerEvent | undefined;
  const fk = field.bytes(p, "fk", KEY_ID_BYTES);
  const by = field.text(p, "by", ROLES) as PartyRole | undefined;
  const sub = p.get("sub");
  if (!log || seq === undefined || ts === undefined || !ev || !fk || !by) return refuse("E_LEDGER_SHAPE", "an entry field is missing or mistyped");
  if (!Array.isArray(sub) || sub.length < 1 || sub.length > MAX_SUBJECTS || !sub.every((s) => s instanceof Uint8Array && s.length === PSEUDONYM_BYTES)) {
    return refuse("E_LEDGER_SHAPE", `sub must be 1..${MAX_SUBJECTS} pseudonyms of ${PSEUDONYM_BYTES} bytes`);
  }
  const ref = p.has("ref") ? field.uint(p, "ref") : undefined;
  if (!isClear(ev) ? p.has("ref") : ref === undefined || ref >= seq) {
    return refuse("E_LEDGER_SHAPE", "found / cleared name the earlier entry they clear (ref < seq); a raised flag or an owner-reset has no ref");
  }
  return accept({ log, seq, ts, ev, sub: sub as Uint8Array[], fk, by, ...(ref !== undefined ? { ref } : {}), ...(p.has("test") ? { test: true as const } : {}) });
}

/** Decodes an entry and checks its signature under the log's key. Never throws. */
export function verifyEntry(bytes: unknown, key: KeyObject, logId: Uint8Array): Checked<EntryBody> {
  const opened = openObject(bytes, "entry", key, logId);
  if (!opened.ok) return opened;
  const b = body(opened.value);
  if (!b.ok) return b;
  if (Buffer.compare(b.value.log, logId) !== 0) return refuse("E_LEDGER_LOG", "the entry names another log");
  return b;
}

/** Decodes an entry WITHOUT checking its signature (to find its log). Never throws. */
export function peekEntry(bytes: unknown): Checked<EntryBody> {
  const p = peekObject(bytes, "entry");
  return p.ok ? body(p.value.payload) : p;
}
