// `antitheft device health`: the agent's health as a supervisor sees it (agent/health.ts).
import type { Command } from "../command.js";
import { checkHealth } from "../../agent/health.js";
import { parseFlags, printJson, required } from "./device-common.js";

const usage = `Usage: antitheft device health --dir DEVICE [--json]

Reports whether an agent runs on the handset folder DEVICE (it holds DEVICE/agent.lock), whether
it is connected to its broker, and the lock state it enforces, from DEVICE/health.json, which the
running agent rewrites every 2 s. Exit 0 when an agent runs and is connected; 1 otherwise (for a
systemd or container health check). Read-only.`;

export const deviceHealth: Command = {
  path: ["device", "health"],
  summary: "is an agent running on this handset folder, and connected?",
  usage,
  async run(argv) {
    const v = parseFlags(argv, { dir: { type: "string" }, json: { type: "boolean" } }, usage);
    const dir = required(v.dir, "dir", usage);
    const r = checkHealth(dir);
    if (v.json) printJson(r);
    else {
      const h = r.health;
      process.stdout.write(
        [
          `${r.healthy ? "healthy" : "unhealthy"}: ${r.reason}`,
          ...(h && r.running ? [`  did ${h.did}, lock ${["unlocked", "partially locked", "locked"][h.lock] ?? h.lock}${h.tampered ? " (TAMPERED)" : ""}, sequence ${h.seq}, reported ${h.at}`] : []),
          "",
        ].join("\n"),
      );
    }
    return r.healthy ? 0 : 1;
  },
};
