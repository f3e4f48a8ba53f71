// GET /healthz: liveness and readiness in one answer. The process answering is live; it is
// ready when its database answers a query and, if it has a broker, its MQTT client is connected.
// 200 when ready, 503 when not (a load balancer or container HEALTHCHECK reads the status; an
// operator reads the body).
import type { Context } from "./context.js";

export interface Check {
  readonly ok: boolean;
  readonly detail: string;
}

export interface Health {
  readonly status: "ok" | "unavailable";
  readonly live: true;
  readonly ready: boolean;
  readonly checks: { readonly database: Check; readonly broker: Check };
}

/** `broker()` is undefined for a registry without MQTT, else whether its client is connected. */
export function health(ctx: Context, broker: () => boolean | undefined): Health {
  let database: Check;
  try {
    const n = (ctx.store.db.prepare("SELECT count(*) AS n FROM devices").get() as { n: number }).n;
    database = { ok: true, detail: `${n} devices, schema ${ctx.store.schemaVersion}` };
  } catch (e) {
    database = { ok: false, detail: (e as Error).message };
  }
  const b = broker();
  const brokerCheck: Check = b === undefined ? { ok: true, detail: "no broker configured" } : b ? { ok: true, detail: "connected" } : { ok: false, detail: "not connected (reconnecting)" };
  const ready = database.ok && brokerCheck.ok;
  return { status: ready ? "ok" : "unavailable", live: true, ready, checks: { database, broker: brokerCheck } };
}
