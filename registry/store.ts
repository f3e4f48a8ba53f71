// The registry's durable state: one SQLite file (better-sqlite3), WAL journal with
// synchronous=FULL so every committed transaction survives kill -9 and power loss
// (SQLite "WAL mode ... FULL: transactions are durable across power loss").
// Every state change runs inside one transaction (`tx`), and appends its events in it.
// Several processes may share the file (registry workers behind an MQTT 5 shared subscription,
// docs/CONFORMANCE.md): every transaction starts with BEGIN IMMEDIATE, taking the write lock
// up front, so writers queue on busy_timeout instead of failing a read-to-write upgrade with
// SQLITE_BUSY (SQLite "WAL mode ... BEGIN IMMEDIATE"), and each sees the others' commits.
// `open("postgres://...")` opens the same store on PostgreSQL instead (store/pg/, docs/STORAGE.md):
// the same tables and statements, SERIALIZABLE transactions, one writer at a time.
import Database from "better-sqlite3";
import { MIGRATIONS } from "./store/schema.js";
import type { Db } from "./store/util.js";
import { DeviceTable } from "./store/devices.js";
import { ImeiTable } from "./store/imeis.js";
import { OwnerTable } from "./store/owners.js";
import { ClaimCodeTable, OwnerResetTable } from "./store/claim-codes.js";
import { FlagTable } from "./store/flags.js";
import { CommandTable } from "./store/commands.js";
import { RequestIdTable } from "./store/request-ids.js";
import { ChallengeTable } from "./store/challenges.js";
import { PendingHelloTable } from "./store/pending-hellos.js";
import { EventLog } from "./store/events.js";
import { StatusTable } from "./store/status.js";
import { StatusCache } from "./status-cache.js";
import { StatusSnapshot } from "./status-snapshot.js";
import type { EquipmentStatus } from "./status-rule.js";
import { PasskeyTable, PortalSessionTable, WebAuthnChallengeTable } from "./store/passkeys.js";
import { RegistryError } from "./errors.js";
import { PgDatabase } from "./store/pg/database.js";
import { PG_MIGRATIONS, PG_SCHEMA_TABLE } from "./store/pg/schema.js";
import type { PeerFlag } from "./ledger/flag-tables.js";

export type { Device, AttestedState, LockState } from "./store/devices.js";
export type { ImeiBinding } from "./store/imeis.js";
export type { Owner } from "./store/owners.js";
export type { Flag, FlagKind, Party, PartyRole } from "./store/flags.js";
export type { CommandRow, CommandStatus, Action, CommandResult } from "./store/commands.js";
export type { Event, EventType, NewEvent } from "./store/events.js";
export type { PeerFlag } from "./ledger/flag-tables.js";
export type { Passkey } from "./store/passkeys.js";
export { isBlacklistKind, BLACKLIST_KINDS } from "./store/flags.js";
export { OPEN_STATUSES } from "./store/commands.js";

/** The schema version this registry writes (PRAGMA user_version). */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** How many rows of the equipment-status change feed the registry keeps (docs/STORAGE.md §4.1). */
export const STATUS_FEED_KEEP = 100_000;

/** The peer flags of a registry that does not federate. */
export const NO_PEER_FLAGS = (): readonly PeerFlag[] => [];

/** Where a registry that does not federate answers equipment status from (docs/STORAGE.md §4). */
export interface StatusLookup {
  get(imei: string): EquipmentStatus | undefined;
  /** Starts what makes lookups fast (the snapshot's build); lookups are right meanwhile, from the tables. */
  warm(): void;
  /** Lookups are answered from memory. */
  readonly ready: boolean;
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
}

/** True when `path` names a PostgreSQL database rather than a SQLite file. */
export const isPostgresUrl = (path: string): boolean => /^postgres(?:ql)?:\/\//.test(path);

export class Store {
  readonly db: Db;
  readonly devices: DeviceTable;
  readonly imeis: ImeiTable;
  readonly owners: OwnerTable;
  readonly claimCodes: ClaimCodeTable;
  readonly ownerResets: OwnerResetTable;
  readonly flags: FlagTable;
  readonly commands: CommandTable;
  readonly requestIds: RequestIdTable;
  readonly challenges: ChallengeTable;
  readonly pendingHellos: PendingHelloTable;
  readonly events: EventLog;
  readonly status: StatusTable;
  /** Equipment statuses by IMEI, for a registry that does not federate: the SQLite snapshot (status-snapshot.ts), the PostgreSQL cache (status-cache.ts). */
  readonly statusCache: StatusLookup;
  /** The owner portal (docs/PORTAL.md). */
  readonly passkeys: PasskeyTable;
  readonly webauthnChallenges: WebAuthnChallengeTable;
  readonly portalSessions: PortalSessionTable;
  /** Flags other registries published for an IMEI (set by a federated registry, docs/LEDGER.md); none otherwise. */
  peerFlags: (imei: string) => readonly PeerFlag[] = NO_PEER_FLAGS;

  private constructor(db: Db) {
    this.db = db;
    this.devices = new DeviceTable(db);
    this.imeis = new ImeiTable(db);
    this.owners = new OwnerTable(db);
    this.claimCodes = new ClaimCodeTable(db);
    this.ownerResets = new OwnerResetTable(db);
    this.flags = new FlagTable(db);
    this.commands = new CommandTable(db);
    this.requestIds = new RequestIdTable(db);
    this.challenges = new ChallengeTable(db);
    this.pendingHellos = new PendingHelloTable(db);
    this.events = new EventLog(db);
    this.status = new StatusTable(db);
    this.statusCache = db instanceof PgDatabase ? new StatusCache(() => db.generation, this.status) : new StatusSnapshot(db, this.status);
    this.passkeys = new PasskeyTable(db);
    this.webauthnChallenges = new WebAuthnChallengeTable(db);
    this.portalSessions = new PortalSessionTable(db);
  }

  /**
   * Opens (creating if needed) and migrates the database at `path` (":memory:" for scratch use),
   * or the PostgreSQL database at a postgres:// URL.
   */
  static open(path: string): Store {
    if (isPostgresUrl(path)) return Store.#openPostgres(path);
    const db = new Database(path);
    try {
      db.pragma("busy_timeout = 5000"); // first: another worker may hold a lock while this one opens
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      migrate(db);
      return new Store(db);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  static #openPostgres(url: string): Store {
    let db: PgDatabase;
    try {
      db = new PgDatabase(url);
    } catch (e) {
      throw new RegistryError("E_DB", `cannot connect to the PostgreSQL database: ${(e as Error).message}`);
    }
    try {
      migrate(db, PG_MIGRATIONS, () => db.exec(PG_SCHEMA_TABLE));
      return new Store(db);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** "postgres" when the store is on PostgreSQL, else "sqlite". */
  get engine(): "sqlite" | "postgres" {
    return this.db instanceof PgDatabase ? "postgres" : "sqlite";
  }

  /**
   * Runs `fn` in a transaction: all of its writes commit together or none do. Nested calls
   * become savepoints (better-sqlite3), so an inner failure rolls back only the inner work.
   * The outermost one is BEGIN IMMEDIATE (see the top of this file).
   */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * Deletes the equipment-status change feed's rows but the newest `keep` (SQLite; docs/STORAGE.md
   * §4.1: a snapshot further behind rebuilds). PostgreSQL keeps no feed. Returns the rows deleted.
   */
  pruneStatusChanges(keep = STATUS_FEED_KEEP): number {
    if (this.engine === "postgres") return 0;
    return this.db.prepare("DELETE FROM status_changes WHERE seq <= (SELECT max(seq) FROM status_changes) - ?").run(keep).changes;
  }

  get schemaVersion(): number {
    return this.db.pragma("user_version", { simple: true }) as number;
  }

  close(): void {
    if (this.statusCache instanceof StatusSnapshot) this.statusCache.stop();
    if (this.db.open) this.db.close();
  }
}

function migrate(db: Db, migrations: readonly string[] = MIGRATIONS, prepare?: () => void): void {
  const version = (): number => db.pragma("user_version", { simple: true }) as number;
  const check = (have: number): void => {
    if (have > migrations.length) {
      throw new RegistryError("E_DB_VERSION", `database schema version ${have} is newer than this registry's ${migrations.length}`);
    }
  };
  if (!prepare) {
    check(version());
    if (version() === migrations.length) return;
  }
  // Two workers starting on one new file: the write lock decides which migrates; the other
  // then reads the new version inside its own transaction and has nothing left to do.
  db.transaction(() => {
    prepare?.(); // PostgreSQL: the version table, created under the writers' lock
    const have = version();
    check(have);
    for (let v = have; v < migrations.length; v++) db.exec(migrations[v]!);
    db.pragma(`user_version = ${migrations.length}`);
  }).immediate();
}
