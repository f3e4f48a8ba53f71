// The ledger's read-only HTTP resources (docs/LEDGER.md §7), for auditors and peers:
//   GET /antitheft/v1/ledger/sth                               latest signed tree head
//   GET /antitheft/v1/ledger/entries?start=S&end=E             signed entries [S, E), at most 1000
//   GET /antitheft/v1/ledger/proof/inclusion?index=I&size=N    RFC 9162 §2.1.3 audit path
//   GET /antitheft/v1/ledger/proof/consistency?first=M&second=N  RFC 9162 §2.1.4 proof
//   GET /antitheft/v1/ledger/flag-proof?index=I                offline proof bundle of entry I (flag-proof.ts)
//   GET /antitheft/v1/ledger/heads                             latest head of every log held (gossip)
//   GET /antitheft/v1/ledger/alarms                            alarms with their evidence
// Every resource but heads and alarms takes `log=<32 hex>` to read a peer's mirrored log instead
// of this registry's own. Signed objects travel as base64 of their bytes; hashes as hex. A client
// trusts nothing in the JSON it has not checked against a signature (auditor.ts).
import { toHex } from "../../attestation/index.js";
import { RegistryError } from "../errors.js";
import type { Ledger, KnownLog } from "./ledger.js";
import type { SignedTreeHead } from "./tree-head.js";
import { buildFlagProof } from "./flag-proof.js";

export const LEDGER_PREFIX = "/antitheft/v1/ledger/";
export const MAX_ENTRIES_PER_PAGE = 1000;

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");

function uint(url: URL, name: string, fallback?: number): number {
  const v = url.searchParams.get(name);
  if (v === null) {
    if (fallback !== undefined) return fallback;
    throw new RegistryError("E_BAD_REQUEST", `the ${name} query parameter is required`);
  }
  if (!/^[0-9]{1,15}$/.test(v)) throw new RegistryError("E_BAD_REQUEST", `${name} must be a non-negative integer`);
  return Number(v);
}

function whichLog(ledger: Ledger, url: URL): KnownLog {
  const hex = url.searchParams.get("log") ?? ledger.logHex;
  const L = /^[0-9a-f]{32}$/.test(hex) ? ledger.known(hex) : undefined;
  if (!L) throw new RegistryError("E_NOT_FOUND", `this registry holds no log ${hex}`);
  return L;
}

function headJson(ledger: Ledger, h: SignedTreeHead): Record<string, unknown> {
  const hex = toHex(h.log);
  return { log: hex, name: ledger.known(hex)?.row.name ?? "", size: h.size, root: toHex(h.root), ts: h.ts, sth: b64(h.cose) };
}

/** Answers a GET under LEDGER_PREFIX with the 200 body, or throws a RegistryError. */
export function ledgerResource(ledger: Ledger, url: URL): Record<string, unknown> {
  const db = ledger.db;
  const resource = url.pathname.slice(LEDGER_PREFIX.length);
  switch (resource) {
    case "sth": {
      const L = whichLog(ledger, url);
      const h = L.row.local ? ledger.head() : db.heads.latest(L.row.id);
      if (!h) throw new RegistryError("E_NOT_FOUND", "no tree head of this log is held yet");
      return { ok: true, ...headJson(ledger, h) };
    }
    case "entries": {
      const L = whichLog(ledger, url);
      const size = db.logs.size(L.row.id);
      const start = uint(url, "start");
      const end = Math.min(uint(url, "end", size), size, start + MAX_ENTRIES_PER_PAGE);
      if (start > size) throw new RegistryError("E_BAD_REQUEST", `start ${start} is beyond the log's ${size} entries`);
      return { ok: true, log: L.hex, start, size, entries: (end > start ? db.tree.entries(L.row.id, start, end) : []).map(b64) };
    }
    case "proof/inclusion": {
      const L = whichLog(ledger, url);
      const held = db.logs.size(L.row.id);
      const size = uint(url, "size");
      const index = uint(url, "index");
      if (size > held || index >= size) throw new RegistryError("E_BAD_REQUEST", `need index < size <= ${held}`);
      return { ok: true, log: L.hex, index, size, path: db.tree.inclusion(L.row.id, index, size).map(toHex) };
    }
    case "proof/consistency": {
      const L = whichLog(ledger, url);
      const held = db.logs.size(L.row.id);
      const first = uint(url, "first");
      const second = uint(url, "second");
      if (second > held || first > second) throw new RegistryError("E_BAD_REQUEST", `need first <= second <= ${held}`);
      return { ok: true, log: L.hex, first, second, path: db.tree.consistency(L.row.id, first, second).map(toHex) };
    }
    case "flag-proof": {
      // An offline proof of entry `index` of this registry's own log (flag-proof.ts, docs/LEDGER.md §7.3).
      const index = uint(url, "index");
      const bundle = buildFlagProof(ledger, index);
      if (!bundle) throw new RegistryError("E_NOT_FOUND", `entry ${index} is not in the latest checkpoint`);
      return { ok: true, bundle };
    }
    case "heads": {
      ledger.head(); // sign our own if the log grew
      return { ok: true, heads: db.heads.latestPerLog().map((h) => headJson(ledger, h)) };
    }
    case "alarms":
      return {
        ok: true,
        alarms: db.alarms.list().map((a) => ({
          log: toHex(a.logId), name: ledger.known(toHex(a.logId))?.row.name ?? "", code: a.code, size: a.size,
          first: b64(a.first), second: b64(a.second), detail: a.detail, at: new Date(a.at).toISOString(),
        })),
      };
    default:
      throw new RegistryError("E_NOT_FOUND", `no ledger resource ${url.pathname}`);
  }
}
