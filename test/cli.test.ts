import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

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

test("antitheft selftest loads the release TA", () => {
  const r = run("selftest");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /TA loaded/);
});
