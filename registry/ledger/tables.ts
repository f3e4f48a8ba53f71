// The ledger's bookkeeping tables (schema.ts): logs, signed tree heads, alarms.
import type { Db, Stmt } from "../store/util.js";
import { blob, bytes } from "../store/util.js";
import { equalBytes } from "../../attestation/bytes.js";
import { RegistryError } from "../errors.js";
import type { SignedTreeHead } from "./tree-head.js";
import type { LedgerErrorCode } from "./errors.js";

export interface LogRow {
  readonly id: number;
  readonly logId: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly name: string;
  readonly local: boolean;
  /** Entries 0..size-1 are in the tree. */
  readonly size: number;
}

type LogDbRow = { id: number; log_id: Buffer; public_key: Buffer; name: string; local: number; size: number };
const toLog = (r: LogDbRow): LogRow => ({ id: r.id, logId: bytes(r.log_id), publicKey: bytes(r.public_key), name: r.name, local: r.local === 1, size: r.size });

export class LogTable {
  readonly #insert: Stmt;
  readonly #byLogId: Stmt;
  readonly #byId: Stmt;
  readonly #all: Stmt;
  readonly #setSize: Stmt;
  readonly #size: Stmt;
  readonly #rename: Stmt;

  constructor(db: Db) {
    this.#insert = db.prepare("INSERT INTO ledger_logs (log_id, public_key, name, local) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    this.#byLogId = db.prepare("SELECT * FROM ledger_logs WHERE log_id = ?");
    this.#byId = db.prepare("SELECT * FROM ledger_logs WHERE id = ?");
    this.#all = db.prepare("SELECT * FROM ledger_logs ORDER BY local DESC, id");
    this.#setSize = db.prepare("UPDATE ledger_logs SET size = ? WHERE id = ?");
    this.#size = db.prepare("SELECT size FROM ledger_logs WHERE id = ?").pluck();
    this.#rename = db.prepare("UPDATE ledger_logs SET name = ? WHERE id = ?");
  }

  /** The row of a log, created if new. A log id is a key's kid: the same id with another key, or
   *  this registry's own log becoming a peer's (or the reverse), is a configuration error. */
  ensure(logId: Uint8Array, publicKey: Uint8Array, name: string, local: boolean): LogRow {
    const own = local ? this.all().find((l) => l.local) : undefined;
    if (own && !equalBytes(own.logId, logId)) {
      throw new RegistryError("E_CONFIG", `this database's ledger is the log of key ${Buffer.from(own.logId).toString("hex")}; a new registry key needs a new database (a new log)`);
    }
    this.#insert.run(blob(logId), blob(publicKey), name, local ? 1 : 0);
    const row = this.byLogId(logId)!;
    if (!equalBytes(row.publicKey, publicKey) || row.local !== local) {
      throw new RegistryError("E_CONFIG", `ledger log ${Buffer.from(logId).toString("hex")} is already held ${row.local ? "as this registry's own" : "as a peer's"} with ${equalBytes(row.publicKey, publicKey) ? "that" : "another"} key`);
    }
    if (row.name !== name && name !== "") this.#rename.run(name, row.id);
    return { ...row, name: name || row.name };
  }

  byLogId(logId: Uint8Array): LogRow | undefined {
    const r = this.#byLogId.get(blob(logId)) as LogDbRow | undefined;
    return r && toLog(r);
  }

  byId(id: number): LogRow | undefined {
    const r = this.#byId.get(id) as LogDbRow | undefined;
    return r && toLog(r);
  }

  all(): LogRow[] {
    return (this.#all.all() as LogDbRow[]).map(toLog);
  }

  /** The number of entries in the log's tree. */
  size(id: number): number {
    return this.#size.get(id) as number;
  }

  setSize(id: number, size: number): void {
    this.#setSize.run(size, id);
  }
}

type HeadDbRow = { size: number; root: Buffer; ts: number; cose: Buffer; log_id: Buffer };
const toHead = (r: HeadDbRow): SignedTreeHead => ({ log: bytes(r.log_id), size: r.size, root: bytes(r.root), ts: r.ts, cose: bytes(r.cose) });

export class HeadTable {
  readonly #add: Stmt;
  readonly #latest: Stmt;
  readonly #atSize: Stmt;
  readonly #between: Stmt;
  readonly #latestPerLog: Stmt;

  constructor(db: Db) {
    const cols = "h.size, h.root, h.ts, h.cose, l.log_id FROM ledger_heads h JOIN ledger_logs l ON l.id = h.log";
    this.#add = db.prepare("INSERT INTO ledger_heads (log, size, root, ts, cose, seen_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    this.#latest = db.prepare(`SELECT ${cols} WHERE h.log = ? ORDER BY h.size DESC, h.seen_at ASC LIMIT 1`);
    this.#atSize = db.prepare(`SELECT ${cols} WHERE h.log = ? AND h.size = ? ORDER BY h.seen_at`);
    this.#between = db.prepare(`SELECT ${cols} WHERE h.log = ? AND h.size > ? AND h.size <= ? ORDER BY h.size`);
    this.#latestPerLog = db.prepare(
      `SELECT ${cols} WHERE h.size = (SELECT max(size) FROM ledger_heads WHERE log = h.log) ORDER BY l.local DESC, l.id, h.seen_at`,
    );
  }

  /** Records a head; false when this (log, size, root) was already known. */
  add(log: number, h: SignedTreeHead, seenAt: number): boolean {
    return this.#add.run(log, h.size, blob(h.root), h.ts, blob(h.cose), seenAt).changes === 1;
  }

  latest(log: number): SignedTreeHead | undefined {
    const r = this.#latest.get(log) as HeadDbRow | undefined;
    return r && toHead(r);
  }

  atSize(log: number, size: number): SignedTreeHead[] {
    return (this.#atSize.all(log, size) as HeadDbRow[]).map(toHead);
  }

  /** Heads with lo < size <= hi, smallest first. */
  between(log: number, lo: number, hi: number): SignedTreeHead[] {
    return (this.#between.all(log, lo, hi) as HeadDbRow[]).map(toHead);
  }

  /** The largest head of every log (several when a log forked at its largest size). */
  latestPerLog(): SignedTreeHead[] {
    return (this.#latestPerLog.all() as HeadDbRow[]).map(toHead);
  }
}

export interface Alarm {
  readonly id: number;
  readonly logId: Uint8Array;
  readonly code: LedgerErrorCode;
  readonly size: number | null;
  readonly first: Uint8Array;
  readonly second: Uint8Array;
  readonly detail: string;
  readonly at: number;
}

type AlarmDbRow = { id: number; log_id: Buffer; code: LedgerErrorCode; size: number | null; first: Buffer; second: Buffer; detail: string; at: number };

export class AlarmTable {
  readonly #add: Stmt;
  readonly #list: Stmt;
  readonly #count: Stmt;

  constructor(db: Db) {
    this.#add = db.prepare("INSERT INTO ledger_alarms (log, code, size, first, second, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    this.#list = db.prepare("SELECT a.*, l.log_id FROM ledger_alarms a JOIN ledger_logs l ON l.id = a.log ORDER BY a.id");
    this.#count = db.prepare("SELECT count(*) FROM ledger_alarms WHERE log = ?").pluck();
  }

  /** Records an alarm; false when the same evidence was already recorded. */
  add(log: number, code: LedgerErrorCode, size: number | null, first: Uint8Array, second: Uint8Array, detail: string, at: number): boolean {
    return this.#add.run(log, code, size, blob(first), blob(second), detail, at).changes === 1;
  }

  list(): Alarm[] {
    return (this.#list.all() as AlarmDbRow[]).map((r) => ({
      id: r.id, logId: bytes(r.log_id), code: r.code, size: r.size, first: bytes(r.first), second: bytes(r.second), detail: r.detail, at: r.at,
    }));
  }

  count(log: number): number {
    return this.#count.get(log) as number;
  }
}
