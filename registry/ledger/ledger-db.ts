// The ledger's tables over the registry's database, in one place (schema.ts).
import type { Db } from "../store/util.js";
import { AlarmTable, HeadTable, LogTable } from "./tables.js";
import { TreeStore } from "./tree-store.js";
import { LocalFlagTable, PeerFlagTable } from "./flag-tables.js";

export class LedgerDb {
  readonly logs: LogTable;
  readonly tree: TreeStore;
  readonly heads: HeadTable;
  readonly alarms: AlarmTable;
  readonly localFlags: LocalFlagTable;
  readonly peerFlags: PeerFlagTable;

  constructor(readonly db: Db) {
    this.logs = new LogTable(db);
    this.tree = new TreeStore(db);
    this.heads = new HeadTable(db);
    this.alarms = new AlarmTable(db);
    this.localFlags = new LocalFlagTable(db);
    this.peerFlags = new PeerFlagTable(db);
  }

  /**
   * Runs `fn` in a transaction (a savepoint when one is open). BEGIN IMMEDIATE, as the registry
   * store does: with several registry processes on one file a deferred transaction that reads
   * then writes can fail with SQLITE_BUSY_SNAPSHOT instead of waiting for the lock.
   */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
