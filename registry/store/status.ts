// status: what an IMEI's equipment status needs from the registry's own tables, in ONE query
// (equipment-status.ts applies the rule). On PostgreSQL every statement is a round trip, so the
// lookup a network makes on every attach costs one, not one per table (docs/STORAGE.md §4).
// Portable SQL: EXISTS yields 0/1 on SQLite and a boolean (read as 0/1, store/pg/worker.ts) on PostgreSQL.
import type { Db, Stmt } from "./util.js";
import { BLACKLIST_KINDS } from "./flags.js";

/** One device an IMEI is bound to, as equipment status sees it. */
export interface BoundDevice {
  readonly did: string;
  /** No device row for the binding (inconsistent data). */
  readonly missing: boolean;
  readonly tampered: boolean;
  /** An active stolen / lost / authority flag. */
  readonly blacklisted: boolean;
  /** An active clone / tampered flag. */
  readonly greylisted: boolean;
}

type Row = { did: string; missing: number; tampered: number | null; black: number; grey: number };

export class StatusTable {
  readonly #of: Stmt;

  constructor(db: Db) {
    const black = BLACKLIST_KINDS.map((k) => `'${k}'`).join(", ");
    this.#of = db.prepare(
      `SELECT b.did AS did, CASE WHEN d.did IS NULL THEN 1 ELSE 0 END AS missing, d.tampered AS tampered,
         CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.did = b.did AND f.cleared_at IS NULL AND f.kind IN (${black})) THEN 1 ELSE 0 END AS black,
         CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.did = b.did AND f.cleared_at IS NULL AND f.kind NOT IN (${black})) THEN 1 ELSE 0 END AS grey
       FROM imei_bindings b LEFT JOIN devices d ON d.did = b.did
       WHERE b.imei = ? ORDER BY b.bound_at, b.did`,
    );
  }

  /** The devices `imei` is bound to, oldest binding first. */
  of(imei: string): BoundDevice[] {
    return (this.#of.all(imei) as Row[]).map((r) => ({
      did: r.did,
      missing: r.missing === 1,
      tampered: r.tampered === 1,
      blacklisted: r.black === 1,
      greylisted: r.grey === 1,
    }));
  }
}
