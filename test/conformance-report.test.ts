// The conformance reports say what produced them (tool, version, commit, options), and a skipped
// scenario carries its reason as a skip reason - never under "failure", which is for scenarios
// that ran and failed. The suite runs as a process (`antitheft conformance --report`) with a
// driver that lacks the "storage-attacks" capability, so second-endorsement is skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "./support/e2e.js";

const dist = new URL("../", import.meta.url).href; // dist/

test("conformance.json, summary.txt and junit.xml: tool, version, commit and options; a skip reason is not a failure", async () => {
  const dir = await mkdtemp(join(tmpdir(), "at-conf-report-"));
  try {
    const driver = join(dir, "no-storage.mjs");
    await writeFile(driver, `
import { VirtualHandsetDriver } from "${dist}simulator/handset.js";
import { liteTransport } from "${dist}simulator/mqtt-lite.js";
export function createDriver(ctx) {
  const d = new VirtualHandsetDriver({ module: ctx.module, transport: liteTransport(ctx.brokerUrl), mqttVersion: ctx.mqttVersion, measurement: ctx.measurement }, "phones without storage access");
  return { name: d.name, capabilities: [], provision: (spec) => d.provision(spec) };
}
`);
    const out = join(dir, "report");
    const r = spawnSync(process.execPath, [CLI, "conformance", "--driver", driver, "--scenario", "second-endorsement", "--report", out, "--timeout", "3000"], { encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const json = JSON.parse(await readFile(join(out, "conformance.json"), "utf8")) as {
      about: { tool: { name: string; version: string; commit: string | null }; options: Record<string, unknown> };
      verdicts: { scenario: string; outcome: string; failure?: unknown; skipReason?: string }[];
    };
    const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    assert.equal(json.about.tool.name, "antitheft conformance");
    assert.equal(json.about.tool.version, pkg.version);
    assert.ok(json.about.tool.commit === null || /^[0-9a-f]{40}$/.test(json.about.tool.commit));
    assert.equal(json.about.options.scenario, "second-endorsement");
    assert.equal(json.about.options.driver, driver);
    const v = json.verdicts[0]!;
    assert.equal(v.outcome, "skip");
    assert.equal(v.failure, undefined, "a skip is not a failure");
    assert.match(v.skipReason ?? "", /the target lacks: storage-attacks/);
    const summary = await readFile(join(out, "summary.txt"), "utf8");
    assert.match(summary, /tool: antitheft conformance \d+\.\d+\.\d+/);
    assert.match(summary, /options: .*--scenario second-endorsement/);
    assert.match(summary, /skipped: the target lacks: storage-attacks/);
    const xml = await readFile(join(out, "junit.xml"), "utf8");
    assert.match(xml, /<skipped message="the target lacks: storage-attacks"\/>/);
    assert.match(xml, /<property name="tool" value="antitheft conformance \d/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
