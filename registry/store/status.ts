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

const SELECT = `SELECT b.imei AS imei, b.did AS did, CASE WHEN d.did IS NULL THEN 1 ELSE 0 END AS missing, d.tampered AS tampered,
    (SELECT max(CASE WHEN f.kind IN (${BLACKLIST_KINDS.map((k) => `'${k}'`).join(", ")}) THEN 2 ELSE 1 END) FROM flags f WHERE f.did = b.did AND f.cleared_at IS NULL) AS worst
  FROM imei_bindings b LEFT JOIN devices d ON d.did = b.did`;

type Row = { did: string; missing: number; tampered: number | null; worst: number | null };
type PageRow = Row & { imei: string };

const bound = (r: Row): BoundDevice => ({
  did: r.did,
  missing: r.missing === 1,
  tampered: r.tampered === 1,
  blacklisted: r.worst === 2,
  greylisted: r.worst === 1,
});

/** One row of the equipment-status change feed (schema migration 6, SQLite only). */
export interface StatusChange {
  readonly seq: number;
  readonly imei: string;
}

export class StatusTable {
  readonly #of: Stmt;
  readonly #db: Db;
  #page: Stmt | undefined;
  #changes: Stmt | undefined;
  #head: Stmt | undefined;

  constructor(db: Db) {
    this.#db = db;
    // worst: 2 an active blacklist flag, 1 only greylist flags, NULL none (one index search on
    // flags_active per device); no ORDER BY: the rule does not depend on the order.
    this.#of = db.prepare(`${SELECT} WHERE b.imei = ?`);
  }

  /** The devices `imei` is bound to. */
  of(imei: string): BoundDevice[] {
    return (this.#of.all(imei) as Row[]).map(bound);
  }

  /**
   * The bindings of the IMEIs after `after`, in IMEI order, at most `limit` rows: a snapshot's
   * build reads the whole table page by page. The last IMEI of a full page may continue on the
   * next one (a page may end between two devices of one IMEI): callers drop it and re-read.
   */
  page(after: string, limit: number): { imei: string; device: BoundDevice }[] {
    this.#page ??= this.#db.prepare(`${SELECT} WHERE b.imei > ? ORDER BY b.imei LIMIT ?`);
    return (this.#page.all(after, limit) as PageRow[]).map((r) => ({ imei: r.imei, device: bound(r) }));
  }

  /** The change feed's rows after `seq`, oldest first, at most `limit`. */
  changesSince(seq: number, limit: number): StatusChange[] {
    this.#changes ??= this.#db.prepare("SELECT seq, imei FROM status_changes WHERE seq > ? ORDER BY seq LIMIT ?");
    return this.#changes.all(seq, limit) as StatusChange[];
  }

  /** The feed's newest seq (0 when it is empty). */
  head(): number {
    this.#head ??= this.#db.prepare("SELECT coalesce(max(seq), 0) FROM status_changes").pluck();
    return Number(this.#head.get());
  }
}
