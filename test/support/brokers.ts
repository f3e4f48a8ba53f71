// MQTT brokers for end-to-end suites and the conformance suite and fleets:
// - the embedded aedes broker (MQTT 3.1.1), in this process, on a free loopback TCP port;
// - a real Mosquitto (MQTT 3.1.1 and 5): `mosquitto -c <own config in a temp dir>` on a free
//   loopback port, waited for until it accepts connections, killed on stop.
// BROKER_CASES lists the combinations one suite is run against: aedes/3.1.1, Mosquitto/3.1.1,
// Mosquitto/5. A Mosquitto case needs the system tool (needTool: skipped with a reason locally,
// a failure under REQUIRE_SYSTEM_TOOLS=1).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer, type AddressInfo } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import type { Aedes } from "aedes";
import { startEmbeddedBroker } from "../../simulator/embedded-broker.js";
import type { MqttSecurity } from "../../transport/mqtt-options.js";

export type MqttVersion = 4 | 5;

export interface BrokerHandle {
  readonly kind: "aedes" | "mosquitto";
  readonly host: string;
  readonly port: number;
  /** mqtt://127.0.0.1:<port> */
  readonly url: string;
  /** The protocol levels it speaks (aedes: 3.1.1 only). */
  readonly versions: readonly MqttVersion[];
  /**
   * Stops and starts the broker again on the same port. aedes keeps its in-memory sessions and
   * retained messages (the same Aedes instance); Mosquitto keeps them only with `persistence`.
   * Every client connection is dropped (clients see a network failure, not a DISCONNECT).
   */
  restart(): Promise<void>;
  /** Stops the broker and removes its temp folder. Idempotent. */
  stop(): Promise<void>;
  /** A broker that authenticates clients (test/support/secure-broker.ts): what each party needs. */
  readonly secured?: SecuredParties;
}

/** The transport identities of a secured broker's parties (docs/PROTOCOL.md §2.1). */
export interface SecuredParties {
  /** The registry's name (its certificate's CN is at-r-<name>) and its `antitheft registry` flags. */
  readonly registryName: string;
  readonly registryArgs: readonly string[];
  /** The observer's (a lab harness, at-lab) MQTT security. */
  readonly observer: MqttSecurity;
  /** The device CA handsets are provisioned under (factory --tls-ca). */
  readonly deviceCa: { readonly certPem: string; readonly keyPem: string };
}

/** One broker/protocol combination an end-to-end suite runs against. */
export interface BrokerCase {
  /** e.g. "aedes, MQTT 3.1.1" */
  readonly name: string;
  readonly kind: "aedes" | "mosquitto";
  readonly protocolVersion: MqttVersion;
  /** A system tool the case needs (pass to needTool), if any. */
  readonly tool?: string;
  start(): Promise<BrokerHandle>;
}

export const BROKER_CASES: readonly BrokerCase[] = [
  { name: "aedes, MQTT 3.1.1", kind: "aedes", protocolVersion: 4, start: () => startAedes() },
  { name: "Mosquitto, MQTT 3.1.1", kind: "mosquitto", protocolVersion: 4, tool: "mosquitto", start: () => startMosquitto() },
  { name: "Mosquitto, MQTT 5", kind: "mosquitto", protocolVersion: 5, tool: "mosquitto", start: () => startMosquitto() },
];

const LOOPBACK = "127.0.0.1";

/** A TCP port that was free on the loopback interface a moment ago. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, LOOPBACK, () => resolve());
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

/** Resolves once host:port accepts a TCP connection; rejects after `timeoutMs` or when `alive()` turns false. */
export async function waitUntilAccepting(host: string, port: number, timeoutMs = 10_000, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host, port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new Error(`nothing listens on ${host}:${port} and the broker process has exited`);
    if (Date.now() > deadline) throw new Error(`nothing accepted connections on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- aedes --------------------------------------------------------------------------------

export interface AedesHandle extends BrokerHandle {
  readonly kind: "aedes";
  readonly aedes: Aedes;
}

/** The embedded aedes broker (MQTT 3.1.1) in this process, on 127.0.0.1 and a free port (or `port`). */
export async function startAedes(options: { port?: number } = {}): Promise<AedesHandle> {
  const b = await startEmbeddedBroker({ host: LOOPBACK, ...(options.port !== undefined ? { port: options.port } : {}) });
  return {
    kind: "aedes",
    aedes: b.aedes,
    host: b.host,
    get port() {
      return b.port;
    },
    get url() {
      return b.url;
    },
    versions: [4],
    restart: () => b.restart(),
    stop: () => b.stop(),
  };
}

// ---- Mosquitto ------------------------------------------------------------------------------

export interface MosquittoOptions {
  /** Keep sessions and retained messages across restart() (persistence file in the temp dir). Default false. */
  readonly persistence?: boolean;
  /** Lines appended to the generated configuration. */
  readonly extraConfig?: readonly string[];
  /** How long to wait for the listener (default 10 s). */
  readonly startTimeoutMs?: number;
}

export interface MosquittoHandle extends BrokerHandle {
  readonly kind: "mosquitto";
  /** The temp folder holding mosquitto.conf, mosquitto.log and (with persistence) mosquitto.db. */
  readonly dir: string;
  /** The broker's log so far (for failure messages). */
  log(): Promise<string>;
}

/** Every Mosquitto this process started and has not stopped: killed if the process exits first. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(p: ChildProcess): void {
  live.add(p);
  p.once("exit", () => live.delete(p));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
  }
}

function exited(p: ChildProcess): Promise<void> {
  return new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once("exit", () => r())));
}

async function killProcess(p: ChildProcess, graceMs = 3000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = exited(p);
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), graceMs);
  await done;
  clearTimeout(t);
}

/** A real Mosquitto on 127.0.0.1 and a free port, with its own configuration in a temp dir. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoHandle> {
  const dir = await mkdtemp(join(tmpdir(), "at-mosquitto-"));
  const logFile = join(dir, "mosquitto.log");
  const conf = join(dir, "mosquitto.conf");
  let port = 0;
  let proc: ChildProcess | undefined;

  const configure = async (): Promise<void> => {
    await writeFile(
      conf,
      [
        `# generated by test/support/brokers.ts`,
        `listener ${port} ${LOOPBACK}`,
        `allow_anonymous true`,
        // Started as root, Mosquitto drops to user "mosquitto", who could not write this folder.
        ...(process.getuid?.() === 0 ? [`user ${userInfo().username}`] : []),
        options.persistence ? `persistence true` : `persistence false`,
        ...(options.persistence ? [`persistence_location ${dir}/`, `persistence_file mosquitto.db`] : []),
        `log_dest file ${logFile}`,
        `log_type error`,
        `log_type warning`,
        `log_type notice`,
        ...(options.extraConfig ?? []),
        ``,
      ].join("\n"),
    );
  };
  const launch = async (): Promise<void> => {
    // A port taken between freePort() and mosquitto's bind(): try another one (first start only).
    for (let attempt = 0; ; attempt++) {
      if (port === 0 || attempt > 0) port = await freePort();
      await configure();
      const p = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      p.stderr?.on("data", (d: Buffer) => void (stderr += d.toString()));
      track(p);
      try {
        await waitUntilAccepting(LOOPBACK, port, options.startTimeoutMs ?? 10_000, () => p.exitCode === null && p.signalCode === null);
        proc = p;
        return;
      } catch (e) {
        await killProcess(p, 500);
        const log = await readFile(logFile, "utf8").catch(() => "");
        if (attempt < 2 && /address already in use/i.test(log + stderr)) continue;
        throw new Error(`mosquitto did not start on ${LOOPBACK}:${port}: ${(e as Error).message}\n${stderr}${log}`);
      }
    }
  };
  const relaunchSamePort = async (): Promise<void> => {
    const p = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
    track(p);
    await waitUntilAccepting(LOOPBACK, port, options.startTimeoutMs ?? 10_000, () => p.exitCode === null && p.signalCode === null);
    proc = p;
  };

  try {
    await launch();
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  let stopped = false;
  return {
    kind: "mosquitto",
    host: LOOPBACK,
    get port() {
      return port;
    },
    get url() {
      return `mqtt://${LOOPBACK}:${port}`;
    },
    versions: [4, 5],
    dir,
    log: () => readFile(logFile, "utf8").catch(() => ""),
    async restart() {
      if (stopped) throw new Error("the broker is stopped");
      if (proc) await killProcess(proc); // SIGTERM: Mosquitto saves its persistence file on the way out
      await relaunchSamePort();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (proc) await killProcess(proc);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
