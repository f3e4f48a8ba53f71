// A lost PostgreSQL connection (docs/STORAGE.md §7), at the store: the registry's connection is
// ended with pg_terminate_backend while the database refuses new connections (ALTER DATABASE ...
// ALLOW_CONNECTIONS false), so the outage lasts as long as the test wants.
// Without the reconnect (the worker as it was), every statement after the cut failed for good,
// and a status cached before the cut kept being served (WHITELISTED) for a device flagged meanwhile:
// the assertions below on E_DB during the gap and on BLACKLISTED right after fail there.
import { test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { Store } from "../registry/store.js";
import { equipmentStatus } from "../registry/equipment-status.js";
import { PgDatabase } from "../registry/store/pg/database.js";
import { waitFor } from "./support/registry-sim.js";
import { needPostgres, startPostgres } from "./support/postgres.js";
import { startCutProxy } from "./support/cut-proxy.js";

const IMEI = "490154203237518";
const IMEI2 = "356938035643809";
const IMEI3 = "260531793113837";
const DIDS = ["a".repeat(32), "b".repeat(32), "c".repeat(32)] as const;
const device = (did: string) => ({
  did, deviceKey: new Uint8Array(32), endorsement: new Uint8Array(1), oemid: new Uint8Array(3), hwmodel: new Uint8Array(1),
  at: 5, bootcount: 1, lockState: 0 as const, lastSeq: 0, tampered: false, measurement: null,
});
const owner = { role: "owner" as const, kid: new Uint8Array(16).fill(7) };

function seed(s: Store): void {
  s.tx(() => {
    for (const [i, imei] of [IMEI, IMEI2, IMEI3].entries()) {
      s.devices.insert(device(DIDS[i]!));
      s.imeis.bind(imei, DIDS[i]!, 1, 5);
    }
  });
}

/** Blocks this thread for `ms` (the store is synchronous; its worker thread runs meanwhile). */
const block = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const flagsOf = (s: Store, did: string) => Number((s.db.prepare("SELECT count(*) AS n FROM flags WHERE did = ?").get(did) as { n: number }).n);

async function setup(t: { after(fn: () => unknown): void }, bin: string) {
  const cluster = await startPostgres(bin);
  const url = await cluster.createDb();
  const name = url.slice(url.lastIndexOf("/") + 1);
  const a = Store.open(url); // the registry under test
  const b = Store.open(url); // another registry process on the database
  const adm = new pg.Client(cluster.url); // on the maintenance database: it may close the registry's
  adm.on("error", () => {}); // the cluster may stop first if the test fails
  await adm.connect();
  t.after(async () => {
    a.close();
    b.close();
    await adm.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => {});
    await adm.end();
    await cluster.stop();
  });
  seed(a);
  const db = a.db as PgDatabase;
  const pid = () => (a.db.prepare("SELECT pg_backend_pid() AS pid").get() as { pid: number }).pid;
  /** Ends A's connection and keeps the database closed to new ones until `reopen`. */
  const cut = async () => {
    const p = pid();
    await adm.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await adm.query("SELECT pg_terminate_backend($1)", [p]);
    await waitFor(() => !db.connected, "the worker sees its connection end");
  };
  const reopen = async () => {
    await adm.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await waitFor(() => db.connected, "the worker reconnects", 15_000);
  };
  return { a, b, db, adm, url, pid, cut, reopen };
}

test("a terminated connection: E_DB at once while down (never a cached allow), then reconnected, LISTEN again, cache emptied, writers' lock taken", async (t) => {
  const bin = needPostgres(t);
  if (!bin) return;
  const { a, b, db, pid, cut, reopen } = await setup(t, bin);
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  assert.equal(equipmentStatus(a, IMEI2), "WHITELISTED");
  const hits = a.statusCache.hits;
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  assert.equal(a.statusCache.hits, hits + 1, "served from the cache before the cut");
  const before = pid();

  await cut();
  // Down: a lookup fails with the typed error instead of answering from the cache.
  assert.throws(() => equipmentStatus(a, IMEI), { name: "RegistryError", code: "E_DB", message: /^database unavailable/ });
  // Figure, not asserted: how long a refused lookup takes (the worker answers at once).
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) assert.throws(() => equipmentStatus(a, IMEI2), { code: "E_DB" });
  t.diagnostic(`refused lookup while down: ${(((performance.now() - t0) / 200) * 1000).toFixed(0)} us`);
  // A write fails too, and leaves nothing behind.
  assert.throws(() => a.tx(() => a.flags.raise(DIDS[1], IMEI2, "stolen", owner, "", 10)), { code: "E_DB" });
  // Another registry process flags IMEI while A is cut off: its NOTIFY never reaches A.
  b.flags.raise(DIDS[0], IMEI, "stolen", owner, "", 20);

  await reopen();
  assert.notEqual(pid(), before, "a new server session");
  // The flag committed during the gap is seen on the first lookup after the reconnect.
  assert.equal(equipmentStatus(a, IMEI), "BLACKLISTED");
  assert.equal(flagsOf(a, DIDS[1]), 0, "the write refused during the outage did not happen");
  // LISTEN is back: a flag by B after the reconnect reaches A's cache by notification.
  assert.equal(equipmentStatus(a, IMEI3), "WHITELISTED");
  assert.equal(equipmentStatus(a, IMEI3), "WHITELISTED"); // cached now
  b.flags.raise(DIDS[2], IMEI3, "lost", owner, "", 30);
  await waitFor(() => equipmentStatus(a, IMEI3) === "BLACKLISTED", "B's flag after the reconnect reaches A's cache");
  // The writers' advisory lock is taken by A's transactions on the new connection.
  const locks = a.tx(() => a.db.prepare("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted").get()) as { n: number };
  assert.equal(Number(locks.n), 1);
  // And A writes again.
  a.tx(() => a.flags.raise(DIDS[1], IMEI2, "stolen", owner, "", 40));
  assert.equal(equipmentStatus(a, IMEI2), "BLACKLISTED");
});

test("a transaction whose connection died is never continued on the new connection, nor committed", async (t) => {
  const bin = needPostgres(t);
  if (!bin) return;
  const { a, db } = await setup(t, bin);
  // Inside one transaction: a flag, then the session is ended (the server's FATAL 57P01), the
  // unit swallows the error (as a group-commit unit may), the worker reconnects, and a second
  // flag is written. Without the epoch pin the second statement ran in autocommit on the new
  // connection and was committed on its own: half a transaction.
  let second: unknown;
  assert.throws(
    () =>
      a.tx(() => {
        a.flags.raise(DIDS[0], IMEI, "stolen", owner, "", 10);
        try {
          a.db.prepare("SELECT pg_terminate_backend(pg_backend_pid())").get();
        } catch {
          // swallowed on purpose
        }
        for (let i = 0; i < 1500 && !db.connected; i++) block(10); // the worker reconnects meanwhile
        assert.ok(db.connected, "reconnected while the transaction's code still runs");
        try {
          a.flags.raise(DIDS[1], IMEI2, "stolen", owner, "", 20);
        } catch (e) {
          second = e;
        }
      }),
    { name: "RegistryError", code: "E_DB" },
  );
  assert.match(String((second as Error)?.message), /the connection of this transaction was lost/);
  assert.equal(flagsOf(a, DIDS[0]), 0, "the first write was rolled back with its session");
  assert.equal(flagsOf(a, DIDS[1]), 0, "the second write was refused, not run in autocommit");
  a.tx(() => a.flags.raise(DIDS[1], IMEI2, "stolen", owner, "", 30));
  assert.equal(flagsOf(a, DIDS[1]), 1);
});

test("the connection lost with COMMIT in flight: E_DB that says the outcome is unknown; run again, the work is there once", async (t) => {
  const bin = needPostgres(t);
  if (!bin) return;
  const { a, db, url } = await setup(t, bin);
  // A deferred constraint trigger runs inside COMMIT; this one ends its own session there, the
  // first time only (a sequence is not rolled back), so the connection dies while COMMIT is in
  // flight. (PostgreSQL runs deferred triggers before the commit record: here the outcome is
  // "not committed"; the registry cannot know which, and says so.)
  const c = new pg.Client(url);
  c.on("error", () => {});
  await c.connect();
  await c.query(`CREATE SEQUENCE die_once;
    CREATE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('die_once') = 1 THEN
        PERFORM pg_terminate_backend(pg_backend_pid());
        PERFORM pg_sleep(5);
      END IF;
      RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON flags DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die_at_commit();`);
  await c.end();
  const raise = () => a.tx(() => a.flags.raise(DIDS[0], IMEI, "stolen", owner, "", 10));
  assert.throws(raise, { name: "RegistryError", code: "E_DB", message: /COMMIT was in flight, the transaction may or may not have committed/ });
  await waitFor(() => db.connected, "the worker reconnects", 15_000);
  assert.equal(flagsOf(a, DIDS[0]), 0, "this time it had not committed");
  raise(); // the caller's retry (a client sending its request again: request ids make that safe, test/registry-postgres-outage.test.ts)
  assert.equal(flagsOf(a, DIDS[0]), 1);
});

test("a silent network cut (no FIN, no RST): the statement waiting for an answer fails with E_DB after the answer timeout, then at once; healed, it reconnects", async (t) => {
  const bin = needPostgres(t);
  if (!bin) return;
  const cluster = await startPostgres(bin);
  const url = await cluster.createDb();
  const proxy = await startCutProxy(Number(new URL(url).port));
  const db = new PgDatabase(url.replace(/:\d+\//, `:${proxy.port}/`), { answerTimeoutMs: 1000 });
  t.after(async () => {
    db.close();
    proxy.stop();
    await cluster.stop();
  });
  assert.equal(db.query("SELECT 1 AS one", []).rows[0]!.one, 1);
  await proxy.cut();
  // Without the answer timeout the statement waited for the bridge's 60 s and every later one
  // queued behind it on the dead connection (TCP keepalive gives up after minutes).
  assert.throws(() => db.query("SELECT 2", []), { name: "RegistryError", code: "E_DB", message: /no answer from the server in 1000 ms/ });
  assert.equal(db.connected, false);
  assert.throws(() => db.query("SELECT 3", []), { code: "E_DB", message: /reconnecting/ });
  await proxy.heal();
  await waitFor(() => db.connected, "reconnected through the healed network", 30_000);
  assert.equal(db.query("SELECT 4 AS four", []).rows[0]!.four, 4);
});
