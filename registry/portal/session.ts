// Portal sign-in sessions (docs/PORTAL.md §3): a passkey sign-in sets an HttpOnly, SameSite=Strict
// cookie holding 32 random bytes; the registry keeps only their SHA-256, with the passkey's kid.
// A session reads (the device view, My phones); every change is still a WebAuthn assertion over
// the request itself, so a stolen cookie cannot report, clear or transfer anything.
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context } from "../context.js";

export const SESSION_COOKIE = "at_session";
export const SESSION_TTL_MS = 12 * 3600_000;

const hash = (token: string): Uint8Array => new Uint8Array(createHash("sha256").update(token).digest());

function cookie(req: IncomingMessage): string | undefined {
  for (const part of String(req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === SESSION_COOKIE) return v.join("=");
  }
  return undefined;
}

/** The kid of the passkey the request's session was signed in with, if the session is live. */
export function sessionKid(ctx: Context, req: IncomingMessage): Uint8Array | undefined {
  const token = cookie(req);
  if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  return ctx.store.portalSessions.kidOf(hash(token), ctx.clock.now());
}

function setCookie(ctx: Context, res: ServerResponse, value: string, maxAgeS: number): void {
  const secure = ctx.portal.origins[0]?.startsWith("https:") ? "; Secure" : "";
  res.setHeader("set-cookie", `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`);
}

export async function startSession(ctx: Context, res: ServerResponse, kid: Uint8Array): Promise<void> {
  const token = randomBytes(32).toString("base64url");
  const now = ctx.clock.now();
  await ctx.gc.run(() => {
    ctx.store.portalSessions.purge(now);
    ctx.store.portalSessions.add(hash(token), kid, now, now + SESSION_TTL_MS);
  });
  setCookie(ctx, res, token, SESSION_TTL_MS / 1000);
}

export async function endSession(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = cookie(req);
  if (token) await ctx.gc.run(() => ctx.store.portalSessions.end(hash(token)));
  setCookie(ctx, res, "", 0);
}
