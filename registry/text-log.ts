// Loggers for the registry's console: a readable line per event ("text"), or the agent's JSON
// lines ("json"). Events keep their stable names (e.g. "request.refused") in both.
import { jsonLineLogger, type Logger, type LogFields, type LogLevel } from "../agent/log.js";

function value(v: unknown): string {
  const s = String(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

export function formatFields(fields: LogFields = {}): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(" ");
}

export function textLogger(write: (line: string) => void, mode: "text" | "json" = "text", minLevel: LogLevel = "info", now: () => number = Date.now): Logger {
  if (mode === "json") return jsonLineLogger(write, now, minLevel);
  const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  return {
    log(level, event, fields) {
      if (rank[level] < rank[minLevel]) return;
      const t = new Date(now()).toISOString(); // full date and time, UTC (RFC 3339)
      write(`${t} ${level.toUpperCase().padEnd(5)} ${event} ${formatFields(fields)}`.trimEnd() + "\n");
    },
  };
}
