// Reading and answering the portal's HTTP calls: bounded JSON bodies, JSON answers, and the
// same-origin rule for calls that change something (docs/PORTAL.md §6).
import type { IncomingMessage, ServerResponse } from "node:http";
import { RegistryError } from "../errors.js";
import type { Context } from "../context.js";

export const MAX_PORTAL_BODY = 16 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

export function readBytes(req: IncomingMessage, limit = MAX_PORTAL_BODY): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) return reject(new RegistryError("E_TOO_LARGE"));
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new RegistryError("E_TOO_LARGE"));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on("error", reject);
  });
}

/**
 * A POST from the portal's own pages: JSON, and an Origin header (browsers send it on every
 * POST, RFC 6454 §7) naming the portal. With the SameSite=Strict cookie this keeps other sites
 * from driving a signed-in owner's browser (cross-site request forgery).
 */
export async function readPortalJson(ctx: Context, req: IncomingMessage): Promise<Record<string, unknown>> {
  const origin = req.headers.origin;
  if (typeof origin !== "string" || !ctx.portal.origins.includes(origin)) throw new RegistryError("E_CROSS_ORIGIN");
  const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new RegistryError("E_MEDIA_TYPE", "the portal's calls are application/json");
  const body = await readBytes(req);
  let v: unknown;
  try {
    v = body.length === 0 ? {} : JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw new RegistryError("E_BAD_REQUEST", "the body is not JSON");
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new RegistryError("E_BAD_REQUEST", "the body must be a JSON object");
  return v as Record<string, unknown>;
}
