// The conformance suite against the reference registry on PostgreSQL (docs/STORAGE.md): the
// same scenarios and requirements as conformance-aedes.test.ts (embedded aedes broker, MQTT
// 3.1.1), with the registry's store in a fresh database of a throwaway PostgreSQL cluster. The
// ledger tamper scenario (REQ-LG-07) alters the PostgreSQL tables behind the trigger
// (simulator/conformance/ledger-tamper-pg.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { EmbeddedSite } from "../simulator/embedded.js";
import { REQUIREMENTS } from "../simulator/conformance/catalogue.js";
import { formatTable } from "../simulator/conformance/report.js";
import { runConformance } from "../simulator/conformance/runner.js";
import { SCENARIOS } from "../simulator/conformance/scenarios/index.js";
import { siteTarget } from "../simulator/conformance/suite.js";
import { needPostgres, startPostgres } from "./support/postgres.js";
import { compileTa } from "./support/ta.js";

const module = compileTa();

test("conformance: every scenario passes with the registry on PostgreSQL", async (t) => {
  const bin = needPostgres(t);
  if (!bin) return;
  const cluster = await startPostgres(bin);
  try {
    const db = await cluster.createDb();
    const site = await EmbeddedSite.start({ ledger: true, db });
    try {
      assert.equal(site.registry.store.engine, "postgres");
      const report = await runConformance({ target: siteTarget({ site, module }), scenarios: SCENARIOS, fleetSize: 10 });
      assert.deepEqual(
        report.verdicts.filter((v) => v.outcome !== "pass").map((v) => `${v.scenario}: ${v.outcome} ${v.failure?.req ?? ""} ${v.failure?.message ?? ""}`),
        [],
        formatTable(report),
      );
      assert.equal(report.counts.pass, SCENARIOS.length);
      assert.deepEqual(report.requirements.filter((r) => r.outcome !== "pass").map((r) => r.id), []);
      assert.equal(report.requirements.length, REQUIREMENTS.length);
    } finally {
      await site.stop();
    }
  } finally {
    await cluster.stop();
  }
});
