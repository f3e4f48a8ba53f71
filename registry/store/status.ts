// status: what an IMEI's equipment status needs from the registry's own tables, in ONE query
// (equipment-status.ts applies the rule). On PostgreSQL every statement is a round trip, so the
// lookup a network makes on every attach costs one, not one per table (docs/STORAGE.md §4).
// Portable SQL: CASE and max() over integers, the same on both engines.
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

type Row = { did: string; missing: number; tampered: number | null; worst: number | null };

export class StatusTable {
  readonly #of: Stmt;

  constructor(db: Db) {
    const black = BLACKLIST_KINDS.map((k) => `'${k}'`).join(", ");
    // worst: 2 an active blacklist flag, 1 only greylist flags, NULL none (one index search on
    // flags_active per device); no ORDER BY: the rule does not depend on the order.
    this.#of = db.prepare(
      `SELECT b.did AS did, CASE WHEN d.did IS NULL THEN 1 ELSE 0 END AS missing, d.tampered AS tampered,
         (SELECT max(CASE WHEN f.kind IN (${black}) THEN 2 ELSE 1 END) FROM flags f WHERE f.did = b.did AND f.cleared_at IS NULL) AS worst
       FROM imei_bindings b LEFT JOIN devices d ON d.did = b.did
       WHERE b.imei = ?`,
    );
  }

  /** The devices `imei` is bound to. */
  of(imei: string): BoundDevice[] {
    return (this.#of.all(imei) as Row[]).map((r) => ({
      did: r.did,
      missing: r.missing === 1,
      tampered: r.tampered === 1,
      blacklisted: r.worst === 2,
      greylisted: r.worst === 1,
    }));
  }
}
