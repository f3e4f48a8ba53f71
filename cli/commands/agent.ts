// `antitheft agent`: runs a handset's device agent until SIGINT/SIGTERM.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { DeviceFolder } from "../../agent/device-folder.js";
import { CommandEnforcer, SimulatedHandset, type Enforcer } from "../../agent/enforcement.js";
import { FolderLock, FolderLockError } from "../../agent/folder-lock.js";
import { writeHealth } from "../../agent/health.js";
import { LOG_FLAGS, LOG_USAGE, loggerFromFlags } from "../logging.js";
import { hexArg, loadTaModule, parseFlags, required, withDeviceErrors } from "./device-common.js";
import { mqttSecurityFromFlags, TRANSPORT_FLAGS, TRANSPORT_USAGE } from "./transport-flags.js";
import { deviceTlsFiles } from "../../transport/device-tls-files.js";
import type { TransportError } from "../../transport/errors.js";

const usage = `Usage: antitheft agent --dir DEVICE --broker mqtt(s)://HOST:PORT [--mqtt-version 4|5]
         [--heartbeat SECONDS] [--enforcer-config FILE] [--measurement HEX] [--log text|json] [--log-level LEVEL]
         [--ca FILE] [--cert FILE --key FILE] [--username NAME [--password SECRET]]

Runs the device agent of the handset folder DEVICE: boots its Trusted App, enforces the lock
state before any network traffic, then connects to the broker (persistent session, client id
at-d-<did>, Last Will), answers challenges with attestations, sends heartbeats (default every
60 s) and applies signed commands through the Trusted App. Reconnects with exponential backoff.
--enforcer-config: a JSON file {"lock": ..., "unlock": ..., "showMessage": ..., "timeoutMs": ...}
  whose actions are a shell string (values in $ANTITHEFT_MESSAGE / $ANTITHEFT_CONTACT) or an
  argument array (with {message} / {contact} placeholders). Without it the handset is simulated
  and its screen is logged (event handset.screen).
--measurement: the digest reported in attestations (default: SHA-256 of the agent's code).
${LOG_USAGE}

One agent per folder: the agent holds DEVICE/agent.lock while it runs, and a second agent on the
same folder is refused (E_LOCKED, exit 1); a lock left by an agent that was killed is taken over.
It reports its health in DEVICE/health.json every 2 s (antitheft device health --dir DEVICE).

With an mqtts:// broker the agent authenticates with the handset's transport identity from its
folder (tls-client.crt, tls-client.key, tls-ca.crt: antitheft factory provision --tls-ca) unless
the flags below name other files (docs/PROTOCOL.md §2.1):
${TRANSPORT_USAGE}`;

export const agent: Command = {
  path: ["agent"],
  summary: "run a handset's device agent against an MQTT broker",
  usage,
  run: (argv) =>
    withDeviceErrors(async () => {
      const v = parseFlags(
        argv,
        {
          dir: { type: "string" },
          broker: { type: "string" },
          "mqtt-version": { type: "string" },
          heartbeat: { type: "string" },
          "enforcer-config": { type: "string" },
          measurement: { type: "string" },
          ...LOG_FLAGS,
          ...TRANSPORT_FLAGS,
        },
        usage,
      );
      const dir = required(v.dir, "dir", usage);
      const broker = required(v.broker, "broker", usage);
      if (!/^(mqtts?|tcp|tls|wss?):\/\/[^\s]+$/.test(broker)) throw new CliError("E_USAGE", `--broker must be a URL such as mqtt://127.0.0.1:1883`, 2);
      const version = v["mqtt-version"] ?? "4";
      if (version !== "4" && version !== "5") throw new CliError("E_USAGE", "--mqtt-version must be 4 (MQTT 3.1.1) or 5", 2);
      const heartbeatS = v.heartbeat === undefined ? 60 : Number(v.heartbeat);
      if (!Number.isFinite(heartbeatS) || heartbeatS < 0) throw new CliError("E_USAGE", "--heartbeat must be a number of seconds >= 0 (0 disables)", 2);
      const { logger } = loggerFromFlags(v);
      const security = mqttSecurityFromFlags(v, broker, deviceTlsFiles(dir));
      const measurement =
        v.measurement !== undefined
          ? hexArg(v.measurement, "measurement", 1, 64)
          : new Uint8Array(createHash("sha256").update(await readFile(new URL("../../agent/agent.js", import.meta.url))).digest());

      let enforcer: Enforcer;
      if (v["enforcer-config"] !== undefined) enforcer = await CommandEnforcer.fromFile(v["enforcer-config"]);
      else {
        enforcer = new SimulatedHandset((e) => {
          const text = e.action === "unlock" ? "unlocked" : `${e.action === "lock" ? "LOCKED" : "message"}${e.message ? ` | ${e.message}` : ""}${e.contact ? ` | contact ${e.contact}` : ""}`;
          logger.log("info", "handset.screen", { dir, screen: text });
        });
      }
      // Loaded here, not at CLI start-up: MQTT.js is the heaviest import and only this command needs it.
      const { Agent } = await import("../../agent/agent.js");
      const { mqttTransport } = await import("../../agent/mqtt-link.js");
      await DeviceFolder.at(dir).readInfo(); // E_NOT_PROVISIONED before any lock file is made
      let lock: FolderLock;
      try {
        lock = FolderLock.acquire(dir);
      } catch (e) {
        if (e instanceof FolderLockError) throw new CliError(e.code, e.message);
        throw e;
      }
      const { mqttSecurityOptions } = await import("../../transport/mqtt-options.js");
      let agentInstance;
      // The broker refusing our certificate or identity on the first connection ends the agent
      // (exit 2) instead of retrying forever (docs/PROTOCOL.md §2.1).
      let refused: ((e: TransportError) => void) | undefined;
      const refusal = new Promise<TransportError>((resolve) => (refused = resolve));
      try {
        agentInstance = await Agent.start({
          folder: DeviceFolder.at(dir),
          module: await loadTaModule(),
          transport: mqttTransport(broker, mqttSecurityOptions(broker, security)),
          enforcer,
          logger,
          protocolVersion: version === "5" ? 5 : 4,
          heartbeatS,
          measurement,
          onTransportRefused: (e) => refused?.(e),
        });
      } catch (e) {
        lock.release();
        throw e;
      }
      const a = agentInstance;
      const health = (state: "running" | "stopped") => {
        const view = a.view();
        try {
          writeHealth(dir, { pid: process.pid, did: a.did, state, connected: state === "running" && a.connected, lock: view.tampered ? 2 : view.lock, tampered: view.tampered, seq: view.seq, broker, at: new Date().toISOString() });
        } catch (e) {
          logger.log("warn", "agent.health_write_failed", { error: (e as Error).message });
        }
      };
      health("running");
      // Signal handlers before the agent.running line: whoever reads that line may stop us at once.
      const ending = new Promise<TransportError | undefined>((resolve) => {
        // The agent's own timers are unref'd; this interval keeps the process up until a signal.
        const keepAlive = setInterval(() => health("running"), 2000);
        const stop = (e?: TransportError) => {
          clearInterval(keepAlive);
          resolve(e);
        };
        process.once("SIGINT", () => stop());
        process.once("SIGTERM", () => stop());
        void refusal.then(stop);
      });
      logger.log("info", "agent.running", { did: a.did, dir, broker, pid: process.pid, ...(security?.tls?.identity ? { identity: security.tls.identity } : {}) });
      const ended = await ending;
      await a.stop(true);
      health("stopped");
      lock.release();
      if (ended) throw new CliError(ended.code, ended.message.replace(/^E_[A-Z_]+: /, ""), 2);
      logger.log("info", "agent.stopped", { did: a.did });
      return 0;
    }),
};
