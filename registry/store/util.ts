// Row conversions shared by the table modules (internal to registry/store).
import type BetterSqlite3 from "better-sqlite3";

export type Db = BetterSqlite3.Database;
export type Stmt = BetterSqlite3.Statement;

/** better-sqlite3 returns BLOBs as Buffers; the registry works with plain Uint8Arrays. */
export function bytes(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError("expected a BLOB column");
  return new Uint8Array(v);
}

export function bytesOrNull(v: unknown): Uint8Array | null {
  return v === null || v === undefined ? null : bytes(v);
}

/** A Uint8Array as SQLite binds it (a Buffer view, no copy). */
export function blob(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function blobOrNull(b: Uint8Array | null | undefined): Buffer | null {
  return b ? blob(b) : null;
}
