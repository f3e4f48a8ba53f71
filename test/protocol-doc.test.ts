// docs/PROTOCOL.md's appendices against the code they describe, so the two cannot drift:
// Appendix A.1 lists exactly the registry's error codes (registry/errors.ts) with their HTTP
// statuses; every "NNN E_CODE" pair anywhere in the appendices uses the code's real status;
// Appendix B names every request type (registry/request-codec.ts) and every HTTP resource
// (registry/paths.ts, the ledger's prefix); Appendix E's Trusted App codes are the TA's own
// (agent/ta-errors.ts, itself checked against assembly/errors.ts) and cover every command code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REGISTRY_ERRORS } from "../registry/errors.js";
import { REQUEST_TYPES } from "../registry/request-codec.js";
import { CHECK_PREFIX, CLAIM_PROOFS_PATH, DEVICES_PREFIX, EIR_PATH, IDENTITY_PATH, REQUESTS_PATH } from "../registry/paths.js";
import { LEDGER_PREFIX } from "../registry/ledger/http.js";
import { TLOG_PREFIX } from "../registry/ledger/tlog-http.js";
import { TA_ERRORS } from "../agent/ta-errors.js";
import { ROOT } from "./support/ta.js";

const doc = readFileSync(join(ROOT, "docs", "PROTOCOL.md"), "utf8");

/** The text of a section, from its heading to the next heading of the same or a higher level. */
function section(heading: string): string {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l === heading);
  assert.ok(start >= 0, `docs/PROTOCOL.md has no "${heading}"`);
  const level = heading.match(/^#+/)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.match(/^#+/)![0].length <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** Rows of the markdown tables in `text`, as trimmed cells (header and rule rows dropped). */
function rows(text: string): string[][] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("| ") && !/^\|[-| ]+\|$/.test(l))
    .map((l) => l.slice(2, -2).split(" | ").map((c) => c.trim()));
}

test("PROTOCOL.md Appendix A.1 lists exactly the registry's error codes, with their HTTP statuses", () => {
  const table = rows(section("### A.1 Registry refusals (HTTP)")).filter((r) => /^E_[A-Z_]+$/.test(r[0]!));
  const documented = new Map(table.map((r) => [r[0]!, Number(r[1])]));
  assert.equal(documented.size, table.length, "a code is listed twice");
  const codes = Object.keys(REGISTRY_ERRORS) as (keyof typeof REGISTRY_ERRORS)[];
  assert.deepEqual([...documented.keys()].sort(), [...codes].sort(), "Appendix A.1 and registry/errors.ts list different codes");
  for (const c of codes) assert.equal(documented.get(c), REGISTRY_ERRORS[c].status, `${c}: the document says HTTP ${documented.get(c)}, the code answers ${REGISTRY_ERRORS[c].status}`);
});

test("PROTOCOL.md appendices: every 'status E_CODE' pair names a real code with its real status", () => {
  const appendices = doc.slice(doc.indexOf("## Appendix A."));
  const pairs = [...appendices.matchAll(/\b([1-5]\d\d) (E_[A-Z_]+)\b/g)];
  assert.ok(pairs.length > 40, "Appendix B lists refusals as 'status E_CODE'");
  for (const [, status, code] of pairs) {
    const known = REGISTRY_ERRORS[code as keyof typeof REGISTRY_ERRORS];
    assert.ok(known, `${code} is not a registry error code`);
    assert.equal(Number(status), known.status, `${status} ${code}: the code answers ${known.status}`);
  }
});

test("PROTOCOL.md Appendix B covers every request type and every HTTP resource", () => {
  const b = section("## Appendix B. HTTP endpoints");
  const types = new Set(rows(section("### B.1 Answers to requests")).flatMap((r) => [...r[0]!.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!)));
  for (const t of REQUEST_TYPES) assert.ok(types.has(t), `request type ${t} has no row in Appendix B.1`);
  for (const p of [IDENTITY_PATH, REQUESTS_PATH, DEVICES_PREFIX, CHECK_PREFIX, CLAIM_PROOFS_PATH, EIR_PATH, LEDGER_PREFIX, TLOG_PREFIX]) assert.ok(b.includes(p), `Appendix B does not name ${p}`);
});

test("PROTOCOL.md Appendix E: the Trusted App codes a REJECTED carries are the TA's own, every command code included", () => {
  const e = rows(section("## Appendix E. How a handset answers commands: REJECTED, or silence")).filter((r) => /^-\d+$/.test(r[0]!));
  const byName = new Map(Object.entries(TA_ERRORS).map(([name, v]) => [name, v.code]));
  for (const [code, name] of e) assert.equal(byName.get(name!), Number(code), `${name} is ${byName.get(name!)} in agent/ta-errors.ts, not ${code}`);
  const listed = new Set(e.map((r) => r[1]));
  for (const name of byName.keys()) if (name.startsWith("ERR_CMD_")) assert.ok(listed.has(name), `${name} is missing from Appendix E`);
  assert.ok(listed.has("ERR_TAMPERED"));
});
