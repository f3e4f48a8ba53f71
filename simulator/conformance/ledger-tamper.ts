// The attacker of docs/LEDGER.md §4 with SQL access to one registry's database, for REQ-LG-07:
// it opens the registry's SQLite file (its own connection, not the registry's), drops the
// append-only trigger and rewrites the newest entry of the registry's own log with a copy of the
// entry before it - a validly signed entry, so only its position and the tree give it away. The
// original row (and the trigger) can be put back, so the registry's log is whole again after the
// scenario. Only for the embedded registry, whose file the suite can reach.
import Database from "better-sqlite3";
import type { LedgerTamper } from "./target.js";

const TRIGGER = "ledger_entries_no_update";

/** Rewrites the newest entry of the registry's own log in the SQLite file at `path`. */
export function tamperLedgerFile(path: string): LedgerTamper {
  if (path === ":memory:") throw new Error("the registry keeps its database in memory: there is no file to alter");
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    const log = db.prepare("SELECT id FROM ledger_logs WHERE local = 1").pluck().get() as number | undefined;
    if (log === undefined) throw new Error("the registry keeps no ledger");
    const seq = (db.prepare("SELECT max(seq) FROM ledger_entries WHERE log = ?").pluck().get(log) as number | null) ?? -1;
    if (seq < 1) throw new Error(`the registry's log has ${seq + 1} entries; rewriting one needs two`);
    const original = db.prepare("SELECT cose FROM ledger_entries WHERE log = ? AND seq = ?").pluck().get(log, seq) as Buffer;
    const trigger = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?").pluck().get(TRIGGER) as string | undefined;
    // One transaction: the trigger is back before anyone else can write.
    db.transaction(() => {
      if (trigger) db.exec(`DROP TRIGGER ${TRIGGER}`);
      db.prepare("UPDATE ledger_entries SET cose = (SELECT cose FROM ledger_entries WHERE log = ? AND seq = ?) WHERE log = ? AND seq = ?").run(log, seq - 1, log, seq);
      if (trigger) db.exec(trigger);
    })();
    db.close();
    return {
      what: `entry ${seq} of the registry's own log replaced by a copy of entry ${seq - 1} (SQL on its database file, behind the append-only trigger)`,
      async undo() {
        const again = new Database(path, { fileMustExist: true });
        try {
          again.pragma("busy_timeout = 5000");
          again.transaction(() => {
            if (trigger) again.exec(`DROP TRIGGER ${TRIGGER}`);
            again.prepare("UPDATE ledger_entries SET cose = ? WHERE log = ? AND seq = ?").run(original, log, seq);
            if (trigger) again.exec(trigger);
          })();
        } finally {
          again.close();
        }
      },
    };
  } catch (e) {
    if (db.open) db.close();
    throw e;
  }
}
