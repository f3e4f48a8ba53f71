// Equipment status answered from memory is never stale for a flag (docs/STORAGE.md §4):
// - SQLite: the status snapshot (registry/status-snapshot.ts) follows the change feed. Two stores
//   on one file play two registry workers; A answers from its snapshot, B writes, A's next answer
//   has it. Negative control: the same snapshot over a connection whose generation never moves
//   serves the stale status, so the test can fail. A property test drives random writes by B and
//   compares every answer of A's snapshot with the tables (the per-IMEI query) as the oracle. The
//   paged build (several event-loop turns, pages ending inside an IMEI's devices) and the fall
//   behind the feed's window (a rebuild) are checked against the same oracle.
// - PostgreSQL: the cache (registry/status-cache.ts) is invalidated by NOTIFY.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { Store } from "../registry/store.js";
import { equipmentStatus, statusOf } from "../registry/equipment-status.js";
import { StatusSnapshot } from "../registry/status-snapshot.js";
import type { Db, Stmt } from "../registry/store/util.js";
import { imeiFromTacSnr } from "../attestation/index.js";
import { tempDir, waitFor } from "./support/registry-sim.js";
import { needPostgres, startPostgres } from "./support/postgres.js";

const IMEI = "490154203237518";
const IMEI2 = "356938035643809";
const device = (did: string, tampered = false) => ({
  did, deviceKey: new Uint8Array(32), endorsement: new Uint8Array(1), oemid: new Uint8Array(3), hwmodel: new Uint8Array(1),
  at: 5, bootcount: 1, lockState: 0 as const, lastSeq: 0, tampered, measurement: null,
});
const owner = { role: "owner" as const, kid: new Uint8Array(16).fill(7) };
const registry = { role: "registry" as const, kid: null };
const didOf = (i: number): string => i.toString(16).padStart(32, "0");
const imeiOf = (i: number): string => imeiFromTacSnr(`35000000${String(i).padStart(6, "0")}`);

function seed(s: Store): void {
  s.tx(() => {
    for (const [did, imei] of [["a".repeat(32), IMEI], ["b".repeat(32), IMEI2]] as const) {
      s.devices.insert(device(did));
      s.imeis.bind(imei, did, 1, 5);
    }
  });
}

function twoWorkers(t: { after(fn: () => void): void }): { a: Store; b: Store; path: string } {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const path = join(dir.path, "r.sqlite");
  const a = Store.open(path);
  const b = Store.open(path);
  t.after(() => (a.close(), b.close()));
  return { a, b, path };
}

/** A's connection, except that its generation (data_version, total_changes) never moves. */
function frozenGeneration(db: Db): Db {
  const still: Stmt = { run: () => ({ changes: 0 }), get: () => 0, all: () => [], pluck() { return this; } };
  return new Proxy(db, {
    get(target, p) {
      if (p === "prepare") return (sql: string) => (/data_version|total_changes/.test(sql) ? still : target.prepare(sql));
      const v = Reflect.get(target, p, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

test("SQLite: a flag raised by another worker on the file is seen at once; a snapshot whose generation never moves would not", (t) => {
  const { a, b } = twoWorkers(t);
  seed(a);
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  const snap = a.statusCache as StatusSnapshot;
  assert.ok(snap.ready, "a small table is built on the first lookup");
  const hits = snap.hits;
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  assert.equal(snap.hits, hits + 1, "the second lookup is served from memory");

  // Negative control: the same snapshot over A's connection with the generation frozen.
  const frozen = new StatusSnapshot(frozenGeneration(a.db), a.status);
  assert.equal(frozen.get(IMEI), "WHITELISTED"); // builds
  assert.equal(frozen.get(IMEI), "WHITELISTED"); // replays the feed up to now, once
  assert.ok(frozen.ready && frozen.hits === 1);

  const f = b.flags.raise("a".repeat(32), IMEI, "stolen", owner, "", 10); // worker B, its own connection
  assert.equal(equipmentStatus(a, IMEI), "BLACKLISTED", "worker A sees B's flag on its next lookup");
  assert.equal(frozen.get(IMEI), "WHITELISTED", "without the generation check the flag is missed");
  b.flags.clear(f.id, owner, 20);
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  // A's own writes count too; so do a tampered device, a clone and a new binding.
  assert.equal(equipmentStatus(a, IMEI2), "WHITELISTED");
  a.flags.raise("b".repeat(32), IMEI2, "clone", registry, "", 30);
  assert.equal(equipmentStatus(a, IMEI2), "GREYLISTED");
  const fresh = imeiOf(1);
  assert.equal(equipmentStatus(a, fresh), undefined);
  b.tx(() => {
    b.devices.insert(device(didOf(1), true));
    b.imeis.bind(fresh, didOf(1), 1, 40);
  });
  assert.equal(equipmentStatus(a, fresh), "GREYLISTED", "a device enrolled TAMPERED by B");
  b.tx(() => b.imeis.bind(IMEI, didOf(1), 2, 50));
  assert.equal(equipmentStatus(a, IMEI), "GREYLISTED", "an IMEI bound to a second device key (clone)");
  assert.ok(snap.hits > hits + 1 && snap.ready, "all answered from memory");
});

test("SQLite: random writes by another worker, every answer of the snapshot equals the tables' (property)", (t) => {
  const { a, b } = twoWorkers(t);
  const N = 6; // devices 0..5, IMEIs 0..7
  b.tx(() => {
    for (let i = 0; i < N; i++) b.devices.insert(device(didOf(i)));
  });
  const op = fc.oneof(
    fc.record({ op: fc.constant("bind" as const), imei: fc.nat(7), did: fc.nat(N - 1) }),
    fc.record({ op: fc.constant("raise" as const), did: fc.nat(N - 1), kind: fc.constantFrom("stolen" as const, "lost" as const, "authority" as const, "clone" as const, "tampered" as const) }),
    fc.record({ op: fc.constant("clear" as const), pick: fc.nat(50) }),
    fc.record({ op: fc.constant("tamper" as const), did: fc.nat(N - 1), on: fc.boolean() }),
    fc.record({ op: fc.constant("own-flag" as const), did: fc.nat(N - 1) }),
  );
  let at = 100;
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), (ops) => {
      for (const o of ops) {
        at++;
        const writer = o.op === "own-flag" ? a : b;
        if (o.op === "bind") b.tx(() => b.imeis.bind(imeiOf(o.imei), didOf(o.did), 1, at));
        else if (o.op === "raise" || o.op === "own-flag") writer.flags.raise(didOf(o.did), null, o.op === "raise" ? o.kind : "stolen", owner, "", at);
        else if (o.op === "clear") {
          const open = b.db.prepare("SELECT id FROM flags WHERE cleared_at IS NULL ORDER BY id").pluck().all() as number[];
          if (open.length > 0) b.flags.clear(open[o.pick % open.length]!, owner, at);
        } else b.db.prepare("UPDATE devices SET tampered = ? WHERE did = ?").run(o.on ? 1 : 0, didOf(o.did));
        for (let i = 0; i < 8; i++) {
          assert.equal(equipmentStatus(a, imeiOf(i)), statusOf(a, imeiOf(i)), `IMEI ${i} after ${JSON.stringify(o)}`);
        }
      }
    }),
    { numRuns: 60 },
  );
  assert.ok((a.statusCache as StatusSnapshot).ready);
  assert.ok(a.statusCache.hits > 1000, "the answers came from memory");
});

test("SQLite: the build spans event-loop turns, pages end inside an IMEI's devices, a change made during the build is not lost", async (t) => {
  const { a, b } = twoWorkers(t);
  const IMEIS = 3_001; // 5,001 bindings: the first IMEI once, every other one twice (clones)
  b.tx(() => {
    for (let i = 0; i < IMEIS; i++) {
      b.devices.insert(device(didOf(i)));
      b.imeis.bind(imeiOf(i), didOf(i), 1, 1);
      if (i > 0) b.imeis.bind(imeiOf(i), didOf(i - 1), 2, 1);
      if (i % 7 === 0) b.flags.raise(didOf(i), null, "stolen", owner, "", 1);
    }
  });
  const snap = a.statusCache as StatusSnapshot;
  equipmentStatus(a, imeiOf(0)); // starts the build: one page now, the rest on later turns
  assert.equal(snap.ready, false, "5,001 bindings are more than one page");
  b.flags.raise(didOf(2_999), null, "lost", owner, "", 2); // during the build, after its feed position
  await waitFor(() => snap.ready, "the snapshot is built", 10_000);
  assert.equal(snap.builds, 1);
  const hits = snap.hits;
  for (let i = 0; i < IMEIS; i++) assert.equal(equipmentStatus(a, imeiOf(i)), statusOf(a, imeiOf(i)), `IMEI ${i}`);
  assert.equal(equipmentStatus(a, imeiOf(3_000)), "BLACKLISTED", "the flag raised during the build (device 2,999 is bound to IMEI 3,000 too)");
  assert.equal(snap.hits, hits + IMEIS + 1, "every answer from memory");
  assert.equal(snap.size, IMEIS);
});

test("SQLite: a snapshot that fell behind the pruned feed rebuilds and answers from the tables meanwhile", async (t) => {
  const { a, b } = twoWorkers(t);
  seed(a);
  const snap = a.statusCache as StatusSnapshot;
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  assert.equal(snap.builds, 1);
  // More than the kept 100,000 rows after A's position, then a flag, then the registry's prune:
  // A's next feed row is gone.
  b.tx(() => {
    b.db.exec(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100010) INSERT INTO status_changes (imei) SELECT '${IMEI2}' FROM c`);
    b.flags.raise("a".repeat(32), IMEI, "stolen", owner, "", 10);
  });
  assert.equal(b.pruneStatusChanges(), 13, "2 bindings + 100,010 + 1 flag, less the newest 100,000");
  assert.equal(b.db.prepare("SELECT count(*) FROM status_changes").pluck().get(), 100_000, "the feed keeps its newest 100,000 rows");
  assert.equal(equipmentStatus(a, IMEI), "BLACKLISTED");
  await waitFor(() => snap.ready, "rebuilt", 10_000);
  assert.equal(snap.builds, 2, "fell behind: rebuilt");
  assert.equal(equipmentStatus(a, IMEI), "BLACKLISTED");
  assert.equal(equipmentStatus(a, IMEI2), "WHITELISTED");
});

test("PostgreSQL: a flag raised by another process reaches the cache by NOTIFY; this process's own flag at once", async (t) => {
  const bin = needPostgres(t);
  if (!bin) return;
  const cluster = await startPostgres(bin);
  t.after(() => cluster.stop());
  const url = await cluster.createDb();
  const a = Store.open(url);
  const b = Store.open(url);
  t.after(() => (a.close(), b.close()));
  seed(a);
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  const hits = a.statusCache.hits;
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  assert.equal(a.statusCache.hits, hits + 1, "the second lookup is served from the cache");

  const f = b.flags.raise("a".repeat(32), IMEI, "stolen", owner, "", 10);
  // The notification arrives asynchronously (on A's connection thread) shortly after B's commit.
  await waitFor(() => equipmentStatus(a, IMEI) === "BLACKLISTED", "A sees B's flag", 5000);
  b.flags.clear(f.id, owner, 20);
  await waitFor(() => equipmentStatus(a, IMEI) === "WHITELISTED", "A sees B's clear", 5000);
  // A's own flag: no waiting.
  assert.equal(equipmentStatus(a, IMEI2), "WHITELISTED");
  a.flags.raise("b".repeat(32), IMEI2, "stolen", owner, "", 30);
  assert.equal(equipmentStatus(a, IMEI2), "BLACKLISTED");
});
