// PostgreSQL for the suites that run against the PostgreSQL backend: a throwaway cluster
// (simulator/postgres-cluster.ts). Missing binaries: the test is skipped with a reason, or fails
// under REQUIRE_SYSTEM_TOOLS=1 (system-tools.ts).
// ANTITHEFT_TEST_PG (a postgres:// URL of a cluster's maintenance database) makes the registry
// harness (registry-sim.ts) put each registry in a fresh database of that cluster instead of a
// SQLite file: that is how the registry suites run on both backends (registry-postgres.test.ts).
import type { TestContext } from "node:test";
import { createDatabase, postgresBin } from "../../simulator/postgres-cluster.js";

export { postgresBin, startPostgres, type PgCluster } from "../../simulator/postgres-cluster.js";

/** Returns the bin folder, or undefined after marking the test skipped (never in CI). */
export function needPostgres(t: TestContext): string | undefined {
  const bin = postgresBin();
  if (bin) return bin;
  const why = "needs PostgreSQL (apt-get install postgresql; .ci/run does this)";
  if (process.env.REQUIRE_SYSTEM_TOOLS === "1") throw new Error(`REQUIRE_SYSTEM_TOOLS=1 but ${why}`);
  process.stdout.write(`# SKIP ${t.name}: ${why}\n`);
  t.skip(why);
  return undefined;
}

let counter = 0;

/** A fresh database of the ANTITHEFT_TEST_PG cluster, or `sqlitePath` when it is not set. */
export async function registryDb(sqlitePath: string): Promise<string> {
  const base = process.env.ANTITHEFT_TEST_PG;
  if (!base) return sqlitePath;
  const name = `h${process.pid}_${++counter}_${Math.floor(Math.random() * 1e9)}`;
  return createDatabase(base, name);
}
