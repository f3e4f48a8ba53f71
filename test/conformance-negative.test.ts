// Negative controls: the conformance suite must FAIL against broken handsets and registries,
// naming the requirement each breakage violates (simulator/conformance/faulty/). Each control
// runs its scenario on its own embedded site; a few run at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NEGATIVE_CONTROLS, runNegativeControl, type ControlResult } from "../simulator/conformance/faulty/index.js";
import { SCENARIOS } from "../simulator/conformance/scenarios/index.js";
import { pool } from "../simulator/pool.js";
import { compileTa } from "./support/ta.js";

const module = compileTa();

test("negative controls: every scenario has one, and each names a requirement the scenario checks", () => {
  for (const s of SCENARIOS) assert.ok(NEGATIVE_CONTROLS.some((c) => c.scenario === s.name), `no negative control for ${s.name}`);
  for (const c of NEGATIVE_CONTROLS) {
    const s = SCENARIOS.find((x) => x.name === c.scenario);
    assert.ok(s, `control for unknown scenario ${c.scenario}`);
    assert.ok(s.reqs.includes(c.violates), `${c.scenario} does not list ${c.violates}`);
    assert.ok(Boolean(c.registry) !== Boolean(c.handsets), "a control breaks either the registry or the handsets");
  }
});

test("negative controls: the suite fails against every broken handset and registry", async () => {
  const results: ControlResult[] = [];
  await pool(NEGATIVE_CONTROLS, 3, async (c) => {
    results.push(await runNegativeControl(c, { module, timeoutMs: 2500, fleetSize: 8 }));
  });
  const missed = results.filter((r) => !r.caught);
  assert.deepEqual(
    missed.map((r) => `${r.control.scenario} vs "${r.broken}": ${r.verdict.outcome} ${r.verdict.failure?.req ?? ""} ${r.verdict.failure?.message ?? ""}`),
    [],
    "these broken variants were not caught for the expected reason",
  );
  assert.equal(results.length, NEGATIVE_CONTROLS.length);
});
