// The conformance suite on a real Mosquitto started by the test - the external-broker path:
// (1) MQTT 5 with MQTT.js handsets and (2) MQTT 3.1.1 with the lean client, the reference
// registry in this process on that broker, every scenario (the broker restart through the
// broker's handle: without persistence it forgets sessions and retained messages);
// (3) `antitheft conformance --broker URL` as a user runs it; (4) the suite against a registry it
// knows only by URL (`antitheft registry` in a child process), as it tests a third party's -
// its ledger too, federated with the suite's two member registries (--ledger-peer-key,
// --federation-key) - and skips the ledger scenarios with a reason when not given those keys.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedSite } from "../simulator/embedded.js";
import { formatTable } from "../simulator/conformance/report.js";
import { runConformance } from "../simulator/conformance/runner.js";
import { SCENARIOS } from "../simulator/conformance/scenarios/index.js";
import { siteTarget, type TransportKind } from "../simulator/conformance/suite.js";
import { startMosquitto } from "./support/brokers.js";
import { createWorld, RegistryProcess, runCliAsync } from "./support/e2e.js";
import { needTool } from "./support/system-tools.js";
import { compileTa } from "./support/ta.js";
import { writeKeyPair } from "../registry/keys.js";

const module = compileTa();

async function fullSuite(t: TestContext, mqttVersion: 4 | 5, transport: TransportKind): Promise<void> {
  if (!needTool(t, "mosquitto")) return;
  const mosq = await startMosquitto();
  const site = await EmbeddedSite.start({ broker: mosq.url, mqttVersion, ledger: true });
  try {
    const report = await runConformance({ target: siteTarget({ site, module, transport, restartBroker: () => mosq.restart() }), scenarios: SCENARIOS, fleetSize: 10 });
    assert.deepEqual(
      report.verdicts.filter((v) => v.outcome !== "pass").map((v) => `${v.scenario}: ${v.outcome} ${v.failure?.req ?? ""} ${v.failure?.message ?? ""}`),
      [],
      formatTable(report),
    );
    assert.equal(report.mqttVersion, mqttVersion);
  } finally {
    await site.stop();
    await mosq.stop();
  }
}

test("conformance on Mosquitto, MQTT 5, MQTT.js handsets: every scenario passes", (t) => fullSuite(t, 5, "mqtt.js"));

test("conformance on Mosquitto, MQTT 3.1.1, lean-client handsets: every scenario passes", (t) => fullSuite(t, 4, "lite"));

test("antitheft conformance --broker (Mosquitto, MQTT 5): passes, writes the reports, skips what it cannot do", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const mosq = await startMosquitto();
  const dir = await mkdtemp(join(tmpdir(), "at-conformance-cli-"));
  try {
    const r = await runCliAsync(["conformance", "--broker", mosq.url, "--mqtt-version", "5", "--scenario", "theft-lock,hostile-payloads,broker-restart", "--report", dir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /theft-lock\s+PASS/);
    assert.match(r.stdout, /broker-restart\s+SKIP/); // an external broker the suite cannot restart
    const json = JSON.parse(await readFile(join(dir, "conformance.json"), "utf8")) as { broker: string; mqttVersion: number; counts: Record<string, number> };
    assert.equal(json.broker, mosq.url);
    assert.equal(json.mqttVersion, 5);
    assert.deepEqual(json.counts, { pass: 2, fail: 0, skip: 1, error: 0 });
    assert.match(await readFile(join(dir, "junit.xml"), "utf8"), /<skipped message="the target lacks: restart-broker"\/>/);
  } finally {
    await mosq.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("antitheft conformance --registry: a registry known only by its URL, broker and keys", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const mosq = await startMosquitto();
  const world = createWorld("at-conformance-3p-");
  // The federation: two member registries the suite plays, pinned by the registry, and a shared key.
  const peers = [1, 2].map((i) => writeKeyPair(join(world.dir, `peer-${i}.key`)));
  const federationKey = join(world.dir, "federation.key");
  writeFileSync(federationKey, randomBytes(32).toString("hex") + "\n");
  // A second OEM the registry pins for one TAC only (PROTOCOL.md §6.1): oem-out-of-range.
  const ranged = writeKeyPair(join(world.dir, "ranged-oem.key"));
  const registry = await RegistryProcess.start({
    world, broker: mosq.url, protocolVersion: 5, name: "third-party",
    args: ["--federation-key", federationKey, ...peers.flatMap((p, i) => ["--peer-pub", `suite-${i + 1}=${p.pubPath}`]), "--oem-pub", `${ranged.pubPath}:86123456`],
  });
  try {
    const f = world.files;
    const r = await runCliAsync([
      "conformance", "--registry", registry.url, "--broker", mosq.url, "--mqtt-version", "5",
      "--registry-pub", f.registry.pub, "--oem-key", f.oem.key, "--authority-key", f.authority.key,
      ...peers.flatMap((p) => ["--ledger-peer-key", p.keyPath]), "--federation-key", federationKey, "--ranged-oem-key", `${ranged.keyPath}:86123456`,
      "--scenario", "enrolment,theft-lock,forged-commands,forged-requests,forged-results,foreign-audience,flood,oem-out-of-range,tampered-measurement,registry-restart,ledger-federation,whole-device-flag,ledger-hostile,ledger-fork,ledger-restart,ledger-audit",
    ]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const s of ["enrolment", "theft-lock", "forged-commands", "forged-requests", "forged-results", "foreign-audience", "flood", "oem-out-of-range", "ledger-federation", "whole-device-flag", "ledger-hostile", "ledger-fork"]) assert.match(r.stdout, new RegExp(`${s}\\s+PASS`));
    // No accepted measurement and no restart command given: those scenarios cannot run; nor can
    // the storage attack on a registry whose database the suite cannot reach.
    assert.match(r.stdout, /tampered-measurement\s+SKIP/);
    assert.match(r.stdout, /registry-restart\s+SKIP/);
    assert.match(r.stdout, /ledger-restart\s+SKIP\s+\d+\s+REQ-LG-06\n\s+skipped: the target lacks: restart-registry/);
    assert.match(r.stdout, /ledger-audit\s+SKIP\s+\d+\s+REQ-LG-07\n\s+skipped: the target lacks: ledger-storage/);
    // A wrong registry key is a configuration mistake, not a broken registry: E_CONFIG, exit 2,
    // before any scenario runs (the handsets would trust another key and no lock could succeed).
    const wrong = createWorld("at-conformance-3p-wrong-");
    try {
      const bad = await runCliAsync(["conformance", "--registry", registry.url, "--broker", mosq.url, "--mqtt-version", "5", "--registry-pub", wrong.files.registry.pub, "--oem-key", f.oem.key, "--scenario", "theft-lock,ledger-federation", "--timeout", "1500"]);
      assert.equal(bad.status, 2, bad.stdout + bad.stderr);
      assert.match(bad.stderr, /error E_CONFIG: --registry-pub .* is not the key of the registry at --registry /);
      assert.doesNotMatch(bad.stdout, /theft-lock/);
    } finally {
      wrong.cleanup();
    }
    // No member keys and no ranged OEM key given: those scenarios are skipped, saying why.
    const noLedger = await runCliAsync(["conformance", "--registry", registry.url, "--broker", mosq.url, "--mqtt-version", "5", "--registry-pub", f.registry.pub, "--oem-key", f.oem.key, "--scenario", "ledger-federation,oem-out-of-range"]);
    assert.equal(noLedger.status, 0, noLedger.stdout + noLedger.stderr);
    assert.match(noLedger.stdout, /ledger-federation\s+SKIP\s+\d+\s+REQ-LG-01 REQ-LG-02 REQ-LG-03 REQ-LG-04\n\s+skipped: the target lacks: ledger/);
    assert.match(noLedger.stdout, /oem-out-of-range\s+SKIP\s+\d+\s+REQ-ID-06\n\s+skipped: the target lacks: oem-ranges/);
  } finally {
    await registry.stop();
    await mosq.stop();
    world.cleanup();
  }
});
