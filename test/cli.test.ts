import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { misbehavingTaBytes } from "./support/tiny-wasm.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

test("antitheft --help lists the commands and exits 0", () => {
  const r = run("--help");
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Usage: antitheft <command>/);
  assert.match(r.stdout, /selftest/);
});

test("an unknown command exits 2 with a reason", () => {
  const r = run("no-such-command");
  assert.equal(r.status, 2);
  assert.match(r.stderr, /error E_USAGE: unknown command/);
});

test("antitheft selftest runs the known-answer tests against the release TA and passes", () => {
  const r = run("selftest");
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /I\/O buffer \d+ bytes/);
  for (const name of [/SHA-512\("abc"\)/, /HMAC-SHA-512/, /Ed25519 public key, TEST 1/, /Ed25519 signature, TEST 1/, /Ed25519 verifies TEST 1/, /Ed25519 rejects a tampered signature/]) {
    assert.match(r.stdout, new RegExp(`PASS  ${name.source}`));
  }
  assert.doesNotMatch(r.stdout, /FAIL/);
  assert.match(r.stdout, /^6\/6 known-answer tests passed/m);
});

test("antitheft selftest fails (exit 1, FAIL lines) against a module that is not a working TA", () => {
  const dir = mkdtempSync(join(tmpdir(), "antitheft-selftest-"));
  try {
    const bogus = join(dir, "bogus.wasm");
    writeFileSync(bogus, misbehavingTaBytes()); // has memory, io_ptr, io_cap, but no crypto
    const r = run("selftest", "--ta", bogus);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /FAIL  SHA-512\("abc"\)/);
    assert.match(r.stdout, /^0\/6 known-answer tests passed/m);
    const missing = run("selftest", "--ta", join(dir, "missing.wasm"));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /error E_NO_TA/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
