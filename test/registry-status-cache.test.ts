// The equipment-status cache (registry/status-cache.ts, docs/STORAGE.md §4) is never stale for
// a flag: two stores on one database play two registry workers; A answers from its cache, B
// raises or clears a flag, and A's next answer has it. A negative control shows the same cache
// with its generation check disabled does serve the stale status, so the test can fail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Store } from "../registry/store.js";
import { equipmentStatus } from "../registry/equipment-status.js";
import { StatusCache } from "../registry/status-cache.js";
import { tempDir, waitFor } from "./support/registry-sim.js";
import { needPostgres, startPostgres } from "./support/postgres.js";

const IMEI = "490154203237518";
const IMEI2 = "356938035643809";
const device = (did: string) => ({
  did, deviceKey: new Uint8Array(32), endorsement: new Uint8Array(1), oemid: new Uint8Array(3), hwmodel: new Uint8Array(1),
  at: 5, bootcount: 1, lockState: 0 as const, lastSeq: 0, tampered: false, measurement: null,
});
const owner = { role: "owner" as const, kid: new Uint8Array(16).fill(7) };

function seed(s: Store): void {
  s.tx(() => {
    for (const [did, imei] of [["a".repeat(32), IMEI], ["b".repeat(32), IMEI2]] as const) {
      s.devices.insert(device(did));
      s.imeis.bind(imei, did, 1, 5);
    }
  });
}

test("SQLite: a flag raised by another worker on the file is seen at once; a cache without the generation check would not", (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const path = join(dir.path, "r.sqlite");
  const a = Store.open(path);
  const b = Store.open(path);
  t.after(() => (a.close(), b.close()));
  seed(a);
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  const hits = a.statusCache.hits;
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  assert.equal(a.statusCache.hits, hits + 1, "the second lookup is served from the cache");

  // Negative control: the same cache over A's store, generation frozen, serves the stale answer.
  const frozen = new StatusCache(() => 0);
  assert.equal(frozen.get(IMEI, () => equipmentStatus(a, IMEI)), "WHITELISTED");

  const f = b.flags.raise("a".repeat(32), IMEI, "stolen", owner, "", 10); // worker B, its own connection
  assert.equal(equipmentStatus(a, IMEI), "BLACKLISTED", "worker A sees B's flag on its next lookup");
  assert.equal(frozen.get(IMEI, () => "BLACKLISTED"), "WHITELISTED", "without the generation check the flag is missed");
  b.flags.clear(f.id, owner, 20);
  assert.equal(equipmentStatus(a, IMEI), "WHITELISTED");
  // A's own writes invalidate too.
  assert.equal(equipmentStatus(a, IMEI2), "WHITELISTED");
  a.flags.raise("b".repeat(32), IMEI2, "clone", { role: "registry", kid: null }, "", 30);
  assert.equal(equipmentStatus(a, IMEI2), "GREYLISTED");
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
