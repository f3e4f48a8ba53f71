// The HTTP side of the operations endpoints: the route label a request is counted under, and
// the Prometheus exposition of GET /metrics (metrics.ts).
import type { ServerResponse } from "node:http";
import type { Context } from "./context.js";
import { health } from "./health.js";
import type { Route } from "./metrics.js";
import { DEVICES_PREFIX, EIR_PATH, HEALTH_PATH, IDENTITY_PATH, METRICS_PATH, REQUESTS_PATH } from "./paths.js";
import { LEDGER_PREFIX } from "./ledger/http.js";
import { RegistryError } from "./errors.js";

/** A bounded label for a request path (unknown paths are "other"). */
export function routeOf(rawUrl: string | undefined): Route {
  const p = (rawUrl ?? "/").split("?")[0]!;
  if (p === EIR_PATH) return "equipment-status";
  if (p === REQUESTS_PATH) return "requests";
  if (p.startsWith(DEVICES_PREFIX)) return "devices";
  if (p === IDENTITY_PATH) return "registry";
  if (p.startsWith(LEDGER_PREFIX)) return "ledger";
  if (p === HEALTH_PATH) return "healthz";
  if (p === METRICS_PATH) return "metrics";
  return "other";
}

export function sendMetrics(ctx: Context, ops: { broker: () => boolean | undefined; version: string }, res: ServerResponse): void {
  if (!ctx.metrics) throw new RegistryError("E_NOT_FOUND", "this registry keeps no metrics");
  const h = health(ctx, ops.broker);
  const up: Record<string, boolean> = { database: h.checks.database.ok };
  if (ops.broker() !== undefined) up.broker = h.checks.broker.ok;
  const text = ctx.metrics.render(ctx, { up, version: ops.version });
  res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}
