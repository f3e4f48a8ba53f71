// One agent per handset folder (agent/folder-lock.ts), and the agent's local health report
// (agent/health.ts, `antitheft device health`). Agents run as real processes (the CLI) against
// aedes in this process.
// Without the lock a second `antitheft agent` on the same folder starts and knocks the first
// off the broker (same client id), which is the failure the lock exists for; without the
// liveness check a lock left by `kill -9` would refuse every later agent forever - the third
// agent below and the unit tests of stale locks show both are handled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeviceFolder } from "../agent/device-folder.js";
import { FolderLock, FolderLockError, LOCK_FILE, processStart } from "../agent/folder-lock.js";
import { makeKeys, provisionTestDevice, startBroker } from "./support/agent-harness.js";
import { waitFor } from "./support/e2e.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));

interface AgentProc {
  readonly proc: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | null>;
}

function startAgent(dir: string, broker: string): AgentProc {
  const proc = spawn(process.execPath, [cli, "agent", "--dir", dir, "--broker", broker, "--heartbeat", "0", "--log", "json"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return { proc, out: () => out, err: () => err, exited };
}

const running = (a: AgentProc) => a.out().includes('"event":"agent.running"');
const health = (dir: string) => spawnSync(process.execPath, [cli, "device", "health", "--dir", dir, "--json"], { encoding: "utf8" });

test("a second agent on the same folder is refused with a clear message; after kill -9 the stale lock does not block", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "at-agent-lock-"));
  const broker = await startBroker();
  const agents: AgentProc[] = [];
  t.after(async () => {
    for (const a of agents) a.proc.kill("SIGKILL");
    await broker.close();
    rmSync(root, { recursive: true, force: true });
  });
  const dir = join(root, "phone");
  const dev = await provisionTestDevice(makeKeys(), "490154203237518", DeviceFolder.at(dir));

  const first = startAgent(dir, broker.url);
  agents.push(first);
  await waitFor(() => running(first), `the first agent runs: ${first.err()}`, 20_000);
  const owner = JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")) as { pid: number };
  assert.equal(owner.pid, first.proc.pid);
  // Its health: running and connected to the broker (exit 0).
  const h = await waitFor(() => { const r = health(dir); return r.status === 0 ? r : undefined; }, "the first agent reports itself healthy", 20_000, 100);
  const report = JSON.parse(h.stdout) as { healthy: boolean; health: { did: string; pid: number; connected: boolean } };
  assert.equal(report.healthy, true);
  assert.equal(report.health.did, dev.info.did);
  assert.equal(report.health.pid, first.proc.pid);

  const second = startAgent(dir, broker.url);
  agents.push(second);
  assert.equal(await second.exited, 1);
  assert.match(second.err(), new RegExp(`^error E_LOCKED: the handset folder .* is in use by another agent \\(pid ${first.proc.pid} `));
  assert.equal(running(second), false, "the second agent never started");
  assert.ok(running(first) && first.proc.exitCode === null, "the first one still runs");

  // Power cut: kill -9 leaves agent.lock behind, naming a dead pid.
  first.proc.kill("SIGKILL");
  await first.exited;
  assert.ok(existsSync(join(dir, LOCK_FILE)), "kill -9 leaves the lock file behind");
  const dead = health(dir);
  assert.equal(dead.status, 1, "no agent runs: unhealthy");
  assert.match((JSON.parse(dead.stdout) as { reason: string }).reason, /stale/);

  const third = startAgent(dir, broker.url);
  agents.push(third);
  await waitFor(() => running(third), `the third agent takes over the stale lock: ${third.err()}`, 20_000);
  assert.equal((JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")) as { pid: number }).pid, third.proc.pid);
  third.proc.kill("SIGTERM");
  assert.equal(await third.exited, 0, third.err());
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, "a clean stop releases the lock");
  assert.equal(health(dir).status, 1, "stopped: unhealthy");
});

test("FolderLock: a live holder refuses; a dead pid, a reused pid or a half-written file is stale and taken over", () => {
  const dir = mkdtempSync(join(tmpdir(), "at-folder-lock-"));
  try {
    const path = join(dir, LOCK_FILE);
    const lock = FolderLock.acquire(dir);
    assert.throws(() => FolderLock.acquire(dir), (e: unknown) => e instanceof FolderLockError && e.code === "E_LOCKED" && e.owner?.pid === process.pid);
    lock.release();
    assert.equal(existsSync(path), false);

    // A live process that is really the holder (same pid, same start time): refused.
    writeFileSync(path, JSON.stringify({ pid: process.pid, start: processStart(process.pid), host: hostname(), since: "x" }));
    assert.throws(() => FolderLock.acquire(dir), /in use by another agent/);

    // The pid of a process that has exited.
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    writeFileSync(path, JSON.stringify({ pid: Number(gone.stdout), start: "1", host: hostname(), since: "x" }));
    FolderLock.acquire(dir).release();

    // The pid runs, but it is another process (pid reuse after a reboot): its start time differs.
    if (processStart(process.pid) !== null) {
      writeFileSync(path, JSON.stringify({ pid: process.pid, start: "1", host: hostname(), since: "x" }));
      FolderLock.acquire(dir).release();
    }

    // A crash while the lock was written: not JSON.
    writeFileSync(path, "{\"pid\": 12");
    const l = FolderLock.acquire(dir);
    assert.equal((JSON.parse(readFileSync(path, "utf8")) as { pid: number }).pid, process.pid);
    l.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("checkHealth: a live agent whose last report is older than 15 s is unhealthy (stuck)", async () => {
  const { checkHealth, writeHealth, HEALTH_STALE_MS } = await import("../agent/health.js");
  const dir = mkdtempSync(join(tmpdir(), "at-health-"));
  try {
    const lock = FolderLock.acquire(dir); // this process plays the running agent
    const at = Date.parse("2026-01-01T00:00:00.000Z");
    writeHealth(dir, { pid: process.pid, did: "00".repeat(16), state: "running", connected: true, lock: 0, tampered: false, seq: 0, broker: "mqtt://x", at: new Date(at).toISOString() });
    assert.equal(checkHealth(dir, () => at + 1000).healthy, true);
    const stuck = checkHealth(dir, () => at + HEALTH_STALE_MS + 1);
    assert.equal(stuck.healthy, false);
    assert.match(stuck.reason, /has not reported its health since/);
    lock.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
