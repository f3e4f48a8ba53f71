// Row conversions shared by the table modules, and the database interface they are written
// against (internal to registry/store). `Db` is the part of better-sqlite3's synchronous API the
// tables use; the PostgreSQL backend (store/pg/database.ts) provides the same part, so every
// table module runs unchanged on either backend (docs/STORAGE.md §2).

/** The outcome of a statement that writes. */
export interface RunResult {
  readonly changes: number;
}

/** A prepared statement: positional (`?`) or named (`@name`, one object) parameters. */
export interface Stmt {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  /** Makes get/all return the first column of each row instead of the row. */
  pluck(toggle?: boolean): this;
}

/** A transaction-wrapped function; `immediate` takes the write lock up front (SQLite) - on PostgreSQL every variant is the same SERIALIZABLE transaction. */
export interface TxFn<T> {
  (): T;
  immediate(): T;
}

export interface Db {
  prepare(sql: string): Stmt;
  /** Nested calls become savepoints. */
  transaction<T>(fn: () => T): TxFn<T>;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  readonly open: boolean;
  readonly inTransaction: boolean;
  close(): unknown;
}

/** Both drivers return BLOBs / bytea as Buffers; the registry works with plain Uint8Arrays. */
export function bytes(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError("expected a BLOB column");
  return new Uint8Array(v);
}

export function bytesOrNull(v: unknown): Uint8Array | null {
  return v === null || v === undefined ? null : bytes(v);
}

/** A Uint8Array as the drivers bind it (a Buffer view, no copy). */
export function blob(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function blobOrNull(b: Uint8Array | null | undefined): Buffer | null {
  return b ? blob(b) : null;
}
