// The deployment files in deploy/, checked by their own tools where the machine has them and
// exercised by the exact commands they run, against this build:
// - antitheft-registry.service: `systemd-analyze verify` (with a negative control: a copy with a
//   misspelt key is reported), then its ExecStart with registry.example.json;
// - Containerfile: what it copies out of the build exists; its ENTRYPOINT + CMD run with the
//   compose configuration; its HEALTHCHECK passes against that registry and fails once it stops;
// - compose.yaml: Mosquitto's command with compose-mosquitto.conf, and the registry's command
//   with the configuration file it mounts (registry.compose.json), the registry reaching the
//   broker over MQTT 5.
// The container paths (/opt/antitheft, /etc/antitheft, /var/lib/antitheft, /mosquitto) are mapped
// to this checkout and a temporary folder, host names and ports to loopback and free ports: that
// mapping is all that differs from what the container runtime or systemd would run.
// Building the image itself needs a container engine, which CI does not have (hadolint is not in
// Debian either); the image's instructions are checked here as far as they can be without one.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeKeyPair } from "../registry/keys.js";
import { freePort, waitUntilAccepting } from "./support/brokers.js";
import { waitFor } from "./support/e2e.js";
import { needTool } from "./support/system-tools.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DEPLOY = join(ROOT, "deploy");
const read = (f: string) => readFileSync(join(DEPLOY, f), "utf8");

// ---- reading the files ---------------------------------------------------------------------

/** Containerfile instructions (continuation lines joined), as [keyword, rest]. */
function instructions(text: string): [string, string][] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const m = /^([A-Z]+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`not an instruction: ${l}`);
      return [m[1]!, m[2]!];
    });
}

/** The exec form ["a", "b"] of an instruction (the only form the Containerfile may use). */
const execForm = (rest: string): string[] => JSON.parse(rest) as string[];

/** compose.yaml, the subset it is written in: services -> { command: [...] flow list, volumes: [...] }. */
function composeServices(text: string): Map<string, { command: string[]; volumes: string[] }> {
  const services = new Map<string, { command: string[]; volumes: string[] }>();
  let section = "";
  let service: { command: string[]; volumes: string[] } | undefined;
  let key = "";
  for (const raw of text.split("\n")) {
    if (!raw.trim() || raw.trim().startsWith("#")) continue;
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    if (indent === 0) {
      section = line.replace(/:$/, "");
      service = undefined;
    } else if (section === "services" && indent === 2) {
      service = { command: [], volumes: [] };
      services.set(line.replace(/:$/, ""), service);
    } else if (service && indent === 4) {
      const m = /^([a-z_]+):\s*(.*)$/.exec(line)!;
      key = m[1]!;
      if (key === "command") service.command = JSON.parse(m[2]!) as string[];
    } else if (service && indent === 6 && key === "volumes" && line.startsWith("- ")) {
      service.volumes.push(line.slice(2));
    }
  }
  return services;
}

/** The host file a service mounts at `target` (volumes "./host:/target[:ro]", relative to deploy/). */
function mountOf(volumes: string[], target: string): string {
  const v = volumes.map((x) => x.split(":")).find((p) => p[1] === target);
  assert.ok(v, `a volume mounted at ${target}`);
  return join(DEPLOY, v[0]!);
}

// ---- running them --------------------------------------------------------------------------

interface Proc {
  readonly p: ChildProcess;
  out(): string;
  exited: Promise<number | null>;
}

function start(cmd: string, args: string[]): Proc {
  const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout!.on("data", (d) => (out += d));
  p.stderr!.on("data", (d) => (out += d));
  return { p, out: () => out, exited: new Promise((r) => p.once("exit", (c) => r(c))) };
}

async function stop(x: Proc): Promise<number | null> {
  if (x.p.exitCode === null && x.p.signalCode === null) x.p.kill("SIGTERM");
  return x.exited;
}

describe("deploy/", () => {
  let tmp: string;
  let mosquitto: Proc | undefined;
  let brokerPort = 0;
  const procs: Proc[] = [];

  /** A container path mapped to the test's folders. */
  const mapPath = (s: string): string =>
    s.replace(/^\/opt\/antitheft\//, ROOT).replace(/^\/etc\/antitheft\//, `${tmp}/etc/`).replace(/^\/var\/lib\/antitheft\//, `${tmp}/var/`).replace(/^\/mosquitto\/data\//, `${tmp}/mosquitto-data/`);

  /** A registry configuration file with container paths, host names and ports mapped; returns its path. */
  function mapConfig(file: string, httpPort: number, name: string): string {
    const c = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(c)) {
      const one = (x: unknown) => (typeof x === "string" ? mapPath(x) : x);
      out[k] = Array.isArray(v) ? v.map(one) : one(v);
    }
    out.broker = String(c.broker).replace(/\/\/[^/:]+:1883$/, `//127.0.0.1:${brokerPort}`);
    out.http = String(c.http).replace(/^[^:]+:8080$/, `127.0.0.1:${httpPort}`);
    assert.notEqual(out.http, c.http, "the configuration listens on port 8080");
    const path = join(tmp, `${name}.json`);
    writeFileSync(path, JSON.stringify(out));
    return path;
  }

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "at-deploy-"));
    for (const d of ["etc", "var", "mosquitto-data"]) mkdirSync(join(tmp, d));
    writeKeyPair(join(tmp, "etc", "registry.key"));
    writeKeyPair(join(tmp, "etc", "oem.key"));
    writeKeyPair(join(tmp, "etc", "authority.key"));
  });

  after(async () => {
    for (const p of procs) p.p.kill("SIGKILL");
    if (mosquitto) await stop(mosquitto);
    rmSync(tmp, { recursive: true, force: true });
  });

  test("compose.yaml: Mosquitto runs with compose-mosquitto.conf", async (t) => {
    if (!needTool(t, "mosquitto")) return;
    const svc = composeServices(read("compose.yaml")).get("mosquitto");
    assert.ok(svc, "a mosquitto service");
    const [cmd, ...args] = svc.command;
    assert.equal(cmd, "mosquitto");
    const target = args[args.indexOf("-c") + 1]!;
    const conf = readFileSync(mountOf(svc.volumes, target), "utf8");
    brokerPort = await freePort();
    const mapped = conf.replace(/^listener 1883 0\.0\.0\.0$/m, `listener ${brokerPort} 127.0.0.1`).replace(/^persistence_location (\S+)$/m, (_, p: string) => `persistence_location ${mapPath(p)}`);
    assert.notEqual(mapped, conf);
    const confPath = join(tmp, "mosquitto.conf");
    writeFileSync(confPath, mapped);
    mosquitto = start("mosquitto", ["-c", confPath]);
    await waitUntilAccepting("127.0.0.1", brokerPort, 10_000, () => mosquitto!.p.exitCode === null);
  });

  test("Containerfile: its ENTRYPOINT + CMD run the registry with the compose configuration; HEALTHCHECK passes, and fails once it stops", async (t) => {
    if (!needTool(t, "mosquitto")) return;
    const ins = instructions(read("Containerfile"));
    // What the runtime stage copies out of the build stage exists after `npm run build`.
    for (const [, rest] of ins.filter(([k, r]) => k === "COPY" && r.startsWith("--from=build"))) {
      const parts = rest.split(/\s+/).slice(1, -1);
      for (const src of parts) assert.ok(existsSync(join(ROOT, src.replace(/^\/src\//, ""))), `${src} exists in the build`);
    }
    const entry = execForm(ins.find(([k]) => k === "ENTRYPOINT")![1]);
    const cmd = execForm(ins.find(([k]) => k === "CMD")![1]);
    const health = execForm(ins.find(([k]) => k === "HEALTHCHECK")![1].replace(/^(--\S+\s+)*CMD\s+/, ""));
    // The compose service runs the image's entry point with this command and mounts its configuration.
    const svc = composeServices(read("compose.yaml")).get("registry")!;
    assert.deepEqual(svc.command, cmd, "compose runs the image's CMD");
    const configTarget = cmd[cmd.indexOf("--config") + 1]!;
    const composeConfig = mountOf(svc.volumes, configTarget);
    for (const key of ["/etc/antitheft/registry.key", "/etc/antitheft/oem.pub"]) mountOf(svc.volumes, key);

    const httpPort = await freePort();
    const argv = [...entry, ...cmd].map((a) => (a === configTarget ? mapConfig(composeConfig, httpPort, "compose") : mapPath(a)));
    assert.equal(argv[0], "node");
    const reg = start(process.execPath, argv.slice(1));
    procs.push(reg);
    await waitFor(() => reg.out().includes('"event":"registry.started"') || reg.p.exitCode !== null, "the registry's start-up event", 20_000);
    assert.ok(reg.out().includes('"event":"registry.started"'), reg.out());
    const hc = health.map((a) => a.replace("127.0.0.1:8080", `127.0.0.1:${httpPort}`));
    assert.equal(hc[0], "node");
    const ok = await waitFor(() => { const r = spawnSync(process.execPath, hc.slice(1)); return r.status === 0 ? r : undefined; }, "HEALTHCHECK passes (database and MQTT 5 broker ready)", 20_000, 200);
    assert.equal(ok.status, 0);
    assert.equal(await stop(reg), 0, reg.out());
    assert.equal(spawnSync(process.execPath, hc.slice(1)).status, 1, "HEALTHCHECK fails with no registry");
    assert.ok(existsSync(join(tmp, "var", "registry.sqlite")), "the database is in the volume");
  });

  test("antitheft-registry.service: systemd-analyze verify accepts it (and reports a broken copy); its ExecStart runs with registry.example.json", async (t) => {
    if (!needTool(t, "systemd-analyze")) return;
    const unit = "antitheft-registry.service";
    const dir = join(tmp, "units");
    mkdirSync(dir);
    copyFileSync(join(DEPLOY, unit), join(dir, unit));
    const v = spawnSync("systemd-analyze", ["verify", join(dir, unit)], { encoding: "utf8" });
    const about = (s: string) => s.split("\n").filter((l) => l.includes(unit)).join("\n");
    assert.equal(about(v.stderr + v.stdout), "", "systemd-analyze verify reports nothing about the unit");
    // Negative control: the same check sees a misspelt key.
    const broken = join(tmp, "broken");
    mkdirSync(broken);
    writeFileSync(join(broken, unit), read(unit).replace("Restart=always", "Restrt=always"));
    const b = spawnSync("systemd-analyze", ["verify", join(broken, unit)], { encoding: "utf8" });
    assert.match(about(b.stderr + b.stdout), /Unknown key 'Restrt'/);

    if (!needTool(t, "mosquitto")) return;
    assert.ok(brokerPort > 0, "the compose Mosquitto runs");
    const exec = /^ExecStart=(.*)$/m.exec(read(unit))![1]!.split(/\s+/);
    assert.deepEqual(exec.slice(0, 2), ["/usr/bin/env", "node"]);
    const configTarget = exec[exec.indexOf("--config") + 1]!;
    const httpPort = await freePort();
    const reg = start(process.execPath, exec.slice(2).map((a) => (a === configTarget ? mapConfig(join(DEPLOY, "registry.example.json"), httpPort, "example") : mapPath(a))));
    procs.push(reg);
    await waitFor(() => reg.out().includes('"event":"registry.started"') || reg.p.exitCode !== null, "the registry's start-up event", 20_000);
    assert.ok(reg.out().includes('"event":"registry.started"'), reg.out());
    const h = await waitFor(async () => { const r = await fetch(`http://127.0.0.1:${httpPort}/healthz`); return r.status === 200 ? r : undefined; }, "ready", 20_000, 100);
    assert.equal(((await h.json()) as { ready: boolean }).ready, true);
    assert.equal(await stop(reg), 0, "SIGTERM (systemd's KillSignal) stops it cleanly");
  });
});
