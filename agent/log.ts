// A logger, injected. Events have a stable name ("command.rejected") and flat fields, so logs
// can be asserted in tests and parsed by machines; the default writes one JSON line per event.

export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { log() {} };

/** One JSON object per line: {"t": ms, "level", "event", ...fields}. */
export function jsonLineLogger(write: (line: string) => void, now: () => number = Date.now, minLevel: LogLevel = "info"): Logger {
  const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  return {
    log(level, event, fields) {
      if (rank[level] < rank[minLevel]) return;
      write(JSON.stringify({ t: now(), level, event, ...fields }) + "\n");
    },
  };
}

/** Keeps events in memory (tests). */
export class MemoryLogger implements Logger {
  readonly events: { level: LogLevel; event: string; fields: LogFields }[] = [];
  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    this.events.push({ level, event, fields });
  }
  named(event: string): LogFields[] {
    return this.events.filter((e) => e.event === event).map((e) => e.fields);
  }
}
