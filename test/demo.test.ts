// `antitheft demo` (npm start), run as a user runs it: the key steps of the story appear in
// order on a timeline, it exits 0 and leaves no temp folder behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { CLI } from "./support/e2e.js";

test("antitheft demo: enrol, claim, stolen -> locked with the message -> BLACKLISTED, found -> unlocked -> WHITELISTED", () => {
  const r = spawnSync(process.execPath, [CLI, "demo"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  const out = r.stdout;
  const lines = out.split("\n");

  // Every step of the timeline carries its elapsed time, and time never goes backwards.
  const steps = lines.filter((l) => l.startsWith("+"));
  assert.ok(steps.length >= 20, out);
  const times = steps.map((l) => {
    const m = /^\+\s*(\d+) ms  \S/.exec(l);
    assert.ok(m, `a timeline line: ${l}`);
    return Number(m[1]);
  });
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!, `time goes forward: ${steps[i - 1]} / ${steps[i]}`);

  const expected: RegExp[] = [
    /broker\s+embedded MQTT broker .* listening on mqtt:\/\/127\.0\.0\.1:\d+/,
    /registry\s+started: SQLite /,
    /factory\s+handset-1 provisioned: IMEI \d{15}\b/,
    /factory\s+handset-3 provisioned/,
    /registry\s+handset-\d enrolled \(IMEI \d{15}\b\)/,
    /network\s+equipment status of IMEI \d{15}\b .*: WHITELISTED/,
    /owner\s+alice claims handset-2/,
    /registry\s+claim accepted: handset-2 belongs to alice/,
    /owner\s+alice reports handset-2 stolen: "This phone was reported stolen\. Please hand it in\.", contact \+44 20 7946 0958/,
    /registry\s+handset-2 flagged stolen/,
    /handset-2 its Trusted App verified command #1/,
    /handset-2 LOCKED by its Trusted App/,
    /\| This phone was reported stolen\. Please hand it in\. \|/,
    /\| Contact: \+44 20 7946 0958 +\|/,
    /registry\s+handset-2 confirmed the lock: result SUCCEEDED, LwM2M code 2/,
    /network\s+equipment status .*: BLACKLISTED/,
    /owner\s+alice reports handset-2 found/,
    /handset-2 its Trusted App verified command #2/,
    /handset-2 unlocked/,
    /registry\s+handset-2 confirmed the unlock: result SUCCEEDED, LwM2M code 3/,
    /network\s+equipment status .*: WHITELISTED/,
    /^Summary$/,
    /network\s+IMEI \d{15}\b: WHITELISTED -> BLACKLISTED -> WHITELISTED/,
    /other phones\s+handset-1, handset-3: never locked/,
  ];
  let at = 0;
  for (const re of expected) {
    const i = lines.findIndex((l, n) => n >= at && re.test(l));
    assert.ok(i >= 0, `expected ${re} after line ${at}:\n${out}`);
    at = i + 1;
  }
  for (const name of ["handset-1", "handset-2", "handset-3"]) {
    assert.equal(lines.filter((l) => new RegExp(`registry\\s+${name} enrolled`).test(l)).length, 1, `${name} enrolled once`);
  }
  assert.equal(lines.filter((l) => /LOCKED by its Trusted App/.test(l)).length, 1, "exactly one phone locked, once");
  assert.equal(lines.filter((l) => /confirmed the lock/.test(l)).length, 1, "the lock confirmed once");

  const tmp = /temp folder (\S+) removed/.exec(out)?.[1];
  assert.ok(tmp, "the summary names the temp folder");
  assert.equal(existsSync(tmp), false, `${tmp} was removed`);
});
