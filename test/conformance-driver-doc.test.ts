// docs/CONFORMANCE.md "The driver interface" lists the types a third-party driver implements;
// this test reads the interfaces where they are defined (simulator/conformance/target.ts,
// external.ts, attestation/cose/sign1.ts) and checks the document names every member of each,
// and no member they do not have, so the documented interface cannot drift from the code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./support/ta.js";

const read = (...p: string[]) => readFileSync(join(ROOT, ...p), "utf8");

/** Member names of `export interface NAME { ... }` (or `interface NAME`) in TypeScript source. */
function members(source: string, name: string): string[] {
  const m = new RegExp(`(?:export )?interface ${name} \\{[^\\n]*\\n([\\s\\S]*?)\\n\\}`).exec(source);
  assert.ok(m, `no interface ${name}`);
  return [...m[1]!.matchAll(/^ {2}(?:readonly )?([A-Za-z]\w*)\??[(:]/gm)].map((x) => x[1]!).sort();
}

/** The union members of `type NAME = | "a" | "b" ...;`. */
function unionMembers(source: string, name: string): string[] {
  const m = new RegExp(`type ${name} =([\\s\\S]*?);`).exec(source);
  assert.ok(m, `no type ${name}`);
  return [...m[1]!.matchAll(/"([a-z-]+)"/g)].map((x) => x[1]!).sort();
}

const doc = read("docs", "CONFORMANCE.md");
const start = doc.indexOf("### The driver interface");
const block = doc.slice(doc.indexOf("```ts", start) + 5, doc.indexOf("```", doc.indexOf("```ts", start) + 5));

test("CONFORMANCE.md documents every member of the driver interfaces, as the source defines them", () => {
  assert.ok(start > 0, "docs/CONFORMANCE.md has no driver interface section");
  const target = read("simulator", "conformance", "target.ts");
  const external = read("simulator", "conformance", "external.ts");
  const sign1 = read("attestation", "cose", "sign1.ts");
  const sources: Record<string, string> = {
    DriverContext: external, HandsetDriver: target, ProvisionSpec: target, Handset: target, Screen: target,
    EnforcementRecord: target, StorageAttacks: target, StorageSnapshot: target, Signer: sign1,
  };
  for (const [name, source] of Object.entries(sources)) {
    assert.deepEqual(members(block, name), members(source, name), `interface ${name}: the document and the source differ`);
  }
  assert.deepEqual(unionMembers(block, "Capability"), unionMembers(target, "Capability"), "Capability: the document and the source differ");
});
