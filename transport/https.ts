// HTTPS for the registry's HTTP interface and its clients (docs/PROTOCOL.md §2.1, §6):
// the server's certificate and key, checked at start-up; the rule that plain HTTP is served only
// on a loopback address unless the operator says otherwise; and a `fetch` whose TLS trusts a
// given CA (node:https underneath; the global fetch cannot be given a CA per call in Node 20).
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { TransportError, explainTls } from "./errors.js";

export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Loads --tls-cert/--tls-key and checks that they belong together. */
export function loadServerTls(certPath: string, keyPath: string): ServerTls {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(certPath);
    key = readFileSync(keyPath);
  } catch (e) {
    throw new TransportError("E_TLS_CONFIG", `cannot read the server certificate or key: ${(e as Error).message}`, { cause: e });
  }
  let ok: boolean;
  try {
    ok = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new TransportError("E_TLS_CONFIG", `${certPath} / ${keyPath}: ${(e as Error).message}`, { cause: e });
  }
  if (!ok) throw new TransportError("E_TLS_CONFIG", `${keyPath} is not the key of ${certPath}`);
  return { cert, key };
}

/** A loopback address (127.0.0.0/8, ::1) or "localhost". */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  return h === "::1";
}

/**
 * A `fetch` for http(s) URLs whose TLS trusts `ca` (PEM), for the registry client and the
 * auditor. Answers are read whole (registry answers are small) into a standard Response.
 * A TLS failure rejects with a TransportError naming the cause.
 */
export function fetchWithCa(ca: Buffer | string): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    const method = init?.method ?? "GET";
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const body = init?.body === undefined || init.body === null ? undefined : Buffer.from(init.body as Uint8Array);
    if (body) headers["content-length"] = String(body.length);
    const signal = init?.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      const make = url.protocol === "https:" ? httpsRequest : httpRequest;
      const req = make(url, { method, headers, ...(url.protocol === "https:" ? { ca, minVersion: "TLSv1.2" as const } : {}), ...(signal ? { signal } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
          const status = res.statusCode ?? 500;
          resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: h }));
        });
      });
      req.on("error", (e) => reject(explainTls(e, `the server at ${url.origin}`) ?? e));
      req.end(body);
    });
  }) as typeof fetch;
}
