// The registry's own log as a C2SP tlog-tiles log (docs/LEDGER.md §7.1), under
//   /antitheft/v1/ledger/tlog/checkpoint              text/plain; charset=utf-8, cached 2 s at most
//   /antitheft/v1/ledger/tlog/tile/<L>/<N>[.p/<W>]    application/octet-stream, immutable
//   /antitheft/v1/ledger/tlog/tile/entries/<N>[.p/<W>]
// `antitheft ledger export-tiles` writes the same files to a folder, for any static server.
import { RegistryError } from "../errors.js";
import type { Ledger } from "./ledger.js";
import { LEDGER_PREFIX } from "./http.js";
import { entryBundle, hashTile, parseTilePath, tileExists } from "./tiles.js";

export const TLOG_PREFIX = `${LEDGER_PREFIX}tlog/`;

export interface Asset {
  readonly body: Uint8Array;
  readonly type: string;
  readonly cache: string;
}

export const IMMUTABLE = "public, max-age=31536000, immutable";
const TEXT = "text/plain; charset=utf-8";
const OCTETS = "application/octet-stream";

/** The asset at `path` (relative to the tlog prefix) of this registry's own log; throws E_NOT_FOUND. */
export function tlogAsset(ledger: Ledger, path: string): Asset {
  if (path === "checkpoint") {
    // With the witnesses' cosignatures when they were collected for this very size (§7.2).
    const cp = ledger.checkpoint();
    const c = ledger.cosignedCheckpoint();
    return { body: new TextEncoder().encode(c && c.size === cp.head.size ? c.note : cp.note), type: TEXT, cache: "max-age=2" };
  }
  const t = parseTilePath(path);
  if (!t.ok) throw new RegistryError("E_NOT_FOUND", t.reason);
  const log = ledger.local.row.id;
  const size = ledger.local.size();
  if (!tileExists(t.value, size)) throw new RegistryError("E_NOT_FOUND", `the log of ${size} entries has no ${path}`);
  if (t.value.kind === "entries") {
    const start = t.value.n * 256;
    return { body: entryBundle(ledger.db.tree.entries(log, start, start + t.value.width)), type: OCTETS, cache: IMMUTABLE };
  }
  return { body: hashTile(ledger.db.tree.reader(log), t.value, size)!, type: OCTETS, cache: IMMUTABLE };
}
