// The registry's metrics, exposed on GET /metrics in the Prometheus text exposition format
// (version 0.0.4: "# HELP", "# TYPE", one sample per line; histograms as cumulative _bucket{le}
// series with _sum and _count). Counters and the lock-latency histogram live in this process
// (they restart at zero with it, as Prometheus expects of counters); the gauges - devices, flags,
// commands by state, ledger size - are read from the database at scrape time, so every worker
// on one database reports the same figures for them.
import type { Context } from "./context.js";

/** Lock latency buckets, seconds: from the owner's report to the verified SUCCEEDED result. */
export const LOCK_LATENCY_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400];

/** The HTTP routes counted (a fixed set: unknown paths share "other", so labels stay bounded). */
export type Route = "equipment-status" | "requests" | "devices" | "registry" | "ledger" | "healthz" | "metrics" | "other";

const esc = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labels = (l: Readonly<Record<string, string | number>>): string => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(String(v))}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};

export class RegistryMetrics {
  readonly #http = new Map<string, { route: Route; method: string; status: number; n: number }>();
  readonly #lockBuckets = LOCK_LATENCY_BUCKETS_S.map(() => 0);
  #lockSum = 0;
  #lockCount = 0;
  readonly #alerts = new Map<string, number>();

  /** One HTTP request answered. */
  http(route: Route, method: string, status: number): void {
    const m = ["GET", "POST", "HEAD"].includes(method) ? method : "other";
    const key = `${route} ${m} ${status}`;
    const c = this.#http.get(key) ?? { route, method: m, status, n: 0 };
    c.n++;
    this.#http.set(key, c);
  }

  /** A lock command whose verified SUCCEEDED result arrived `ms` after it was issued. */
  lockLatency(ms: number): void {
    const s = Math.max(0, ms) / 1000;
    LOCK_LATENCY_BUCKETS_S.forEach((le, i) => {
      if (s <= le) this.#lockBuckets[i]!++;
    });
    this.#lockSum += s;
    this.#lockCount++;
  }

  /** An alert raised (e.g. "registry-key-rejected"). */
  alert(kind: string): void {
    this.#alerts.set(kind, (this.#alerts.get(kind) ?? 0) + 1);
  }

  /** The exposition text (Content-Type: text/plain; version=0.0.4). */
  render(ctx: Context, extra: { readonly up: Readonly<Record<string, boolean>>; readonly version: string }): string {
    const out: string[] = [];
    const metric = (name: string, type: "counter" | "gauge" | "histogram", help: string, samples: [Record<string, string | number>, number][]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [l, v] of samples) out.push(`${name}${labels(l)} ${v}`);
    };
    metric("antitheft_build_info", "gauge", "The registry's version.", [[{ version: extra.version }, 1]]);
    metric("antitheft_up", "gauge", "Readiness of each dependency (1 ready, 0 not).", Object.entries(extra.up).map(([k, v]) => [{ check: k }, v ? 1 : 0]));
    metric("antitheft_http_requests_total", "counter", "HTTP requests answered, by route, method and status.", [...this.#http.values()].map((c) => [{ route: c.route, method: c.method, status: c.status }, c.n]));

    const db = ctx.store.db;
    const devices = (db.prepare("SELECT count(*) AS n FROM devices").get() as { n: number }).n;
    metric("antitheft_devices", "gauge", "Enrolled devices.", [[{}, devices]]);
    const flags = db.prepare("SELECT kind, count(*) AS n FROM flags WHERE cleared_at IS NULL GROUP BY kind").all() as { kind: string; n: number }[];
    const byKind = new Map(flags.map((f) => [f.kind, f.n]));
    metric("antitheft_flags_active", "gauge", "Active flags, by kind.", ["stolen", "lost", "authority", "clone", "tampered"].map((k) => [{ kind: k }, byKind.get(k) ?? 0]));
    const cmds = db.prepare("SELECT status, count(*) AS n FROM commands GROUP BY status").all() as { status: string; n: number }[];
    const byState = new Map(cmds.map((c) => [c.status, c.n]));
    metric("antitheft_commands", "gauge", "Commands, by job state (PROTOCOL.md §4.5, §4.6).", ["QUEUED", "SENT", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "SUPERSEDED"].map((s) => [{ state: s }, byState.get(s) ?? 0]));

    out.push("# HELP antitheft_lock_latency_seconds Time from a lock command's issue to its verified SUCCEEDED result.", "# TYPE antitheft_lock_latency_seconds histogram");
    LOCK_LATENCY_BUCKETS_S.forEach((le, i) => out.push(`antitheft_lock_latency_seconds_bucket{le="${le}"} ${this.#lockBuckets[i]}`));
    out.push(`antitheft_lock_latency_seconds_bucket{le="+Inf"} ${this.#lockCount}`, `antitheft_lock_latency_seconds_sum ${this.#lockSum}`, `antitheft_lock_latency_seconds_count ${this.#lockCount}`);

    metric("antitheft_alerts_total", "counter", "Alerts raised, by kind (registry-key-rejected: a device refuses the registry's command signature).", [...new Set(["registry-key-rejected", ...this.#alerts.keys()])].map((k) => [{ kind: k }, this.#alerts.get(k) ?? 0]));
    const status = ctx.store.statusCache; // docs/STORAGE.md §4
    metric("antitheft_status_memory_ready", "gauge", "1 when equipment status is answered from memory (the SQLite snapshot is built; always 1 on PostgreSQL).", [[{}, status.ready ? 1 : 0]]);
    metric("antitheft_status_memory_imeis", "gauge", "IMEIs whose status is held in memory.", [[{}, status.size]]);
    metric("antitheft_status_lookups_total", "counter", "Equipment-status lookups by where they were answered from (memory, or the tables).", [[{ from: "memory" }, status.hits], [{ from: "tables" }, status.misses]]);
    if (ctx.ledger) metric("antitheft_ledger_entries", "gauge", "Entries in this registry's own ledger log (docs/LEDGER.md).", [[{}, ctx.ledger.local.size()]]);
    return out.join("\n") + "\n";
  }
}
