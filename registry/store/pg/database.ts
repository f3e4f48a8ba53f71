// PostgreSQL behind the registry's `Db` interface (store/util.ts): the same prepared statements
// and nested transactions the tables use on SQLite (docs/STORAGE.md §2).
// Transactions: the outermost is BEGIN ISOLATION LEVEL SERIALIZABLE, then (on PostgreSQL) a
// transaction-scoped advisory lock that serialises the registry's writers as SQLite's write
// lock does - one writer at a time, so the ledger's log has one writer (docs/LEDGER.md) and
// PostgreSQL never has to abort one of them. Nested calls are savepoints. A serialization
// failure or deadlock (SQLSTATE 40001, 40P01), at any statement or at COMMIT, rolls the whole
// transaction back and runs it again (up to MAX_ATTEMPTS, with a short random pause): the only
// outcome on CockroachDB, which has no advisory locks and runs every transaction SERIALIZABLE
// (`lock: false`). Work inside a transaction must therefore be database work only (it is:
// group-commit.ts).
// A lost connection (docs/STORAGE.md §7) is not retried here: the worker reconnects in the
// background, and meanwhile every statement fails at once with RegistryError E_DB ("database
// unavailable"). A transaction whose connection was lost is never continued on the new one
// (its statements are pinned to the connection's epoch) and never committed: it fails with E_DB,
// and its outcome is "not committed" - except when the loss came while COMMIT was in flight,
// where it is unknown, and the clients' retries are made safe by request and command ids.
import type { Db, RunResult, Stmt, TxFn } from "../util.js";
import { RegistryError } from "../../errors.js";
import { IN_DOUBT, type StateEvent } from "./bridge.js";
import { SyncPg, PgError, type ReconnectOptions } from "./sync-client.js";
import { bind, translate, type Translated } from "./translate.js";

/** The advisory lock key of the registry's writers ("antitheft" in ASCII, truncated). */
export const WRITER_LOCK = 0x616e7469746865;
const MAX_ATTEMPTS = 10;
/** LISTEN/NOTIFY channel of flag changes (docs/STORAGE.md §4). */
export const FLAG_CHANNEL = "antitheft_flags";

export interface PgOptions {
  /** Serialise writers with pg_advisory_xact_lock (default true; false on CockroachDB). */
  readonly lock?: boolean;
  /** Reconnect backoff after a lost connection (default 50 ms doubling up to 5 s). */
  readonly reconnect?: ReconnectOptions;
  /** A statement unanswered this long means a dead connection (default 35 s; docs/STORAGE.md §7). */
  readonly answerTimeoutMs?: number;
}

const RETRYABLE = new Set(["40001", "40P01"]);
export const isRetryable = (e: unknown): boolean => e instanceof PgError && RETRYABLE.has(e.code ?? "");
/** SQLSTATE class 08 (connection exception): the worker lost its connection and is reconnecting. */
const isConnectionLoss = (e: unknown): boolean => e instanceof PgError && (e.code ?? "").startsWith("08");
/** The store's typed error for "no database now" (E_DB, HTTP 503; equipment status answers 500). */
export const isDatabaseUnavailable = (e: unknown): e is RegistryError => e instanceof RegistryError && e.code === "E_DB";

class PgStatement implements Stmt {
  readonly #db: PgDatabase;
  readonly #t: Translated;
  readonly #writes: boolean;
  readonly #name: string;
  #pluck = false;

  constructor(db: PgDatabase, sql: string, name: string) {
    this.#db = db;
    this.#name = name;
    this.#t = translate(sql);
    this.#writes = /^\s*(?:INSERT|UPDATE|DELETE)\b/i.test(sql);
  }

  #query(args: unknown[]) {
    if (this.#writes) this.#db.wrote();
    return this.#db.query(this.#t.text, bind(this.#t, args), this.#name);
  }

  pluck(toggle = true): this {
    this.#pluck = toggle;
    return this;
  }

  run(...args: unknown[]): RunResult {
    return { changes: this.#query(args).rowCount };
  }

  get(...args: unknown[]): unknown {
    const r = this.#query(args);
    const first = r.rows[0];
    if (first === undefined) return undefined;
    return this.#pluck ? first[r.fields[0]!] : first;
  }

  all(...args: unknown[]): unknown[] {
    const r = this.#query(args);
    return this.#pluck ? r.rows.map((row) => row[r.fields[0]!]) : r.rows;
  }
}

export class PgDatabase implements Db {
  readonly #pg: SyncPg;
  readonly #lock: boolean;
  #depth = 0;
  /** Set when a statement of the open transaction hit a serialization failure: it must be run again. */
  #doomed: PgError | undefined;
  /** Set when the connection of the open transaction was lost: it cannot commit, nor be run again here. */
  #lost: RegistryError | undefined;
  /** Transactions run again after a serialization failure (for tests and benchmarks). */
  retries = 0;

  constructor(url: string, o: PgOptions = {}) {
    this.#pg = new SyncPg(url, FLAG_CHANNEL, { ...(o.reconnect ? { reconnect: o.reconnect } : {}), ...(o.answerTimeoutMs ? { answerTimeoutMs: o.answerTimeoutMs } : {}) });
    this.#lock = o.lock ?? true;
  }

  #writes = 0;

  /**
   * Changes so far that an equipment status may depend on: flag notifications received from
   * every process (NOTIFY, docs/STORAGE.md §4), plus this process's own writes, commits and
   * rollbacks (known at once, before their notification comes back).
   */
  get generation(): number {
    return this.#pg.generation + this.#writes;
  }

  /** Counts a write statement (status-cache.ts). */
  wrote(): void {
    this.#writes++;
  }

  get open(): boolean {
    return this.#pg.open;
  }

  /** Whether the connection is up now (read without a round trip; false while reconnecting). */
  get connected(): boolean {
    return this.#pg.open && this.#pg.connected;
  }

  /** Connection losses and reconnects, on the event loop (registry/db-outages.ts logs them). */
  onState(fn: (e: StateEvent) => void): () => void {
    return this.#pg.onState(fn);
  }

  get inTransaction(): boolean {
    return this.#depth > 0;
  }

  query(text: string, values: readonly unknown[], name?: string): { rows: Record<string, unknown>[]; fields: string[]; rowCount: number } {
    try {
      return this.#pg.query(text, values, name);
    } catch (e) {
      throw this.#failed(e);
    }
  }

  /** A failed statement's error: a lost connection becomes E_DB and dooms the open transaction. */
  #failed(e: unknown): unknown {
    if (isConnectionLoss(e)) {
      const err = new RegistryError("E_DB", (e as Error).message, { cause: e });
      if (this.#depth > 0) this.#lost ??= err;
      return err;
    }
    if (this.#depth > 0 && isRetryable(e)) this.#doomed = e as PgError;
    return e;
  }

  #statements = 0;

  prepare(sql: string): Stmt {
    return new PgStatement(this, sql, `p${++this.#statements}`);
  }

  exec(sql: string): void {
    try {
      this.#pg.exec(sql);
    } catch (e) {
      throw this.#failed(e);
    }
  }

  /** Only `user_version` (the schema version, kept in a table) has a meaning here. */
  pragma(source: string, options?: { simple?: boolean }): unknown {
    const m = /^\s*user_version\s*(?:=\s*(\d+))?\s*$/.exec(source);
    if (!m) throw new PgError(`PRAGMA ${source} has no PostgreSQL equivalent`, "0A000");
    if (m[1] !== undefined) {
      this.exec(`UPDATE antitheft_schema SET version = ${Number(m[1])}`);
      return [];
    }
    const r = this.query("SELECT version FROM antitheft_schema", []);
    const v = (r.rows[0]?.version as number | undefined) ?? 0;
    return options?.simple ? v : [{ user_version: v }];
  }

  transaction<T>(fn: () => T): TxFn<T> {
    const run = (): T => this.#tx(fn);
    return Object.assign(run, { immediate: run, deferred: run, exclusive: run });
  }

  #tx<T>(fn: () => T): T {
    if (this.#depth > 0) return this.#savepoint(fn);
    for (let attempt = 1; ; attempt++) {
      this.#doomed = undefined;
      this.#lost = undefined;
      this.#depth = 1;
      this.#pg.pin = undefined;
      try {
        // one round trip: BEGIN and, on PostgreSQL, the writers' lock (taken again by every
        // transaction, so a new connection after a loss takes it too)
        this.exec(`BEGIN ISOLATION LEVEL SERIALIZABLE${this.#lock ? `; SELECT pg_advisory_xact_lock(${WRITER_LOCK})` : ""}`);
        this.#pg.pin = this.#pg.lastEpoch; // every later statement on this connection, or none
        const r = fn();
        if (this.#lost) throw this.#lost; // a unit swallowed the loss; nothing of it is on the server any more
        if (this.#doomed) throw this.#doomed; // a unit swallowed the failure; the transaction cannot commit
        try {
          this.query("COMMIT", []);
        } catch (e) {
          // SQLSTATE 08007 transaction_resolution_unknown: the connection died with COMMIT in flight
          if (isDatabaseUnavailable(e) && (e.cause as PgError).code === IN_DOUBT) {
            throw new RegistryError("E_DB", `${e.message}: COMMIT was in flight, the transaction may or may not have committed`, { cause: e });
          }
          throw e;
        }
        this.#writes++;
        return r;
      } catch (e) {
        this.#writes++;
        const again = this.#lost === undefined && (isRetryable(e) || this.#doomed !== undefined) && attempt < MAX_ATTEMPTS;
        if (this.#lost === undefined) {
          try {
            this.#pg.exec("ROLLBACK");
          } catch {
            // the connection is gone: the server rolls back
          }
        }
        if (!again) throw this.#lost ? (isDatabaseUnavailable(e) ? e : this.#lost) : (this.#doomed ?? e);
        this.retries++;
        pause(Math.random() * 2 ** Math.min(attempt, 6));
      } finally {
        this.#depth = 0;
        this.#pg.pin = undefined;
      }
    }
  }

  #savepoint<T>(fn: () => T): T {
    const name = `s${this.#depth}`;
    this.exec(`SAVEPOINT ${name}`);
    this.#depth++;
    try {
      const r = fn();
      this.exec(`RELEASE SAVEPOINT ${name}`);
      return r;
    } catch (e) {
      if (!this.#doomed && !this.#lost) this.exec(`ROLLBACK TO SAVEPOINT ${name}`);
      throw e;
    } finally {
      this.#depth--;
    }
  }

  close(): void {
    this.#pg.close();
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.ceil(ms));
}
