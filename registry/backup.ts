// Backup and restore of the registry's SQLite database.
// Backup is online: it reads the database through SQLite's online backup API (better-sqlite3
// `backup()`, sqlite3_backup_*), which copies a consistent snapshot page by page and starts over
// if another connection writes meanwhile, so it runs while the registry serves. The copy is
// written next to the destination and renamed into place only once complete and checked.
// Restore is offline: it refuses while any process has the database open (a running registry
// keeps a connection open; SQLite then refuses an exclusive lock), checks the backup (integrity,
// a schema this registry can open), keeps the current database aside as <db>.replaced-<time>,
// and copies the backup in. After a restore the registry may be behind its handsets (commands
// issued after the backup); docs/PROTOCOL.md §4.6 says how it catches up: a handset REJECTS
// a stale sequence number with a token showing its last_seq, and the registry issues the same
// lock/unlock again above it.
import Database from "better-sqlite3";
import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import { isPostgresUrl, SCHEMA_VERSION } from "./store.js";

export type BackupErrorCode = "E_DB_IN_USE" | "E_BACKUP_INVALID" | "E_BACKUP_IO";

const POSTGRES_BACKUP = "a PostgreSQL database is backed up and restored with PostgreSQL's own tools (pg_dump, pg_restore, base backups; docs/STORAGE.md §6)";

export class BackupError extends Error {
  constructor(readonly code: BackupErrorCode, message: string) {
    super(message);
    this.name = "BackupError";
  }
}

export interface BackupInfo {
  readonly path: string;
  readonly bytes: number;
  readonly schema: number;
  readonly devices: number;
}

/** Opens `path` read-only and checks it is an intact registry database of a schema we know. */
export function checkDatabase(path: string): BackupInfo {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new BackupError("E_BACKUP_INVALID", `${path}: cannot open it as SQLite: ${(e as Error).message}`);
  }
  try {
    const integrity = db.pragma("integrity_check", { simple: true });
    if (integrity !== "ok") throw new BackupError("E_BACKUP_INVALID", `${path}: integrity_check says ${String(integrity)}`);
    const schema = db.pragma("user_version", { simple: true }) as number;
    if (schema < 1 || schema > SCHEMA_VERSION) throw new BackupError("E_BACKUP_INVALID", `${path}: schema version ${schema} is not a registry database this registry can open (1..${SCHEMA_VERSION})`);
    const devices = (db.prepare("SELECT count(*) AS n FROM devices").get() as { n: number }).n;
    return { path, bytes: statSync(path).size, schema, devices };
  } catch (e) {
    if (e instanceof BackupError) throw e;
    throw new BackupError("E_BACKUP_INVALID", `${path}: not a registry database: ${(e as Error).message}`);
  } finally {
    db.close();
  }
}

/** A consistent copy of the database at `db` (which may be in use) written to `dest`. */
export async function backupDatabase(db: string, dest: string): Promise<BackupInfo> {
  if (isPostgresUrl(db)) throw new BackupError("E_BACKUP_IO", POSTGRES_BACKUP);
  if (!existsSync(db)) throw new BackupError("E_BACKUP_IO", `no database at ${db}`);
  const tmp = `${dest}.partial-${process.pid}`;
  const src = new Database(db, { fileMustExist: true });
  try {
    src.pragma("busy_timeout = 5000");
    await src.backup(tmp);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new BackupError("E_BACKUP_IO", `cannot back up ${db} to ${dest}: ${(e as Error).message}`);
  } finally {
    src.close();
  }
  let info: BackupInfo;
  try {
    info = checkDatabase(tmp);
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return { ...info, path: dest };
}

/** Throws E_DB_IN_USE when another connection (a running registry) has `db` open. */
function assertNotInUse(db: string): void {
  const c = new Database(db, { fileMustExist: true });
  try {
    c.pragma("busy_timeout = 0");
    c.pragma("locking_mode = EXCLUSIVE");
    c.exec("BEGIN EXCLUSIVE");
    // Fold the WAL into the file so the copy kept aside is complete on its own.
    c.exec("COMMIT");
    c.pragma("wal_checkpoint(TRUNCATE)");
  } catch (e) {
    throw new BackupError("E_DB_IN_USE", `${db} is in use (${(e as Error).message}): stop the registry before restoring`);
  } finally {
    c.close();
  }
}

/**
 * Replaces the database at `db` by the backup at `from`. Returns the backup's facts and where
 * the replaced database was kept (undefined when there was none).
 */
export async function restoreDatabase(from: string, db: string, now: () => Date = () => new Date()): Promise<{ info: BackupInfo; keptAs?: string }> {
  if (isPostgresUrl(db)) throw new BackupError("E_BACKUP_IO", POSTGRES_BACKUP);
  const info = checkDatabase(from);
  let keptAs: string | undefined;
  if (existsSync(db)) {
    assertNotInUse(db);
    keptAs = `${db}.replaced-${now().toISOString().replace(/[:.]/g, "-")}`;
    renameSync(db, keptAs);
    for (const ext of ["-wal", "-shm"]) rmSync(db + ext, { force: true });
  }
  const src = new Database(from, { readonly: true, fileMustExist: true });
  try {
    await src.backup(db);
  } catch (e) {
    throw new BackupError("E_BACKUP_IO", `cannot copy ${from} to ${db}: ${(e as Error).message}${keptAs ? ` (the previous database is kept as ${keptAs})` : ""}`);
  } finally {
    src.close();
  }
  return { info, ...(keptAs ? { keptAs } : {}) };
}
