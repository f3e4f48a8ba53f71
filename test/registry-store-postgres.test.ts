// The registry's store on PostgreSQL (docs/STORAGE.md): one schema for both engines, the same
// guarantees as the SQLite store (registry-store.test.ts), and the transaction handling a
// distributed engine needs - a serialization failure (SQLSTATE 40001) runs the transaction again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { Store } from "../registry/store.js";
import { MIGRATIONS } from "../registry/store/schema.js";
import { PG_MIGRATIONS } from "../registry/store/pg/schema.js";
import { PgDatabase } from "../registry/store/pg/database.js";
import { GroupCommit } from "../registry/group-commit.js";
import { RegistryError } from "../registry/errors.js";
import { tempDir } from "./support/registry-sim.js";
import { postgresBin, startPostgres, type PgCluster } from "./support/postgres.js";
import { needPostgres } from "./support/postgres.js";

const device = (did: string) => ({
  did, deviceKey: new Uint8Array(32), endorsement: new Uint8Array(1), oemid: new Uint8Array(3), hwmodel: new Uint8Array(1),
  at: 5, bootcount: 1, lockState: 0 as const, lastSeq: 0, tampered: false, measurement: null,
});

let cluster: PgCluster | undefined;
before(async () => {
  const bin = postgresBin();
  if (bin) cluster = await startPostgres(bin);
});
after(() => cluster?.stop());

/** A fresh database, or undefined after skipping the test (a failure under REQUIRE_SYSTEM_TOOLS=1). */
async function database(t: Parameters<typeof needPostgres>[0]): Promise<string | undefined> {
  if (!needPostgres(t) || !cluster) return undefined;
  return cluster.createDb();
}

test("both engines have the same migrations: one version number, one set of tables and columns", async (t) => {
  assert.equal(PG_MIGRATIONS.length, MIGRATIONS.length, "a migration appended to store/schema.ts needs its PostgreSQL twin in store/pg/schema.ts");
  const url = await database(t);
  if (!url) return;
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const lite = Store.open(join(dir.path, "r.sqlite"));
  const pgs = Store.open(url);
  t.after(() => (lite.close(), pgs.close()));
  assert.equal(pgs.engine, "postgres");
  assert.equal(pgs.schemaVersion, lite.schemaVersion);
  const raw = lite.db as unknown as Database.Database;
  const liteCols = (raw.prepare("SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2").all() as { t: string; c: string }[]).map((r) => `${r.t}.${r.c}`);
  const pgCols = (pgs.db.prepare("SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'antitheft_schema' ORDER BY 1, 2").all() as { t: string; c: string }[]).map((r) => `${r.t}.${r.c}`);
  assert.deepEqual(pgCols.sort(), liteCols.sort());
});

test("PostgreSQL: a newer schema is refused (E_DB_VERSION); events are append-only", async (t) => {
  const url = await database(t);
  if (!url) return;
  const s = Store.open(url);
  const seq = s.events.append({ at: 1, type: "enrolled", did: "a".repeat(32), detail: { x: 1 } });
  assert.equal(s.events.append({ at: 2, type: "attested" }), seq + 1);
  assert.throws(() => s.db.prepare("UPDATE events SET type = 'x'").run(), /append-only/);
  assert.throws(() => s.db.prepare("DELETE FROM events").run(), /append-only/);
  assert.deepEqual(s.events.list().map((e) => [e.seq, e.type, e.detail]), [[seq, "enrolled", { x: 1 }], [seq + 1, "attested", {}]]);
  s.db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  s.close();
  assert.throws(() => Store.open(url), (e: unknown) => e instanceof RegistryError && e.code === "E_DB_VERSION");
});

test("PostgreSQL: group commit - a failing unit rolls back only itself, nothing is visible before the commit", async (t) => {
  const url = await database(t);
  if (!url) return;
  const s = Store.open(url);
  t.after(() => s.close());
  let flush: () => void = () => {};
  const gc = new GroupCommit(s, { schedule: (fn) => (flush = fn) });
  const a = gc.run(() => s.devices.insert(device("a".repeat(32))));
  const b = gc.run(() => {
    s.devices.insert(device("b".repeat(32)));
    throw new RegistryError("E_FLAGGED", "refused after writing");
  });
  const c = gc.run(() => (s.devices.insert(device("c".repeat(32))), "c done"));
  const other = new pg.Client(url);
  await other.connect();
  t.after(() => other.end());
  const count = async () => Number((await other.query("SELECT count(*) AS n FROM devices")).rows[0].n);
  assert.equal(await count(), 0);
  flush();
  await a;
  await assert.rejects(b, (e: unknown) => e instanceof RegistryError && e.code === "E_FLAGGED");
  assert.equal(await c, "c done");
  assert.equal(await count(), 2);
  assert.equal(s.devices.get("b".repeat(32)), undefined);
});

test("PostgreSQL: a challenge is taken once; flags, commands and request ids behave as on SQLite", async (t) => {
  const url = await database(t);
  if (!url) return;
  const s = Store.open(url);
  t.after(() => s.close());
  const did = "d".repeat(32);
  s.tx(() => s.challenges.add(did, new Uint8Array([1, 2, 3]), 7, "w1"));
  assert.deepEqual(s.challenges.take(did, new Uint8Array([1, 2, 3])), { issuedAt: 7, issuedBy: "w1" });
  assert.equal(s.challenges.take(did, new Uint8Array([1, 2, 3])), undefined, "DELETE ... RETURNING finds it once");
  s.devices.insert(device(did));
  s.devices.touch(did, 3); // older than last_seen: kept
  assert.equal(s.devices.get(did)!.lastSeen, 5);
  s.devices.setOnline(did, true, 9);
  assert.equal(s.devices.get(did)!.lastSeen, 9);
  const f = s.flags.raise(did, null, "stolen", { role: "owner", kid: new Uint8Array(16).fill(2) }, "", 30);
  assert.equal(s.flags.active(did)[0]!.id, f.id);
  assert.equal(s.flags.clear(f.id, { role: "owner", kid: new Uint8Array(16).fill(2) }, 40), true);
  assert.equal(s.flags.clear(f.id, { role: "authority", kid: new Uint8Array(16) }, 50), false);
  assert.equal(s.imeis.bind("490154203237518", did, 1, 5), true);
  assert.equal(s.imeis.bind("490154203237518", did, 1, 6), false, "ON CONFLICT DO NOTHING");
  s.commands.insert(did, 1, 1, null, null, new Uint8Array([9]), 10);
  assert.equal(s.commands.maxSeq(did), 1);
  assert.equal(s.commands.markSent(did, 1, 11), true);
  assert.equal(s.commands.markSent(did, 1, 12), false);
});

test("PostgreSQL without the writers' lock (as on CockroachDB): a serialization failure runs the transaction again", async (t) => {
  const url = await database(t);
  if (!url) return;
  Store.open(url).close(); // the schema
  const a = new PgDatabase(url, { lock: false });
  const b = new PgDatabase(url, { lock: false });
  t.after(() => (a.close(), b.close()));
  a.prepare("INSERT INTO request_ids (id, kid, type, at) VALUES (?, ?, 'x', 0), (?, ?, 'y', 0)").run(Buffer.from("x"), Buffer.from("k"), Buffer.from("y"), Buffer.from("k"));
  const at = (db: PgDatabase, id: string) => db.prepare("SELECT at FROM request_ids WHERE id = ?").pluck().get(Buffer.from(id)) as number;
  const set = (db: PgDatabase, id: string, v: number) => db.prepare("UPDATE request_ids SET at = ? WHERE id = ?").run(v, Buffer.from(id));
  // Write skew: A reads x and writes y; meanwhile B reads y and writes x, and commits first.
  // Under SERIALIZABLE one of them must fail (40001); A is run again and then sees B's write.
  let runs = 0;
  const result = a.transaction(() => {
    runs++;
    const x = at(a, "x");
    if (runs === 1) b.transaction(() => set(b, "x", at(b, "y") + 100))();
    set(a, "y", x + 1);
    return x;
  })();
  assert.equal(runs, 2, "the transaction ran twice");
  assert.equal(a.retries, 1);
  assert.equal(result, 100, "the second run read B's committed write");
  assert.deepEqual([at(a, "x"), at(a, "y")], [100, 101]);
});
