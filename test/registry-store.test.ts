// The registry's SQLite store: schema migrations with PRAGMA user_version, durability pragmas,
// the append-only event log, and group commit (one transaction, a savepoint per unit).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Store, SCHEMA_VERSION } from "../registry/store.js";
import { GroupCommit } from "../registry/group-commit.js";
import { RegistryError } from "../registry/errors.js";
import { tempDir } from "./support/registry-sim.js";

function withDb(t: { after(fn: () => unknown): void }): string {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  return join(dir.path, "r.sqlite");
}

const device = (did: string) => ({
  did, deviceKey: new Uint8Array(32), endorsement: new Uint8Array(1), oemid: new Uint8Array(3), hwmodel: new Uint8Array(1),
  at: 5, bootcount: 1, lockState: 0 as const, lastSeq: 0, tampered: false, measurement: null,
});

test("a new database is migrated to the current schema, in WAL mode with synchronous=FULL", (t) => {
  const path = withDb(t);
  const s = Store.open(path);
  assert.equal(s.schemaVersion, SCHEMA_VERSION);
  assert.equal(s.db.pragma("journal_mode", { simple: true }), "wal");
  assert.equal(s.db.pragma("synchronous", { simple: true }), 2); // FULL
  assert.equal(s.db.pragma("foreign_keys", { simple: true }), 1);
  s.close();
  // Reopening runs nothing and keeps the data.
  const again = Store.open(path);
  assert.equal(again.schemaVersion, SCHEMA_VERSION);
  again.close();
});

test("a database written by a newer registry is refused, untouched", (t) => {
  const path = withDb(t);
  Store.open(path).close();
  const raw = new Database(path);
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  assert.throws(() => Store.open(path), (e: unknown) => e instanceof RegistryError && e.code === "E_DB_VERSION");
  const check = new Database(path);
  assert.equal(check.pragma("user_version", { simple: true }), SCHEMA_VERSION + 1);
  check.close();
});

test("events are append-only: UPDATE and DELETE are refused by the database itself", (t) => {
  const s = Store.open(withDb(t));
  t.after(() => s.close());
  const seq = s.events.append({ at: 1, type: "enrolled", did: "a".repeat(32), detail: { x: 1 } });
  assert.equal(s.events.append({ at: 2, type: "attested" }), seq + 1);
  assert.throws(() => s.db.prepare("UPDATE events SET type = 'x'").run(), /append-only/);
  assert.throws(() => s.db.prepare("DELETE FROM events").run(), /append-only/);
  assert.deepEqual(s.events.list().map((e) => [e.seq, e.type, e.detail]), [[seq, "enrolled", { x: 1 }], [seq + 1, "attested", {}]]);
});

test("group commit: units of one batch commit together; a failing unit rolls back only itself", async (t) => {
  const path = withDb(t);
  const s = Store.open(path);
  t.after(() => s.close());
  let flush: () => void = () => {};
  const gc = new GroupCommit(s, { schedule: (fn) => (flush = fn) });
  const a = gc.run(() => s.devices.insert(device("a".repeat(32))));
  const b = gc.run(() => {
    s.devices.insert(device("b".repeat(32)));
    throw new RegistryError("E_FLAGGED", "refused after writing");
  });
  const c = gc.run(() => {
    s.devices.insert(device("c".repeat(32)));
    return "c done";
  });
  assert.equal(gc.pending, 3);
  // Nothing is visible to another connection before the batch commits.
  const other = new Database(path, { readonly: true });
  t.after(() => other.close());
  const count = () => (other.prepare("SELECT count(*) AS n FROM devices").get() as { n: number }).n;
  assert.equal(count(), 0);
  flush();
  await a;
  await assert.rejects(b, (e: unknown) => e instanceof RegistryError && e.code === "E_FLAGGED");
  assert.equal(await c, "c done");
  assert.equal(count(), 2);
  assert.equal(s.devices.get("b".repeat(32)), undefined);
});

test("tables: owners keep history; flags clear once; request ids are single use and purged by age", (t) => {
  const s = Store.open(withDb(t));
  t.after(() => s.close());
  const did = "d".repeat(32);
  s.devices.insert(device(did));
  s.owners.set(did, new Uint8Array(16).fill(1), new Uint8Array(40), 10, "claim");
  s.owners.set(did, new Uint8Array(16).fill(2), new Uint8Array(40), 20, "transfer");
  assert.equal(s.owners.current(did)!.kid[0], 2);
  assert.deepEqual(s.owners.history(did).map((o) => [o.kid[0], o.since, o.until, o.via]), [[1, 10, 20, "claim"], [2, 20, null, "transfer"]]);
  const f = s.flags.raise(did, null, "stolen", { role: "owner", kid: new Uint8Array(16).fill(2) }, "", 30);
  assert.equal(s.flags.clear(f.id, { role: "owner", kid: new Uint8Array(16).fill(2) }, 40), true);
  assert.equal(s.flags.clear(f.id, { role: "authority", kid: new Uint8Array(16) }, 50), false);
  assert.equal(s.flags.history(did)[0]!.clearedAt, 40);
  assert.equal(s.flags.active(did).length, 0);
  const id = new Uint8Array(16).fill(7);
  s.requestIds.add(id, new Uint8Array(16), "claim", 100);
  assert.equal(s.requestIds.has(id), true);
  assert.throws(() => s.requestIds.add(id, new Uint8Array(16), "claim", 101), /UNIQUE|PRIMARY/);
  assert.equal(s.requestIds.purge(100), 0);
  assert.equal(s.requestIds.purge(101), 1);
  assert.equal(s.requestIds.has(id), false);
});
