// `antitheft sim`: a fleet of virtual handsets against the reference registry (simulator/sim.ts).
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { LAB_TLS_FLAGS, LAB_TLS_USAGE, labTlsFromFlags } from "./lab-tls-flags.js";
import { toolVersion } from "../version.js";
import { loadTaModule, parseFlags, required } from "./device-common.js";

const usage = `Usage: antitheft sim --devices N [--broker URL] [--mqtt-version 4|5] [--scenario NAME|all]
                     [--report DIR] [--workers K] [--transport lite|mqtt.js] [--timeout MS]
                     [--ca FILE --device-ca DIR --cert FILE --key FILE]

Simulates N handsets - each its own Trusted App instance, sealed state and agent - against the
reference registry, in this process. Without --broker it starts the embedded aedes broker (MQTT
3.1.1) and the registry itself; with --broker the registry and the handsets use that broker.
Runs the scenario(s) at fleet scale: by default "mass-block" (every handset flagged at once,
each one must lock); "all" runs every conformance scenario, the mass block with N handsets.
Prints a progress bar with live counts, then a table and percentiles (docs/CONFORMANCE.md).

  --devices N       handsets (required)
  --broker URL      an MQTT broker (mqtt://HOST:PORT, or mqtts:// with the four flags below); see docs/CONFORMANCE.md for Mosquitto,
                    EMQX, HiveMQ and VerneMQ settings that matter at scale
  --mqtt-version    4 (MQTT 3.1.1, default) or 5
  --scenario        scenario names, comma-separated, or all (default mass-block)
  --report DIR      write summary.txt, conformance.json and junit.xml into DIR
  --workers K       worker threads for the fleet (default: 2 from 500 handsets, else 0)
  --transport       MQTT client of handsets in this thread: lite (default) or mqtt.js
  --timeout MS      the longest wait for anything the protocol promises "soon" (default 5000)
${LAB_TLS_USAGE}

Exit status: 0 when every scenario passed, 1 otherwise, 2 on a usage error.`;

export const sim: Command = {
  path: ["sim"],
  summary: "simulate a fleet of handsets against the reference registry",
  usage,
  async run(argv) {
    const v = parseFlags(
      argv,
      {
        devices: { type: "string" },
        broker: { type: "string" },
        "mqtt-version": { type: "string" },
        scenario: { type: "string" },
        report: { type: "string" },
        workers: { type: "string" },
        transport: { type: "string" },
        timeout: { type: "string" },
        ...LAB_TLS_FLAGS,
      },
      usage,
    );
    const int = (s: string, flag: string, min: number): number => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < min) throw new CliError("E_USAGE", `--${flag} must be an integer >= ${min}`, 2);
      return n;
    };
    const devices = int(required(v.devices, "devices", usage), "devices", 1);
    const version = v["mqtt-version"] ?? "4";
    if (version !== "4" && version !== "5") throw new CliError("E_USAGE", "--mqtt-version must be 4 or 5", 2);
    const transport = v.transport ?? "lite";
    if (transport !== "lite" && transport !== "mqtt.js") throw new CliError("E_USAGE", "--transport must be lite or mqtt.js", 2);
    const workers = v.workers === undefined ? (devices >= 500 ? 2 : 0) : int(v.workers, "workers", 0);
    const { selectScenarios } = await import("../../simulator/conformance/scenarios/index.js");
    try {
      selectScenarios(v.scenario ?? "mass-block");
    } catch (e) {
      throw new CliError("E_USAGE", (e as Error).message, 2);
    }
    const tls = labTlsFromFlags(v, v.broker);
    if (tls && transport !== "lite") throw new CliError("E_USAGE", "an mqtts:// fleet runs on the lite transport", 2);
    const module = await loadTaModule();
    const { runSim } = await import("../../simulator/sim.js");
    const r = await runSim({
      about: { tool: { name: "antitheft sim", ...toolVersion() }, options: { ...v } },
      ...(tls ? { tls } : {}),
      module,
      devices,
      ...(v.broker ? { broker: v.broker } : {}),
      mqttVersion: version === "5" ? 5 : 4,
      scenarios: v.scenario ?? "mass-block",
      ...(v.report ? { reportDir: v.report } : {}),
      workers,
      transport,
      ...(v.timeout !== undefined ? { timeoutMs: int(v.timeout, "timeout", 100) } : {}),
    });
    return r.report.counts.fail + r.report.counts.error === 0 ? 0 : 1;
  },
};
