// `antitheft conformance` and `antitheft sim` over mutual TLS (docs/CONFORMANCE.md "Over mutual
// TLS", docs/PROTOCOL.md §2.1): a real Mosquitto with the shipped mosquitto.conf and acl-lab
// (test/support/secure-broker.ts), the registry the commands start in their own process, every
// party with its own certificate - the harness at-lab, the registry at-r-registry and
// at-l-registry, each handset its device id - issued from the broker's CA folder (--device-ca).
// The broker refuses anonymous and unknown clients (require_certificate, allow_anonymous false)
// and the ACL confines handsets to their own topics, so a handset or registry without its own
// identity could not enrol or lock: the PASS verdicts and enrolled counts below need the whole
// chain. The usage checks show the flags refused in a wrong mix, before anything connects.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SecureBroker } from "./support/secure-broker.js";
import { needTool } from "./support/system-tools.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test("sim and conformance refuse TLS flags in a wrong mix (E_USAGE, exit 2) and unreadable TLS files (E_TLS_*)", async () => {
  const plain = await run("sim", "--devices", "2", "--broker", "mqtt://127.0.0.1:1", "--ca", "/nonexistent");
  assert.equal(plain.code, 2, plain.stderr);
  assert.match(plain.stderr, /E_USAGE: --ca: only with an mqtts:\/\/ --broker/);
  const partial = await run("conformance", "--scenario", "enrolment", "--broker", "mqtts://127.0.0.1:1", "--ca", "/nonexistent", "--cert", "/x", "--key", "/y");
  assert.equal(partial.code, 2, partial.stderr);
  assert.match(partial.stderr, /E_USAGE: .*missing --device-ca/);
  const missing = await run("sim", "--devices", "2", "--broker", "mqtts://127.0.0.1:1", "--ca", "/nonexistent", "--device-ca", "/nonexistent", "--cert", "/x", "--key", "/y");
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /E_TLS_[A-Z_]+/);
});

test("conformance (enrolment, theft-lock) and sim (5 handsets, mass block) pass on Mosquitto with the shipped config and acl-lab over mutual TLS", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const b = await SecureBroker.start({ acl: "acl-lab" });
  t.after(() => b.stop());
  const lab = await b.issue("lab", { cn: "at-lab" });
  const tls = ["--broker", b.url, "--mqtt-version", "5", "--ca", b.caFile, "--device-ca", b.dir, "--cert", lab.cert, "--key", lab.key];

  const conf = await run("conformance", "--scenario", "enrolment,theft-lock", ...tls);
  assert.equal(conf.code, 0, `${conf.stdout}\n${conf.stderr}`);
  for (const name of ["enrolment", "theft-lock"]) assert.match(conf.stdout, new RegExp(`${name}\\s.*PASS`), conf.stdout);
  assert.doesNotMatch(conf.stdout, /FAIL|ERROR/);

  const sim = await run("sim", "--devices", "5", ...tls);
  assert.equal(sim.code, 0, `${sim.stdout}\n${sim.stderr}`);
  assert.match(sim.stdout, /mass-block\s.*PASS/, sim.stdout);
  assert.match(sim.stdout, /antitheft sim: 5 handsets/);
  // All five handsets enrolled and locked: one lock latency per handset.
  assert.match(sim.stdout, /lock_latency_ms: .*\(n=5\)/, sim.stdout);

  // Negative control: a harness certificate from the same CA whose CN the ACL does not know
  // (at-intruder instead of at-lab). The broker accepts the connection but lets it read nothing,
  // so the suite sees no enrolment and fails: the PASS above needs the at-lab grant of acl-lab.
  const intruder = await b.issue("intruder", { cn: "at-intruder" });
  const denied = tls.map((a) => (a === lab.cert ? intruder.cert : a === lab.key ? intruder.key : a));
  const refused = await run("conformance", "--scenario", "enrolment", "--timeout", "1000", ...denied);
  assert.equal(refused.code, 1, `${refused.stdout}\n${refused.stderr}`);
  assert.match(refused.stdout, /enrolment\s.*(FAIL|ERROR)/, refused.stdout);
});

// The ledger scenarios over mutual TLS: the suite's two member registries connect with their own
// ledger-link certificates (CN at-l-conformance-peer-1/-2, issued from --device-ca; acl-lab grants
// them the ledger topics), the in-process registry's ledger link as at-l-registry. Before they had
// an identity these scenarios were reported SKIP over TLS; now each must PASS.
const LEDGER_SCENARIOS = ["ledger-federation", "whole-device-flag", "ledger-hostile", "ledger-get", "ledger-tlog", "ledger-fork", "ledger-restart", "ledger-audit"];

test("conformance: the ledger scenarios (REQ-LG) pass on Mosquitto with the shipped config and acl-lab over mutual TLS", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const b = await SecureBroker.start({ acl: "acl-lab" });
  t.after(() => b.stop());
  const lab = await b.issue("lab", { cn: "at-lab" });
  const tls = ["--broker", b.url, "--mqtt-version", "5", "--ca", b.caFile, "--device-ca", b.dir, "--cert", lab.cert, "--key", lab.key];

  const conf = await run("conformance", "--scenario", LEDGER_SCENARIOS.join(","), ...tls);
  assert.equal(conf.code, 0, `${conf.stdout}\n${conf.stderr}`);
  for (const name of LEDGER_SCENARIOS) assert.match(conf.stdout, new RegExp(`^\\s*${name}\\s.*PASS`, "m"), conf.stdout);
  assert.doesNotMatch(conf.stdout, /FAIL|ERROR|SKIP/);
  for (const req of ["REQ-LG-01", "REQ-LG-05", "REQ-LG-08", "REQ-LG-09"]) assert.match(conf.stdout, new RegExp(req), conf.stdout);

  // Negative control: the same broker with the two members' ACL blocks removed (SIGHUP re-reads
  // the acl file). Their certificates still connect, but the broker refuses what they publish on
  // the ledger topics (MQTT 5 PUBACK 0x87), so the federation scenario cannot pass.
  const aclPath = join(b.dir, "acl");
  const acl = readFileSync(aclPath, "utf8");
  const stripped = acl.replace(/^user at-l-conformance-peer-[12]\ntopic readwrite at\/v1\/ledger\/#\n?/gm, "");
  assert.notEqual(stripped, acl, "the members' blocks were in acl-lab");
  writeFileSync(aclPath, stripped);
  await b.reload();
  const denied = await run("conformance", "--scenario", "ledger-federation", "--timeout", "2000", ...tls);
  assert.equal(denied.code, 1, `${denied.stdout}\n${denied.stderr}`);
  assert.match(denied.stdout, /ledger-federation\s.*(FAIL|ERROR)/, denied.stdout);
  assert.match(denied.stdout, /Not authorized/, denied.stdout);
});
