// The logging flags every long-running command takes (registry, agent): --log text|json and
// --log-level debug|info|warn|error. Everything such a command reports - its start-up, its
// events, its stop - goes to ONE stream (stdout) in ONE format: text lines with a full UTC
// timestamp (RFC 3339), or JSON lines {"t": ms since the epoch, "level", "event", ...fields}.
import type { Logger, LogLevel } from "../agent/log.js";
import { textLogger } from "../registry/text-log.js";
import { CliError } from "./command.js";

export const LOG_FLAGS = {
  log: { type: "string" },
  "log-level": { type: "string" },
} as const;

export const LOG_USAGE = `  --log             log format on stdout: text (default; one line per event, full UTC time)
                    or json (one JSON object per line)
  --log-level       debug, info (default), warn or error`;

export interface LogChoice {
  readonly mode: "text" | "json";
  readonly level: LogLevel;
  readonly logger: Logger;
}

/** The logger the flags ask for (E_USAGE, exit 2, naming the flag, for a bad value). */
export function loggerFromFlags(v: { log?: string | undefined; "log-level"?: string | undefined }, write: (line: string) => void = (l) => void process.stdout.write(l)): LogChoice {
  const mode = v.log ?? "text";
  if (mode !== "text" && mode !== "json") throw new CliError("E_USAGE", `--log must be text or json, got "${mode}"`, 2);
  const level = (v["log-level"] ?? "info") as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(level)) throw new CliError("E_USAGE", `--log-level must be debug, info, warn or error, got "${level}"`, 2);
  return { mode, level, logger: textLogger(write, mode, level) };
}
