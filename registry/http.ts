// The registry's HTTP interface (node:http):
//   GET  /n5g-eir-eic/v1/equipment-status?pei=imei-<15>|imeisv-<16>   3GPP TS 29.511 §5.2.2.2
//   POST /antitheft/v1/requests          (application/cose)           PROTOCOL.md §6.2
//   GET  /antitheft/v1/devices/imei-<15>                              PROTOCOL.md §6.2
//   GET  /antitheft/v1/registry          (its kid: the requests' "aud") PROTOCOL.md §6.2
//   GET  /healthz, /metrics              (operations: health.ts, metrics.ts)
//   POST /antitheft/v1/requests          (application/json: WebAuthn-signed) docs/PORTAL.md §3
//   GET  /antitheft/v1/check/imei-<15>   (the public check)            PROTOCOL.md §6.2
//   POST /antitheft/v1/claim-proofs      (a handset's claim proof)     docs/PORTAL.md §4
//   /portal/...                          (the owner portal)            docs/PORTAL.md
// EIR errors are TS 29.571 ProblemDetails (application/problem+json); antitheft errors are
// {"ok": false, "code", "message"}. Nothing unknown or inconsistent is ever answered as an allow:
// an internal failure is a 500, never a WHITELISTED.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { ServerTls } from "../transport/https.js";
import type { AddressInfo } from "node:net";
import { isValidImei, toHex } from "../attestation/index.js";
import { RegistryError, asRegistryError } from "./errors.js";
import type { Context } from "./context.js";
import { equipmentStatus, imeiOfPei } from "./equipment-status.js";
import { fullDeviceView, publicCheck } from "./device-view.js";
import { handleRequest, handleWebAuthnRequest } from "./requests.js";
import { handInClaimProof } from "./claim-proofs.js";
import { sessionKid } from "./portal/session.js";
import { PORTAL_API, portalApi } from "./portal/api.js";
import { readBytes } from "./portal/io.js";
import { PORTAL_PREFIX, servePortalFile } from "./portal/pages.js";
import { equalBytes } from "../attestation/bytes.js";
import { MAX_REQUEST_BYTES } from "./request-codec.js";

import { CHECK_PREFIX, CLAIM_PROOFS_PATH, DEVICES_PREFIX, EIR_PATH, HEALTH_PATH, IDENTITY_PATH, METRICS_PATH, REQUESTS_PATH } from "./paths.js";
import { health } from "./health.js";
import { routeOf, sendMetrics } from "./http-ops.js";
import { LEDGER_PREFIX, ledgerResource } from "./ledger/http.js";
import { TLOG_PREFIX, tlogAsset } from "./ledger/tlog-http.js";

const EIR_QUERY = `${EIR_PATH}?`;

function send(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

/** TS 29.571 §5.2.4.1 ProblemDetails. */
function problem(res: ServerResponse, status: number, cause: string, detail: string, invalidParam?: string): void {
  const title = status === 404 ? "Not Found" : status === 400 ? "Bad Request" : status === 405 ? "Method Not Allowed" : "Internal Server Error";
  send(
    res,
    status,
    { type: "about:blank", title, status, detail, cause, ...(invalidParam ? { invalidParams: [{ param: invalidParam, reason: detail }] } : {}) },
    "application/problem+json",
  );
}

function fail(res: ServerResponse, e: unknown): void {
  const err = asRegistryError(e);
  send(res, err.httpStatus, { ok: false, code: err.code, message: err.message });
}

function eir(ctx: Context, query: URLSearchParams, res: ServerResponse): void {
  const peis = query.getAll("pei");
  if (peis.length === 0) return problem(res, 400, "MANDATORY_IE_MISSING", "the pei query parameter is required", "pei");
  if (peis.length > 1) return problem(res, 400, "MANDATORY_IE_INCORRECT", "pei given more than once", "pei");
  const p = imeiOfPei(peis[0]);
  if (!p.ok) return problem(res, 400, "MANDATORY_IE_INCORRECT", p.reason, "pei");
  const status = equipmentStatus(ctx.store, p.imei);
  if (status === undefined) return problem(res, 404, "ERROR_EQUIPMENT_UNKNOWN", "this equipment is not known to the registry");
  send(res, 200, { status });
}

/** What the operations endpoints need beyond the context. */
export interface OpsSources {
  /** undefined without a broker, else whether the MQTT client is connected. */
  readonly broker: () => boolean | undefined;
  readonly version: string;
}

async function route(ctx: Context, ops: OpsSources, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://registry.invalid");
  const method = req.method ?? "GET";
  if (url.pathname === HEALTH_PATH || url.pathname === METRICS_PATH) {
    if (method !== "GET") throw new RegistryError("E_METHOD", "use GET");
    if (url.pathname === METRICS_PATH) return sendMetrics(ctx, ops, res);
    const h = health(ctx, ops.broker);
    return send(res, h.ready ? 200 : 503, h);
  }
  if (url.pathname === EIR_PATH) {
    if (method !== "GET") return problem(res, 405, "METHOD_NOT_ALLOWED", "use GET");
    return eir(ctx, url.searchParams, res);
  }
  if (url.pathname === REQUESTS_PATH) {
    if (method !== "POST") throw new RegistryError("E_METHOD", "use POST");
    const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/cose" && type !== "application/json") throw new RegistryError("E_MEDIA_TYPE");
    const body = await readBytes(req, MAX_REQUEST_BYTES);
    return send(res, 200, await (type === "application/json" ? handleWebAuthnRequest(ctx, body) : handleRequest(ctx, body)));
  }
  if (url.pathname === IDENTITY_PATH) {
    if (method !== "GET") throw new RegistryError("E_METHOD", "use GET");
    // PROTOCOL.md §6.2: the audience requests name (the command key's kid), and the key itself.
    return send(res, 200, { ok: true, kid: toHex(ctx.registryKey.kid), publicKey: toHex(ctx.registryKey.publicKey) });
  }
  if (url.pathname.startsWith(DEVICES_PREFIX)) {
    if (method !== "GET") throw new RegistryError("E_METHOD", "use GET");
    const m = /^imei-([0-9]{15})$/.exec(url.pathname.slice(DEVICES_PREFIX.length));
    if (!m || !isValidImei(m[1])) throw new RegistryError("E_BAD_REQUEST", "expected /antitheft/v1/devices/imei-<15 digits with a valid check digit>");
    // PROTOCOL.md §6.2 "Device views": the whole view for the owner's portal session; for anyone
    // else what the public check tells (owners and authorities may also send a signed "view").
    const kid = sessionKid(ctx, req);
    const owned = kid ? ctx.store.imeis.didsFor(m[1]!).filter((d) => { const o = ctx.store.owners.current(d); return o !== undefined && equalBytes(o.kid, kid); }) : [];
    const view = owned.length > 0 ? fullDeviceView(ctx.store, m[1]!, owned) : undefined;
    return send(res, 200, { ok: true, ...(view ?? publicCheck(ctx.store, m[1]!)) });
  }
  if (url.pathname.startsWith(CHECK_PREFIX)) {
    if (method !== "GET") throw new RegistryError("E_METHOD", "use GET");
    const m = /^imei-([0-9]{15})$/.exec(url.pathname.slice(CHECK_PREFIX.length));
    if (!m || !isValidImei(m[1])) throw new RegistryError("E_BAD_REQUEST", "expected /antitheft/v1/check/imei-<15 digits with a valid check digit>");
    return send(res, 200, { ok: true, ...publicCheck(ctx.store, m[1]!) });
  }
  if (url.pathname === CLAIM_PROOFS_PATH) {
    if (method !== "POST") throw new RegistryError("E_METHOD", "use POST");
    return send(res, 200, await handInClaimProof(ctx, await readBytes(req, MAX_REQUEST_BYTES)));
  }
  if (url.pathname === "/" && method === "GET") {
    res.writeHead(302, { location: PORTAL_PREFIX, "content-length": 0 });
    return void res.end();
  }
  if (url.pathname.startsWith(PORTAL_API)) return portalApi(ctx, req, res, url);
  if (url.pathname.startsWith(PORTAL_PREFIX) || url.pathname === "/portal") {
    if (method !== "GET") throw new RegistryError("E_METHOD", "use GET");
    if (servePortalFile(url.pathname === "/portal" ? PORTAL_PREFIX : url.pathname, res)) return;
  }
  if (url.pathname.startsWith(LEDGER_PREFIX)) {
    if (method !== "GET") throw new RegistryError("E_METHOD", "use GET");
    if (!ctx.ledger) throw new RegistryError("E_NOT_FOUND", "this registry keeps no ledger");
    if (url.pathname.startsWith(TLOG_PREFIX)) {
      const a = tlogAsset(ctx.ledger, url.pathname.slice(TLOG_PREFIX.length)); // C2SP tlog-tiles, docs/LEDGER.md §7.1
      res.writeHead(200, { "content-type": a.type, "content-length": a.body.byteLength, "cache-control": a.cache });
      return void res.end(a.body);
    }
    return send(res, 200, ledgerResource(ctx.ledger, url)); // docs/LEDGER.md §7
  }
  throw new RegistryError("E_NOT_FOUND", `no resource at ${url.pathname}`);
}

export class HttpInterface {
  readonly #ctx: Context;
  readonly #ops: OpsSources;
  #server: Server | undefined;

  constructor(ctx: Context, ops: OpsSources = { broker: () => undefined, version: "unknown" }) {
    this.#ctx = ctx;
    this.#ops = ops;
  }

  /** Listens on host:port (port 0 = any free port), HTTPS with `tls`; resolves with the bound address. */
  listen(host: string, port: number, tls?: ServerTls): Promise<AddressInfo> {
    const internal = (e: unknown): RegistryError => {
      const err = asRegistryError(e);
      if (err.code === "E_INTERNAL") this.#ctx.log.log("error", "http.internal-error", { error: String((e as Error)?.stack ?? e) });
      return err;
    };
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      const metrics = this.#ctx.metrics;
      // The lookup a network makes on every attach, answered synchronously without the general
      // router (docs/STORAGE.md §5): same answers, same errors, counted the same.
      if (req.method === "GET" && req.url?.startsWith(EIR_QUERY)) {
        try {
          eir(this.#ctx, new URLSearchParams(req.url.slice(EIR_QUERY.length)), res);
        } catch (e) {
          internal(e);
          problem(res, 500, "SYSTEM_FAILURE", "the registry could not answer");
        }
        metrics?.http("equipment-status", "GET", res.statusCode);
        return;
      }
      if (metrics) res.once("finish", () => metrics.http(routeOf(req.url), req.method ?? "GET", res.statusCode));
      route(this.#ctx, this.#ops, req, res).catch((e) => {
        const err = internal(e);
        if (res.headersSent) return void res.destroy();
        if (req.url?.startsWith(EIR_PATH)) return problem(res, 500, "SYSTEM_FAILURE", "the registry could not answer");
        // A body over the limit is answered and the connection closed.
        if (err.code === "E_TOO_LARGE") res.setHeader("connection", "close");
        fail(res, err);
      });
    };
    const server: Server = tls ? createTlsServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, handler) : createServer(handler);
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    // Idle keep-alive connections live 65 s (Node's default is 5 s): longer than clients keep
    // them (fetch/undici: the server's hint less 1 s; a network function's pool: 60 s), so a
    // client rarely sends on a connection the registry is closing (RFC 9112 §9.3.1).
    server.keepAliveTimeout = 65_000;
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve(server.address() as AddressInfo);
      });
    });
  }

  get address(): AddressInfo | undefined {
    return (this.#server?.address() as AddressInfo | null) ?? undefined;
  }

  close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}
