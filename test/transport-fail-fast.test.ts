// A party whose identity the broker refuses fails fast; a broker that is only away is retried
// (docs/PROTOCOL.md §2.1, docs/OPERATIONS.md exit statuses). Through the CLI, on a real Mosquitto
// with the shipped configuration (deploy/mosquitto/mosquitto.conf and acl; mosquitto-password.conf
// for the password refusal), started by the test.
//
// Failing first: before this rule, MqttService and the agent's uplink retried a TLS alert every
// second forever, and MQTT.js swallowed a CONNACK refusal without ever resolving start(): each
// refused process below ran until the harness killed it at its deadline (code null, no `error
// E_...` line), so every `code === 2` assertion failed. The transient case is the control: the
// same registry against a port nobody listens on must keep retrying, not exit.
// Waits are conditions with deadlines; nothing asserts speed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeKeyPair } from "../registry/keys.js";
import { freePort } from "./support/brokers.js";
import { SecureBroker } from "./support/secure-broker.js";
import { hasTool, needTool } from "./support/system-tools.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));

interface Exit {
  /** The exit status, or null when the process was still running at the deadline (then killed). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI until it exits or `deadlineMs` passes (then SIGTERM, and code null), or until
 * `stopWhen(stdout)` holds (then SIGTERM too: the process was still running, code null).
 */
function runCli(args: string[], deadlineMs: number, stopWhen?: (stdout: string) => boolean): Promise<Exit> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let stoppedByUs = false;
    const stop = () => {
      if (stoppedByUs || p.exitCode !== null) return;
      stoppedByUs = true;
      p.kill("SIGTERM");
      setTimeout(() => p.kill("SIGKILL"), 5000).unref();
    };
    const timer = setTimeout(stop, deadlineMs);
    p.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (stopWhen?.(stdout)) stop();
    });
    p.stderr.on("data", (d: Buffer) => void (stderr += d.toString()));
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: stoppedByUs ? null : code, stdout, stderr });
    });
  });
}

describe("fail fast on a refused transport identity, retry a broker that is away", () => {
  const available = hasTool("mosquitto");
  let broker: SecureBroker;
  let pwBroker: SecureBroker;
  let dir: string;
  let common: string[];
  const DEADLINE = 30_000;

  before(async () => {
    if (!available) return;
    dir = mkdtempSync(join(tmpdir(), "at-fail-fast-"));
    const key = writeKeyPair(join(dir, "registry.key"));
    common = ["--key", key.keyPath, "--oem-pub", key.pubPath, "--http", "127.0.0.1:0", "--mqtt-version", "5", "--log", "json"];
    broker = await SecureBroker.start({ acl: "acl" });
    pwBroker = await SecureBroker.start({ mode: "password", passwords: { "at-r-registry": "right-password" } });
  });
  after(async () => {
    await broker?.stop();
    await pwBroker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  const registry = (extra: string[], url = broker.url) => runCli(["registry", "--broker", url, "--db", join(dir, `r${++n}.sqlite`), ...common, ...extra], DEADLINE);

  test("control: the registry with its genuine certificate starts and stays up", async (t) => {
    if (!needTool(t, "mosquitto")) return;
    const id = await broker.issue("genuine", { cn: "at-r-registry" });
    const r = await runCli(["registry", "--broker", broker.url, "--db", join(dir, "genuine.sqlite"), ...common, "--ca", broker.caFile, "--cert", id.cert, "--cert-key", id.key], DEADLINE, (out) => out.includes('"registry.started"'));
    assert.equal(r.code, null, `still running when stopped:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /"registry\.started"/);
  });

  test("registry: a client certificate from an unknown CA -> E_TLS_UNKNOWN_CA, exit 2", async (t) => {
    if (!needTool(t, "mosquitto")) return;
    const id = await broker.issueUnderUnknownCa("unknown-ca", "at-r-registry");
    const r = await registry(["--ca", broker.caFile, "--cert", id.cert, "--cert-key", id.key]);
    assert.equal(r.code, 2, `exited on its own with status 2:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^error E_TLS_UNKNOWN_CA: the broker at mqtts:\/\/127\.0\.0\.1:\d+ refused our client certificate: it is not issued by a CA the server trusts$/m);
    assert.doesNotMatch(r.stdout, /"registry\.started"/);
  });

  test("registry: a revoked client certificate -> E_TLS_CERT_REVOKED, exit 2", async (t) => {
    if (!needTool(t, "mosquitto")) return;
    const id = await broker.issue("revoked", { cn: "at-r-registry" });
    await broker.revoke(id);
    const r = await registry(["--ca", broker.caFile, "--cert", id.cert, "--cert-key", id.key]);
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^error E_TLS_CERT_REVOKED: the broker at \S+ refused our client certificate: it is revoked$/m);
  });

  test("registry: a broker whose certificate does not chain to --ca -> E_TLS_UNKNOWN_CA, exit 2", async (t) => {
    if (!needTool(t, "mosquitto")) return;
    const id = await broker.issue("other-ca-trust", { cn: "at-r-registry" });
    // The password broker's CA: a real CA, but not the one that issued this broker's certificate.
    const r = await registry(["--ca", pwBroker.caFile, "--cert", id.cert, "--cert-key", id.key]);
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^error E_TLS_UNKNOWN_CA: the broker at \S+ presented a certificate that does not chain to the CA given with --ca/m);
  });

  test("registry: a wrong password (CONNACK refusal) -> E_MQTT_NOT_AUTHORIZED, exit 2", async (t) => {
    if (!needTool(t, "mosquitto", "mosquitto_passwd")) return;
    const r = await registry(["--ca", pwBroker.caFile, "--username", "at-r-registry", "--password", "wrong-password"], pwBroker.url);
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^error E_MQTT_NOT_AUTHORIZED: the broker at \S+ refused this identity: Connection refused: (Not authorized|Bad User Name or Password)$/m);
  });

  test("registry: no broker listening (connection refused) is transient: it keeps retrying", async (t) => {
    if (!needTool(t, "mosquitto")) return;
    const id = await broker.issue("away", { cn: "at-r-registry" });
    const port = await freePort();
    // Three refused attempts seen, then we stop it: it was still running.
    const r = await runCli(["registry", "--broker", `mqtts://127.0.0.1:${port}`, "--db", join(dir, "away.sqlite"), ...common, "--ca", broker.caFile, "--cert", id.cert, "--cert-key", id.key], DEADLINE, (out) => (out.match(/"mqtt\.error"/g) ?? []).length >= 3);
    assert.equal(r.code, null, `still retrying when stopped:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /ECONNREFUSED/);
    // Stopped by our SIGTERM while it was still trying to start; no transport refusal reported.
    assert.match(r.stderr, /^error E_STOPPED: stopped by SIGTERM while starting$/m);
    assert.doesNotMatch(r.stderr, /E_TLS_|E_MQTT_/);
  });

  test("agent: the handset's factory certificate, revoked -> E_TLS_CERT_REVOKED, exit 2", async (t) => {
    if (!needTool(t, "mosquitto")) return;
    const oem = writeKeyPair(join(dir, "oem.key"));
    const reg = writeKeyPair(join(dir, "agent-registry.key"));
    const phone = join(dir, "phone");
    const p = await runCli(["factory", "provision", "--dir", phone, "--imei", "490154203237518", "--oem-key", oem.keyPath, "--registry-pub", reg.pubPath, "--model", "TLS Phone", "--tls-ca", broker.dir], DEADLINE);
    assert.equal(p.code, 0, p.stderr);
    await broker.revoke({ cert: join(phone, "tls-client.crt"), key: join(phone, "tls-client.key") });
    const a = await runCli(["agent", "--dir", phone, "--broker", broker.url, "--mqtt-version", "5", "--log", "json"], DEADLINE);
    assert.equal(a.code, 2, `${a.stdout}\n${a.stderr}`);
    assert.match(a.stderr, /^error E_TLS_CERT_REVOKED: the broker at \S+ refused our client certificate: it is revoked$/m);
    assert.match(a.stdout, /"agent\.refused"/);
  });
});
