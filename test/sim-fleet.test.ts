// Fleets: handsets in worker threads (simulator/fleet.ts) enrol and lock in a mass block run by
// `runSim` exactly as in this thread; `antitheft sim` runs end to end and exits 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSim } from "../simulator/sim.js";
import { Progress } from "../simulator/progress.js";
import { CLI } from "./support/e2e.js";
import { compileTa } from "./support/ta.js";

const module = compileTa();

test("sim: a mass block of handsets in two worker threads (embedded broker and registry)", async () => {
  const out: string[] = [];
  const progress: string[] = [];
  const r = await runSim({
    module, devices: 24, workers: 2, write: (t) => void out.push(t),
    progress: new Progress({ write: (t) => void progress.push(t), tty: false }),
  });
  const text = out.join("");
  assert.equal(r.report.counts.pass, 1, text);
  const v = r.report.verdicts[0]!;
  assert.equal(v.scenario, "mass-block");
  assert.equal(v.metrics.lock_latency_ms?.n, 24, "every handset's lock was measured");
  assert.match(text, /24 handsets \(2 worker threads\)/);
  assert.match(text, /lock_latency_ms: p50 [\d.]+ \/ p90 [\d.]+ \/ p99 [\d.]+/);
  assert.ok(progress.some((l) => /provisioned: 24\/24|booted: 24\/24/.test(l)), progress.join(""));
});

test("antitheft sim --devices N: runs, prints the summary, writes reports, exits 0", async () => {
  const dir = await mkdtemp(join(tmpdir(), "at-sim-"));
  try {
    const r = await new Promise<{ status: number | null; out: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, "sim", "--devices", "12", "--scenario", "mass-block,theft-lock", "--report", dir], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      p.stdout.on("data", (d: Buffer) => void (out += d.toString()));
      p.stderr.on("data", (d: Buffer) => void (out += d.toString()));
      p.on("exit", (status) => resolve({ status, out }));
    });
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /PASS\s+mass-block/);
    assert.match(r.out, /2 scenarios: 2 pass, 0 fail/);
    const json = JSON.parse(await readFile(join(dir, "conformance.json"), "utf8")) as { counts: { pass: number }; about: { tool: { name: string }; options: Record<string, unknown> } };
    assert.equal(json.counts.pass, 2);
    assert.equal(json.about.tool.name, "antitheft sim", "the report says what produced it");
    assert.equal(json.about.options.devices, "12");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("antitheft sim: usage errors exit 2 with a reason", async () => {
  for (const args of [["sim"], ["sim", "--devices", "0"], ["sim", "--devices", "3", "--scenario", "nope"], ["sim", "--devices", "3", "--mqtt-version", "3"]]) {
    const r = await new Promise<{ status: number | null; err: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      p.stderr.on("data", (d: Buffer) => void (err += d.toString()));
      p.on("exit", (status) => resolve({ status, err }));
    });
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, /^error E_USAGE: /);
  }
});
