// Signed tree heads (RFC 9162 §4.10 in spirit: size, root hash, timestamp, signature by the log):
//
//   sth = COSE_Sign1 (signed.ts) over {
//     "v": 1, "t": "sth",
//     "log": bstr .size 16,    ; the log id (kid of the registry key that signs)
//     "size": uint,            ; number of entries
//     "root": bstr .size 32,   ; RFC 9162 MTH of the first `size` entries
//     "ts": uint,              ; milliseconds since the epoch when the head was signed
//   }
// Two heads of one log with the same size and different roots are a fork: proof, signed by the
// log itself, that it showed two histories (docs/LEDGER.md §4).
import type { KeyObject } from "node:crypto";
import type { Signer } from "../../attestation/cose/sign1.js";
import { equalBytes } from "../../attestation/bytes.js";
import { accept, refuse, type Checked } from "./errors.js";
import { field, openObject, peekObject, signObject } from "./signed.js";
import { HASH_BYTES } from "./merkle.js";
import { LOG_ID_BYTES } from "./entry.js";

export interface TreeHead {
  readonly log: Uint8Array;
  readonly size: number;
  readonly root: Uint8Array;
  readonly ts: number;
}

/** A head with the signed bytes it came in. */
export interface SignedTreeHead extends TreeHead {
  readonly cose: Uint8Array;
}

export function signTreeHead(h: TreeHead, signer: Signer): SignedTreeHead {
  const cose = signObject({ v: 1, t: "sth", log: h.log, size: h.size, root: h.root, ts: h.ts }, signer, h.log);
  return { ...h, cose };
}

function head(p: Map<unknown, unknown>, cose: Uint8Array): Checked<SignedTreeHead> {
  const m = p as Parameters<typeof field.uint>[0];
  if (!field.keys(m, ["v", "t", "log", "size", "root", "ts"])) return refuse("E_LEDGER_SHAPE", "tree head fields");
  const log = field.bytes(m, "log", LOG_ID_BYTES);
  const size = field.uint(m, "size");
  const root = field.bytes(m, "root", HASH_BYTES);
  const ts = field.uint(m, "ts");
  if (!log || size === undefined || !root || ts === undefined) return refuse("E_LEDGER_SHAPE", "a tree head field is missing or mistyped");
  return accept({ log, size, root, ts, cose: new Uint8Array(cose) });
}

/** Decodes a tree head and checks its signature under the log's key. Never throws. */
export function verifyTreeHead(bytes: unknown, key: KeyObject, logId: Uint8Array): Checked<SignedTreeHead> {
  const opened = openObject(bytes, "sth", key, logId);
  if (!opened.ok) return opened;
  const h = head(opened.value, bytes as Uint8Array);
  if (h.ok && !equalBytes(h.value.log, logId)) return refuse("E_LEDGER_LOG", "the tree head names another log");
  return h;
}

/** Decodes a tree head WITHOUT checking its signature (to find its log). Never throws. */
export function peekTreeHead(bytes: unknown): Checked<SignedTreeHead> {
  const p = peekObject(bytes, "sth");
  return p.ok ? head(p.value.payload, bytes as Uint8Array) : p;
}

/** Two heads of one log that cannot both be true: same size, different roots. */
export function isFork(a: TreeHead, b: TreeHead): boolean {
  return equalBytes(a.log, b.log) && a.size === b.size && !equalBytes(a.root, b.root);
}
