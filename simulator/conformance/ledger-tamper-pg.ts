// The attacker of ledger-tamper.ts (docs/LEDGER.md §4, REQ-LG-07) against a registry on
// PostgreSQL: its own connection, the append-only trigger disabled for one transaction, the
// newest entry of the registry's own log replaced by a copy of the entry before it; `undo`
// puts the original back the same way.
import pg from "pg";
import type { LedgerTamper } from "./target.js";

const TRIGGER = "ledger_entries_append_only";

async function inTx<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    await c.query("BEGIN");
    const r = await fn(c);
    await c.query("COMMIT");
    return r;
  } catch (e) {
    await c.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    await c.end();
  }
}

export async function tamperLedgerPostgres(url: string): Promise<LedgerTamper> {
  const { log, seq, original } = await inTx(url, async (c) => {
    const log = (await c.query("SELECT id FROM ledger_logs WHERE local = 1")).rows[0]?.id as string | undefined;
    if (log === undefined) throw new Error("the registry keeps no ledger");
    const seq = Number((await c.query("SELECT coalesce(max(seq), -1) AS m FROM ledger_entries WHERE log = $1", [log])).rows[0].m);
    if (seq < 1) throw new Error(`the registry's log has ${seq + 1} entries; rewriting one needs two`);
    const original = (await c.query("SELECT cose FROM ledger_entries WHERE log = $1 AND seq = $2", [log, seq])).rows[0].cose as Buffer;
    await c.query(`ALTER TABLE ledger_entries DISABLE TRIGGER ${TRIGGER}`);
    await c.query("UPDATE ledger_entries SET cose = (SELECT cose FROM ledger_entries WHERE log = $1 AND seq = $2) WHERE log = $1 AND seq = $3", [log, seq - 1, seq]);
    await c.query(`ALTER TABLE ledger_entries ENABLE TRIGGER ${TRIGGER}`);
    return { log, seq, original };
  });
  return {
    what: `entry ${seq} of the registry's own log replaced by a copy of entry ${seq - 1} (SQL on its PostgreSQL database, behind the append-only trigger)`,
    async undo() {
      await inTx(url, async (c) => {
        await c.query(`ALTER TABLE ledger_entries DISABLE TRIGGER ${TRIGGER}`);
        await c.query("UPDATE ledger_entries SET cose = $1 WHERE log = $2 AND seq = $3", [original, log, seq]);
        await c.query(`ALTER TABLE ledger_entries ENABLE TRIGGER ${TRIGGER}`);
      });
    },
  };
}
