// The requirement catalogue (simulator/conformance/catalogue.ts) and docs/CONFORMANCE.md agree,
// ids are stable in form and order, every scenario names only known requirements, and every
// requirement is tested by at least one scenario.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REQUIREMENTS } from "../simulator/conformance/catalogue.js";
import { REQ_LG } from "../registry/ledger/conformance.js";
import { SCENARIOS, selectScenarios } from "../simulator/conformance/scenarios/index.js";
import { ROOT } from "./support/ta.js";
import { spawnSync } from "node:child_process";
import { CLI } from "./support/e2e.js";

const doc = readFileSync(join(ROOT, "docs", "CONFORMANCE.md"), "utf8");

test("catalogue: ids are well formed, unique and numbered 01, 02, ... per area", () => {
  const seen = new Map<string, number>();
  for (const r of REQUIREMENTS) {
    const m = /^REQ-(ID|AT|LK|RG|NW|SEC|LG)-(\d{2})$/.exec(r.id);
    assert.ok(m, `malformed id ${r.id}`);
    const next = (seen.get(m[1]!) ?? 0) + 1;
    assert.equal(Number(m[2]), next, `${r.id} out of sequence`);
    seen.set(m[1]!, next);
    assert.ok(r.text.length > 20 && r.sources.length > 0, `${r.id} needs a text and a source`);
  }
  for (const area of ["ID", "AT", "LK", "RG", "NW", "SEC", "LG"]) assert.ok(seen.has(area), `no REQ-${area} requirement`);
});

test("catalogue: docs/CONFORMANCE.md lists every requirement with the same text and scenarios", () => {
  for (const r of REQUIREMENTS) {
    const row = doc.split("\n").find((l) => l.startsWith(`| ${r.id} |`));
    assert.ok(row, `${r.id} has no row in docs/CONFORMANCE.md`);
    const cells = row.split(" | ");
    assert.equal(cells[1], r.text, `${r.id}: the document's text differs`);
    assert.equal(cells[2], r.side);
    const scenarios = SCENARIOS.filter((s) => s.reqs.includes(r.id)).map((s) => `\`${s.name}\``).join(", ");
    assert.equal(cells[4]!.replace(/ \|$/, ""), scenarios, `${r.id}: the document's scenarios differ`);
  }
  const mentioned = new Set(doc.match(/REQ-(ID|AT|LK|RG|NW|SEC|LG)-\d{2}/g) ?? []);
  for (const id of mentioned) assert.ok(REQUIREMENTS.some((r) => r.id === id), `docs/CONFORMANCE.md mentions unknown ${id}`);
  assert.match(doc, /### Ledger \(REQ-LG-xx\)/);
  assert.doesNotMatch(doc, /Reserved for the shared tamper-evident ledger/);
});

test("catalogue: every scenario checks known requirements and is documented with them", () => {
  const names = new Set<string>();
  for (const s of SCENARIOS) {
    assert.match(s.name, /^[a-z][a-z0-9-]+$/);
    assert.ok(!names.has(s.name), `duplicate scenario ${s.name}`);
    names.add(s.name);
    for (const id of s.reqs) assert.ok(REQUIREMENTS.some((r) => r.id === id), `${s.name} checks unknown ${id}`);
    const row = doc.split("\n").find((l) => l.startsWith(`| \`${s.name}\` |`));
    assert.ok(row, `${s.name} has no row in the scenario table`);
    assert.equal(row.split(" | ")[2], s.reqs.join(", "), `${s.name}: the document lists other requirements`);
  }
});

test("catalogue: every requirement, the ledger's included, is tested by at least one scenario", () => {
  const untested = REQUIREMENTS.filter((r) => !SCENARIOS.some((s) => s.reqs.includes(r.id)));
  assert.deepEqual(untested.map((r) => r.id), []);
});

test("catalogue: the ledger's requirements are registry/ledger/conformance.ts's REQ_LG, word for word", () => {
  const lg = REQUIREMENTS.filter((r) => r.id.startsWith("REQ-LG-"));
  assert.deepEqual(lg.map((r) => r.id), Object.keys(REQ_LG));
  for (const r of lg) {
    const q = REQ_LG[r.id as keyof typeof REQ_LG];
    assert.equal(r.text, q.text);
    assert.equal(r.sources.join("; "), q.source);
    assert.equal(r.side, "registry");
  }
});

test("catalogue: scenario selection by name, list and 'all'", () => {
  assert.equal(selectScenarios("all").length, SCENARIOS.length);
  assert.deepEqual(selectScenarios("clone, nonce").map((s) => s.name), ["clone", "nonce"]);
  assert.throws(() => selectScenarios("no-such-scenario"), RangeError);
});

test("antitheft conformance --list prints every scenario with its requirements; bad flags exit 2", () => {
  const r = spawnSync(process.execPath, [CLI, "conformance", "--list"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  for (const s of SCENARIOS) assert.ok(r.stdout.includes(s.name) && r.stdout.includes(s.reqs.join(" ")), `${s.name} missing from --list`);
  for (const args of [["--scenario", "nope"], ["--mqtt-version", "6"], ["--registry", "http://127.0.0.1:9"], ["--devices", "0"], ["--bogus"], ["--federation-key", "00"], ["--ledger-peer-key", "peer.key"],
    ["--registry", "http://127.0.0.1:9", "--broker", "mqtt://127.0.0.1:9", "--ledger-peer-key", "peer.key", "--federation-key", "00".repeat(32)]]) {
    const u = spawnSync(process.execPath, [CLI, "conformance", ...args], { encoding: "utf8" });
    assert.equal(u.status, 2, `${args.join(" ")}: ${u.stderr}`);
    assert.match(u.stderr, /^error E_USAGE: /);
  }
});
