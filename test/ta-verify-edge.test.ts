// The Ed25519 verification edge-case table (test/support/ed25519-edge.ts builds ~1,250 cases):
// every case asserts TA verdict === node:crypto (OpenSSL) verdict. Which way each case goes is
// recorded twice: per group below (how many OpenSSL accepts), and case by case by a model of
// OpenSSL's rule (modelVerdict), which node:crypto must also match, so a change of OpenSSL
// behaviour is noticed rather than silently followed. The full table is written to
// build/reports/ta-verify-edge.json.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TrustedApp } from "../agent/trusted-app.js";
import { buildEdgeCases, modelVerdict, type EdgeCase } from "./support/ed25519-edge.js";
import { nodeVerify, nodeVerifySpki } from "./support/oracle.js";
import { compileTa, hex, ROOT } from "./support/ta.js";

const ta = TrustedApp.fromModule(compileTa());
const cases = buildEdgeCases();

// Recorded verdicts (OpenSSL 3.0 via Node 20): how many cases of each group are ACCEPTED.
//  S:                   only the valid baseline; every S >= L (S+jL, S = L, L+1, ..., 2^256-1) is refused.
//  small-order A:       all 14 accepted - OpenSSL does not refuse small-order public keys, and decodes
//                       A leniently: y >= p is reduced, x = 0 with the sign bit set is accepted.
//  small-order R:       only the canonical identity (01 00..00): R is compared by its encoding with
//                       [S]B - [k]A (cofactorless), so non-canonical R never matches.
//  small-order A and R: exactly the pairs where [k]A = -R holds AND R is canonically encoded.
//  mixed-order A:       the 7 where [k]T = O (cofactorless equation holds); the cofactored-only ones refused.
//  mixed-order R:       none (cofactorless: R + T never equals [S]B - [k]A).
//  non-canonical A:     the 4 encodings y = p, p+1 (both signs) of small-order points built to satisfy
//                       the equation; the other y = p+k (on or off the curve) refused.
//  non-canonical R:     none.  Bit flips of R, S, A, M: none.
const ACCEPTED: Record<string, number> = {
  S: 1,
  "small-order A": 14,
  "small-order R": 1,
  "small-order A and R": 56,
  "mixed-order A": 7,
  "mixed-order R": 0,
  "non-canonical A": 4,
  "non-canonical R": 0,
  "bit flip R": 0,
  "bit flip S": 0,
  "bit flip A": 0,
  "bit flip M": 0,
};

interface Row {
  group: string;
  name: string;
  ta: boolean | string;
  node: boolean;
  nodeSpki: boolean;
  model: boolean;
}
const rows: Row[] = [];

function verdicts(c: EdgeCase): Row {
  let taVerdict: boolean | string;
  try {
    taVerdict = ta.ed25519Verify(c.publicKey, c.signature, c.message);
  } catch (e) {
    taVerdict = `threw ${(e as Error).message}`; // never allowed: verification answers yes or no
  }
  return { group: c.group, name: c.name, ta: taVerdict, node: nodeVerify(c.publicKey, c.signature, c.message),
    nodeSpki: nodeVerifySpki(c.publicKey, c.signature, c.message), model: modelVerdict(c) };
}

const groups = [...new Set(cases.map((c) => c.group))];

test("the table covers every group it records, with the expected sizes", () => {
  assert.deepEqual(groups.sort(), Object.keys(ACCEPTED).sort());
  const count = (g: string) => cases.filter((c) => c.group === g).length;
  assert.equal(count("small-order A"), 14); // 8 torsion points + 6 non-canonical encodings
  assert.equal(count("small-order A and R"), 14 * 14);
  assert.equal(count("non-canonical A"), 19 * 2); // y = p .. 2^255-1, both signs
  assert.equal(count("bit flip R"), 256);
  assert.equal(count("bit flip S"), 256);
  assert.equal(count("bit flip A"), 256);
});

for (const group of Object.keys(ACCEPTED)) {
  test(`verify edge cases, ${group}: TA verdict === node:crypto verdict`, (t) => {
    const mine = cases.filter((c) => c.group === group).map(verdicts);
    rows.push(...mine);
    const disagree = mine.filter((r) => r.ta !== r.node);
    const unmodelled = mine.filter((r) => r.node !== r.model || r.node !== r.nodeSpki);
    const accepted = mine.filter((r) => r.node);
    t.diagnostic(`${group}: ${mine.length} cases, node:crypto accepts ${accepted.length}, TA disagrees on ${disagree.length}`);
    assert.deepEqual(
      disagree.map((r) => `${r.name}: TA ${String(r.ta)}, node ${r.node}`),
      [],
      "TA and node:crypto disagree",
    );
    assert.deepEqual(unmodelled.map((r) => r.name), [], "node:crypto (JWK or SPKI import) no longer matches the recorded OpenSSL model");
    assert.equal(accepted.length, ACCEPTED[group], "node:crypto accepts a different number of cases than recorded");
  });
}

test("the whole table is written to build/reports/ta-verify-edge.json", () => {
  const dir = join(ROOT, "build", "reports");
  mkdirSync(dir, { recursive: true });
  const table = cases.map((c, i) => ({
    ...(rows.find((r) => r.group === c.group && r.name === c.name) ?? verdicts(c)),
    publicKey: hex(c.publicKey),
    signature: hex(c.signature),
    message: hex(c.message),
    index: i,
  }));
  writeFileSync(join(dir, "ta-verify-edge.json"), JSON.stringify(table, null, 1) + "\n");
  assert.equal(table.length, cases.length);
});
