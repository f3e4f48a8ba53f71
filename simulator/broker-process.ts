// A broker in its own process, for fleets and benchmarks: its memory and CPU stay out of the
// simulator's figures. Mosquitto (MQTT 3.1.1 and 5) when it is installed, configured for a fleet
// (no connection limit, and no per-client queue limit: the registry's one subscription receives
// every handset's hello at once, and Mosquitto's default max_queued_messages 1000 silently drops
// the rest); otherwise the embedded aedes broker (MQTT 3.1.1) in a child Node process.
// Run directly (`node dist/simulator/broker-process.js`), this file is that child.
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface BrokerProcess {
  readonly kind: "mosquitto" | "aedes";
  readonly url: string;
  /** The MQTT versions it speaks. */
  readonly versions: readonly (4 | 5)[];
  /** Resident memory of the broker process, KiB (Linux /proc; 0 elsewhere). */
  rssKiB(): number;
  stop(): Promise<void>;
}

export function hasMosquitto(): boolean {
  return spawnSync("sh", ["-c", "command -v mosquitto"], { stdio: "ignore" }).status === 0;
}

/** A free TCP port on loopback (bound and released; another process may take it before use). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function accepting(port: number, alive: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = createConnection({ host: "127.0.0.1", port });
      c.once("connect", () => (c.destroy(), resolve(true)));
      c.once("error", () => resolve(false));
    });
    if (ok) return;
    if (!alive() || Date.now() > end) throw new Error(`the broker did not accept connections on port ${port}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function rssOf(p: ChildProcess): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function stopper(p: ChildProcess, after: () => Promise<void> = async () => {}): () => Promise<void> {
  return async () => {
    if (p.exitCode === null && p.signalCode === null) {
      const gone = new Promise<void>((r) => p.once("exit", () => r()));
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 3000);
      await gone;
      clearTimeout(t);
    }
    await after();
  };
}

/** Mosquitto on a free loopback port, configured for fleets. */
export async function startMosquittoProcess(extraConfig: readonly string[] = []): Promise<BrokerProcess> {
  const dir = await mkdtemp(join(tmpdir(), "antitheft-mosquitto-"));
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  await writeFile(conf, [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", "max_connections -1", "max_queued_messages 0", "max_inflight_messages 0", "log_dest none", ...extraConfig, ""].join("\n"));
  const p = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
  const alive = () => p.exitCode === null && p.signalCode === null;
  try {
    await accepting(port, alive);
  } catch (e) {
    await stopper(p, () => rm(dir, { recursive: true, force: true }))();
    throw e;
  }
  return { kind: "mosquitto", url: `mqtt://127.0.0.1:${port}`, versions: [4, 5], rssKiB: () => rssOf(p), stop: stopper(p, () => rm(dir, { recursive: true, force: true })) };
}

/** The embedded aedes broker in a child Node process. */
export async function startAedesProcess(): Promise<BrokerProcess> {
  const port = await freePort();
  const p = fork(fileURLToPath(import.meta.url), ["--serve", String(port)], { stdio: "ignore" });
  const alive = () => p.exitCode === null && p.signalCode === null;
  try {
    await accepting(port, alive);
  } catch (e) {
    await stopper(p)();
    throw e;
  }
  return { kind: "aedes", url: `mqtt://127.0.0.1:${port}`, versions: [4], rssKiB: () => rssOf(p), stop: stopper(p) };
}

/** Mosquitto if installed, else aedes in a child process. */
export function startBrokerProcess(): Promise<BrokerProcess> {
  return hasMosquitto() ? startMosquittoProcess() : startAedesProcess();
}

if (process.argv[2] === "--serve" && process.argv[1] === fileURLToPath(import.meta.url)) {
  const { startEmbeddedBroker } = await import("./embedded-broker.js");
  const b = await startEmbeddedBroker({ port: Number(process.argv[3]) });
  process.on("SIGTERM", () => void b.stop().then(() => process.exit(0)));
}
