// A bad IMEI is refused the same way by every command that takes one: E_USAGE, exit 2, with a
// message naming the flag - before any key is read or any registry is contacted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));
const BAD = "490154203237519"; // the check digit of 49015420323751 is 8

test("every command refuses a bad --imei with E_USAGE and exit 2", () => {
  const registry = ["--registry", "http://127.0.0.1:9"];
  const commands: string[][] = [
    ["owner", "status", ...registry],
    ["owner", "report-stolen", ...registry, "--key", "k"],
    ["owner", "found", ...registry, "--key", "k"],
    ["owner", "claim-code", ...registry, "--key", "k"],
    ["authority", "flag", ...registry, "--key", "k"],
    ["authority", "clear", ...registry, "--key", "k"],
    ["authority", "reset-owner", ...registry, "--key", "k"],
    ["owner", "transfer", ...registry, "--key", "k", "--to", "p"],
    ["owner", "claim", ...registry, "--key", "k", "--code", "c", "--proof", "00"],
    ["factory", "provision", "--dir", "/nonexistent/x", "--oem-key", "k", "--registry-pub", "p", "--model", "M"],
    ["verify-flag", "--bundle", "b", "--log-key", "k", "--federation-key", "f"],
  ];
  for (const c of commands) {
    const r = spawnSync(process.execPath, [cli, ...c, "--imei", BAD], { encoding: "utf8" });
    assert.equal(r.status, 2, `${c.slice(0, 2).join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^error E_USAGE: --imei must be 15 digits with a valid check digit/, c.slice(0, 2).join(" "));
  }
});
