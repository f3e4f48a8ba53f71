// agent/ta-errors.ts must mirror assembly/errors.ts exactly (the TA's one table of codes):
// parse the AssemblyScript source and compare, both ways, so the tables cannot drift.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HOST_ERRORS, TA_ERRORS, TaError, taErrorName } from "../agent/ta-errors.js";
import { ROOT } from "./support/ta.js";

function parseAssemblyErrors(): Map<string, number> {
  const src = readFileSync(join(ROOT, "assembly", "errors.ts"), "utf8");
  const table = new Map<string, number>();
  const re = /^export\s+const\s+(\w+)\s*:\s*i32\s*=\s*(-?\d+)\s*;/gm;
  for (const m of src.matchAll(re)) {
    assert.ok(!table.has(m[1]!), `${m[1]} declared twice`);
    table.set(m[1]!, Number(m[2]));
  }
  // every exported constant must have matched the pattern (none may hide in another form)
  assert.equal((src.match(/^export\s+const\s/gm) ?? []).length, table.size, "an export in assembly/errors.ts is not `NAME: i32 = <int>;`");
  return table;
}

test("agent/ta-errors.ts and assembly/errors.ts list the same names with the same codes", () => {
  const assembly = parseAssemblyErrors();
  assert.ok(assembly.size >= 3);
  const host = new Map(Object.entries(TA_ERRORS).map(([name, e]) => [name, e.code as number]));
  assert.deepEqual([...host].sort(), [...assembly].sort());
});

test("codes are unique negative integers; host-only codes are outside the TA's ranges", () => {
  const ta = Object.values(TA_ERRORS).map((e) => e.code as number);
  const hostOnly = Object.values(HOST_ERRORS).map((e) => e.code as number);
  assert.equal(new Set([...ta, ...hostOnly]).size, ta.length + hostOnly.length);
  for (const c of ta) assert.ok(Number.isInteger(c) && c <= -1 && c >= -49, `TA code ${c} in -1..-49`);
  for (const c of hostOnly) assert.ok(c < -49, `host code ${c} outside the TA's ranges`);
});

test("TaError carries the code, the table name, the export and a readable message", () => {
  const e = new TaError(TA_ERRORS.ERR_LENGTH.code, "sha512");
  assert.ok(e instanceof Error);
  assert.equal(e.code, -1);
  assert.equal(e.name, "ERR_LENGTH");
  assert.equal(e.export, "sha512");
  assert.match(e.message, /^sha512: ERR_LENGTH \(-1\): /);
  assert.equal(taErrorName(-1000), "ERR_TRAP");
  assert.equal(new TaError(-42, "x").name, "ERR_UNKNOWN");
});
