// The conformance suite against the reference implementation on the embedded aedes broker
// (MQTT 3.1.1): every scenario must pass and every requirement of the catalogue must be
// established; the reports (console, JSON, JUnit XML) must say so. The negative controls
// (test/conformance-negative.test.ts) show the same scenarios fail when a behaviour is broken.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedSite } from "../simulator/embedded.js";
import { REQUIREMENTS } from "../simulator/conformance/catalogue.js";
import { formatTable, writeReports } from "../simulator/conformance/report.js";
import { runConformance } from "../simulator/conformance/runner.js";
import { SCENARIOS } from "../simulator/conformance/scenarios/index.js";
import { siteTarget } from "../simulator/conformance/suite.js";
import { compileTa } from "./support/ta.js";

const module = compileTa();

test("conformance: every scenario passes on the embedded aedes broker (MQTT 3.1.1, MQTT.js handsets)", async () => {
  const site = await EmbeddedSite.start({ ledger: true });
  const dir = await mkdtemp(join(tmpdir(), "at-conformance-"));
  try {
    const report = await runConformance({ target: siteTarget({ site, module }), scenarios: SCENARIOS, fleetSize: 10 });
    const table = formatTable(report);
    assert.deepEqual(
      report.verdicts.filter((v) => v.outcome !== "pass").map((v) => `${v.scenario}: ${v.outcome} ${v.failure?.req ?? ""} ${v.failure?.message ?? ""}`),
      [],
      table,
    );
    assert.equal(report.counts.pass, SCENARIOS.length);
    // Every requirement, the ledger's (REQ-LG) included, is established by a passing scenario.
    assert.deepEqual(report.requirements.filter((r) => r.outcome !== "pass").map((r) => r.id), []);
    assert.equal(report.requirements.length, REQUIREMENTS.length);
    // The mass block measured every handset.
    const mass = report.verdicts.find((v) => v.scenario === "mass-block")!;
    assert.equal(mass.metrics.lock_latency_ms?.n, 10);

    const files = await writeReports(dir, report);
    assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), ["summary.txt", "conformance.json", "junit.xml"]);
    const json = JSON.parse(await readFile(join(dir, "conformance.json"), "utf8")) as { verdicts: { outcome: string }[]; requirements: { id: string; text: string }[] };
    assert.equal(json.verdicts.length, SCENARIOS.length);
    assert.ok(json.requirements.every((r) => r.text.length > 20), "the JSON report carries each requirement's text");
    const xml = await readFile(join(dir, "junit.xml"), "utf8");
    assert.equal((xml.match(/<testcase /g) ?? []).length, SCENARIOS.length);
    assert.ok(!/<failure|<error|<skipped/.test(xml));
    assert.ok(xml.includes(`tests="${SCENARIOS.length}" failures="0" errors="0" skipped="0"`));
    assert.ok((await readFile(join(dir, "summary.txt"), "utf8")).includes(`${SCENARIOS.length} scenarios: ${SCENARIOS.length} pass, 0 fail`));
  } finally {
    await site.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
