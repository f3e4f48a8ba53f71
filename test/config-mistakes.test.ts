// Configuration mistakes are reported as such - exit 2, E_CONFIG, naming the option - and not as
// failures of the registry under test or under audit (cli/preflight.ts):
// - audit with a --pub that is not the registry's key (before: every head "fails its signature",
//   exit 1, as if the registry had forged its log);
// - audit of a registry that keeps no ledger (before: "unreachable", exit 3, naming a ledger URL
//   that does not exist);
// - conformance with a --registry-pub that is not the registry's key (before: every scenario
//   fails, as if the registry were broken).
// Positive control: the same audit with the right key and a registry that keeps a ledger passes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startAedes, type AedesHandle } from "./support/brokers.js";
import { createWorld, RegistryProcess, runCli, type World } from "./support/e2e.js";

describe("configuration mistakes", () => {
  let world: World;
  let broker: AedesHandle;
  let plain: RegistryProcess;
  let withLedger: RegistryProcess;

  before(async () => {
    world = createWorld("at-config-");
    broker = await startAedes();
    plain = await RegistryProcess.start({ world, broker: broker.url, protocolVersion: 4, name: "plain", db: join(world.dir, "plain.sqlite") });
    const fk = join(world.dir, "federation.key");
    writeFileSync(fk, randomBytes(32).toString("hex") + "\n");
    withLedger = await RegistryProcess.start({ world, broker: broker.url, protocolVersion: 4, name: "ledgered", db: join(world.dir, "ledger.sqlite"), args: ["--federation-key", fk] });
  });

  after(async () => {
    await plain?.stop();
    await withLedger?.stop();
    await broker?.stop();
    world?.cleanup();
  });

  test("audit: a --pub of another key is E_CONFIG (exit 2) naming --pub, before anything is audited", () => {
    const r = runCli(["audit", "--registry", withLedger.url, "--pub", world.files.authority.pub]);
    assert.equal(r.status, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /^error E_CONFIG: --pub .*authority\.pub is not the key of the registry at --registry http:\/\/127\.0\.0\.1:\d+: it serves the key with kid [0-9a-f]{32}, the file holds kid [0-9a-f]{32}/);
    assert.equal(r.stdout, "", "nothing was audited");
  });

  test("audit of a registry without a ledger is E_CONFIG (exit 2) saying so", () => {
    const r = runCli(["audit", "--registry", plain.url, "--pub", world.files.registry.pub]);
    assert.equal(r.status, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /^error E_CONFIG: the registry at --registry http:\/\/\S+ keeps no ledger \(it runs without --federation-key\)/);
  });

  test("positive control: the right key and a registry with a ledger audit as consistent (exit 0)", () => {
    const r = runCli(["audit", "--registry", withLedger.url, "--pub", world.files.registry.pub]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /consistent/);
  });

  test("conformance with a --registry-pub of another key is E_CONFIG (exit 2) naming --registry-pub; no scenario runs", () => {
    const r = runCli(["conformance", "--registry", plain.url, "--registry-pub", world.files.authority.pub, "--broker", broker.url, "--oem-key", world.files.oem.key, "--scenario", "theft-lock"], 60_000);
    assert.equal(r.status, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /error E_CONFIG: --registry-pub .*authority\.pub is not the key of the registry at --registry /);
    assert.doesNotMatch(r.stdout, /FAIL/);
  });
});
