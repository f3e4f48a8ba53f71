// The owner, authority and registry commands of the CLI, run as child processes against a
// registry and broker in this process: keys, claim with a handset's proof, reports, status,
// found, an authority's flag the owner cannot lift, and clear failures with stable codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { statSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { toHex } from "../attestation/index.js";
import { claimProofFor } from "./support/claim.js";
import { loadPublicKey } from "../registry/keys.js";
import { freshImei, startHarness, waitFor } from "./support/registry-sim.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test("--help for every registry, owner and authority command", async () => {
  const paths = [
    ["registry"], ["registry", "keygen"],
    ["owner", "keygen"], ["owner", "claim"], ["owner", "report-stolen"], ["owner", "report-lost"], ["owner", "found"], ["owner", "transfer"], ["owner", "status"],
    ["authority", "keygen"], ["authority", "flag"], ["authority", "clear"], ["authority", "reset-owner"], ["owner", "claim-code"],
  ];
  const results = await Promise.all(paths.map((p) => run(...p, "--help")));
  results.forEach((r, i) => {
    assert.equal(r.code, 0, `${paths[i]!.join(" ")}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: antitheft ${paths[i]!.join(" ")}`), paths[i]!.join(" "));
  });
  const top = await run("--help");
  for (const p of paths) assert.ok(top.stdout.includes(p.join(" ")), p.join(" "));
});

test("owner keygen, claim, report-stolen, status, found - and refusals with reasons", async (t) => {
  const dir = (await import("./support/registry-sim.js")).tempDir();
  t.after(() => dir.cleanup());
  const ownerKey = join(dir.path, "owner.key");
  const authKey = join(dir.path, "authority.key");
  const k = await run("owner", "keygen", "--out", ownerKey);
  assert.equal(k.code, 0, k.stderr);
  assert.match(k.stdout, /wrote .*owner\.key .* and .*owner\.pub .*; kid [0-9a-f]{32}/);
  assert.equal(statSync(ownerKey).mode & 0o777, 0o600);
  assert.match(readFileSync(join(dir.path, "owner.pub"), "utf8"), /BEGIN PUBLIC KEY/);
  const again = await run("owner", "keygen", "--out", ownerKey);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error E_EXISTS: .*owner\.key exists/);
  assert.equal((await run("authority", "keygen", "--out", authKey)).code, 0);

  const h = await startHarness({ authorities: [loadPublicKey(join(dir.path, "authority.pub"))] });
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const imei = hs.ta.id.imei;
  const reg = ["--registry", h.url];
  const cc = await run("owner", "claim-code", ...reg, "--key", ownerKey, "--imei", imei);
  assert.equal(cc.code, 0, cc.stderr);
  const code = /claim code: +([0-9A-Z]{5}-[0-9A-Z]{5})/.exec(cc.stdout)?.[1];
  assert.ok(code, cc.stdout);
  const proof = toHex(claimProofFor(hs.ta, code));

  const badProof = await run("owner", "claim", ...reg, "--key", ownerKey, "--imei", imei, "--code", code, "--proof", toHex(hs.ta.attest(new Uint8Array(32))));
  assert.equal(badProof.code, 1);
  assert.match(badProof.stderr, /^error E_BAD_PROOF: claim refused by the registry \(HTTP 403\)/);

  const claim = await run("owner", "claim", ...reg, "--key", ownerKey, "--imei", imei, "--code", code.toLowerCase(), "--proof", proof);
  assert.equal(claim.code, 0, claim.stderr);
  assert.match(claim.stdout, new RegExp(`claim accepted for IMEI ${imei}\\n  equipment status: WHITELISTED`));

  const stolen = await run("owner", "report-stolen", ...reg, "--key", ownerKey, "--imei", imei, "--message", "Stolen. Reward.", "--contact", "+15550100");
  assert.equal(stolen.code, 0, stolen.stderr);
  assert.match(stolen.stdout, /equipment status: BLACKLISTED/);
  assert.match(stolen.stdout, /command issued: +lock \(sequence 1\)/);
  await waitFor(() => hs.ta.lockState === 2, "the handset locks");
  await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SUCCEEDED", "the job completes");

  // Anyone: flagged or not, nothing else (PROTOCOL.md §6.2 "Device views").
  const anyone = await run("owner", "status", ...reg, "--imei", imei);
  assert.equal(anyone.code, 0, anyone.stderr);
  assert.equal(anyone.stdout, `IMEI ${imei}: FLAGGED (reported stolen or lost)\n  (the owner's view needs --key)\n`);
  const status = await run("owner", "status", ...reg, "--imei", imei, "--key", ownerKey);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`IMEI ${imei}: BLACKLISTED`));
  assert.match(status.stdout, /lock state: +locked/);
  assert.match(status.stdout, /flags: +stolen \(by owner/);
  assert.match(status.stdout, /pending: +none/);
  assert.match(status.stdout, /command 1: +lock SUCCEEDED/);
  const json = await run("owner", "status", ...reg, "--imei", imei, "--key", ownerKey, "--json");
  assert.equal(JSON.parse(json.stdout).status, "BLACKLISTED");

  // The authority flags it too; the owner's found is then refused, with the reason.
  const flag = await run("authority", "flag", ...reg, "--key", authKey, "--imei", imei, "--reason", "case 7");
  assert.equal(flag.code, 0, flag.stderr);
  const found1 = await run("owner", "found", ...reg, "--key", ownerKey, "--imei", imei);
  assert.equal(found1.code, 1);
  assert.match(found1.stderr, /^error E_FLAGGED_BY_OTHER: found refused by the registry \(HTTP 409\): .*authority/);
  const clear = await run("authority", "clear", ...reg, "--key", authKey, "--imei", imei);
  assert.equal(clear.code, 0, clear.stderr);
  assert.match(clear.stdout, /flags cleared: +authority/);
  const found = await run("owner", "found", ...reg, "--key", ownerKey, "--imei", imei);
  assert.equal(found.code, 0, found.stderr);
  assert.match(found.stdout, /equipment status: WHITELISTED\n  command issued: +unlock/);
  await waitFor(() => hs.ta.lockState === 0, "the handset unlocks");

  // A mass block from a file: the known IMEI is flagged and locked, the unknown one is listed.
  const stranded = freshImei();
  const list = join(dir.path, "imeis.txt");
  writeFileSync(list, `# shipment 7\n${imei}\n\n${stranded}  # not ours\n`);
  const batch = await run("authority", "flag", ...reg, "--key", authKey, "--imeis", list, "--message", "Blocked");
  assert.equal(batch.code, 0, batch.stderr);
  assert.match(batch.stdout, /^flag-batch accepted: 1 of 2 IMEIs flagged/);
  assert.match(batch.stdout, new RegExp(`not enrolled at this registry \\(1\\): ${stranded}`));
  await waitFor(() => hs.ta.lockState === 2, "the handset locks");
  writeFileSync(list, `${imei}\n4901542032375\n`);
  const badList = await run("authority", "flag", ...reg, "--key", authKey, "--imeis", list);
  assert.equal(badList.code, 2, badList.stderr);
  assert.match(badList.stderr, /^error E_USAGE: --imeis .*entry 2/);
  // Clearing the last flag unlocks (the lock follows the network status); found has nothing left.
  const lifted = await run("authority", "clear", ...reg, "--key", authKey, "--imei", imei);
  assert.equal(lifted.code, 0, lifted.stderr);
  assert.match(lifted.stdout, /command issued: +unlock/);
  await waitFor(() => hs.ta.lockState === 0, "the handset unlocks");
  const nothing = await run("owner", "found", ...reg, "--key", ownerKey, "--imei", imei);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stderr, /^error E_NOT_FLAGGED: /);

  // Someone else's key, a malformed IMEI, an unknown IMEI, an unreachable registry, no key file.
  const stranger = join(dir.path, "stranger.key");
  await run("owner", "keygen", "--out", stranger);
  const [notOwner, badImei, unknown, down, noKey] = await Promise.all([
    run("owner", "report-stolen", ...reg, "--key", stranger, "--imei", imei),
    run("owner", "found", ...reg, "--key", ownerKey, "--imei", "490154203237519"),
    run("owner", "status", ...reg, "--imei", "490154203237518", "--key", ownerKey),
    run("owner", "status", "--registry", "http://127.0.0.1:1", "--imei", imei),
    run("owner", "report-lost", ...reg, "--key", join(dir.path, "missing.key"), "--imei", imei),
  ]);
  assert.equal(notOwner.code, 1, notOwner.stderr);
  assert.match(notOwner.stderr, /^error E_NOT_OWNER: /);
  assert.equal(badImei.code, 2, badImei.stderr);
  assert.match(badImei.stderr, /^error E_USAGE: --imei must be 15 digits with a valid check digit/);
  assert.equal(unknown.code, 1, unknown.stderr);
  assert.match(unknown.stderr, /^error E_UNKNOWN_DEVICE: /);
  assert.equal(down.code, 1, down.stderr);
  assert.match(down.stderr, /^error E_CONFIG: cannot reach the registry/);
  assert.equal(noKey.code, 1, noKey.stderr);
  assert.match(noKey.stderr, /^error E_CONFIG: cannot read key file/);
});

test("registry keygen and a registry started with missing or bad options exit with a reason", async (t) => {
  const dir = (await import("./support/registry-sim.js")).tempDir();
  t.after(() => dir.cleanup());
  const key = join(dir.path, "registry.key");
  const k = await run("registry", "keygen", "--out", key);
  assert.equal(k.code, 0, k.stderr);
  assert.equal(statSync(key).mode & 0o777, 0o600);
  const common = ["--broker", "mqtt://127.0.0.1:1", "--key", key];
  const [noDb, noOem, badOem, badHttp] = await Promise.all([
    run("registry", ...common, "--oem-pub", join(dir.path, "registry.pub")),
    run("registry", ...common, "--db", join(dir.path, "r.sqlite")),
    run("registry", ...common, "--db", join(dir.path, "r.sqlite"), "--oem-pub", key),
    run("registry", ...common, "--db", join(dir.path, "r.sqlite"), "--oem-pub", join(dir.path, "registry.pub"), "--http", "nope"),
  ]);
  assert.equal(noDb.code, 2, noDb.stderr);
  assert.match(noDb.stderr, /^error E_USAGE: --db is required/);
  assert.equal(noOem.code, 2, noOem.stderr);
  assert.match(noOem.stderr, /at least one --oem-pub/);
  assert.equal(badOem.code, 1, badOem.stderr);
  assert.match(badOem.stderr, /^error E_CONFIG: .*registry\.key is not an Ed25519 public key/);
  assert.equal(badHttp.code, 2, badHttp.stderr);
  assert.match(badHttp.stderr, /--http must be HOST:PORT/);
});
