// The registry suites again, on PostgreSQL: the same test files, run by a child `node --test`
// with ANTITHEFT_TEST_PG set, so the harness (support/registry-sim.ts) puts every registry in a
// fresh database of a throwaway cluster instead of a SQLite file (docs/STORAGE.md). The suites
// run unchanged; this test passes only when all of them pass, and checks that they really wrote
// to PostgreSQL (one database per harness, with rows in it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { needPostgres, startPostgres } from "./support/postgres.js";

const here = dirname(fileURLToPath(import.meta.url));
/**
 * The suites whose registry runs on the harness's database: requests (claims, flags, clears,
 * replays), commands and results, equipment status, hostile payloads. Enrolment, claim
 * hijacking, ownership resets, floods, restarts and the ledger run on PostgreSQL in the
 * conformance suite (conformance-postgres.test.ts) and the workers' test; the rest of the
 * registry suites also pass with ANTITHEFT_TEST_PG set, left out here to keep the suite's time.
 */
const SUITES = ["registry-requests", "registry-commands", "registry-eir", "registry-hostile"];

test("the registry suites pass with the registry on PostgreSQL", async (t) => {
  const bin = needPostgres(t);
  if (!bin) return;
  const cluster = await startPostgres(bin);
  try {
    const files = SUITES.map((s) => join(here, `${s}.test.js`));
    const child = spawn(process.execPath, ["--test", "--test-concurrency=1", ...files], {
      // NODE_TEST_CONTEXT would make the child skip its files (it marks a test file's own process)
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT")), ANTITHEFT_TEST_PG: cluster.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    const failed = out.split("\n").filter((l) => /^\s*not ok /.test(l));
    assert.equal(code, 0, `the suites failed on PostgreSQL:\n${failed.join("\n")}\n${out.slice(-4000)}`);
    assert.match(out, /^# fail 0$/m);
    const passed = Number(/^# pass (\d+)$/m.exec(out)?.[1] ?? 0);
    assert.ok(passed >= SUITES.length, `only ${passed} tests ran`);
    // The harnesses wrote to PostgreSQL: one database each, with the registry's events in them.
    const c = new pg.Client(cluster.url);
    await c.connect();
    try {
      const dbs = (await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'h%'")).rows.map((r) => r.datname as string);
      assert.ok(dbs.length >= SUITES.length, `only ${dbs.length} harness databases`);
      let events = 0;
      for (const d of dbs) {
        const dc = new pg.Client(cluster.url.replace(/\/postgres$/, `/${d}`));
        await dc.connect();
        events += Number((await dc.query("SELECT count(*) AS n FROM events")).rows[0].n);
        await dc.end();
      }
      assert.ok(events > 0, "the registries recorded events in PostgreSQL");
    } finally {
      await c.end();
    }
  } finally {
    await cluster.stop();
  }
});
