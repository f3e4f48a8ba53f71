// The owner portal's JSON calls (docs/PORTAL.md §3-§5), under /portal/api/. Sign-up and sign-in
// are WebAuthn ceremonies (webauthn.ts) that open a session (session.ts); a session reads. Every
// change goes as a WebAuthn-signed request to POST /antitheft/v1/requests: `prepare` only builds
// the request-payload (with the registry's own id, ts and aud) and the challenge the passkey signs.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { fromHex, isValidImei, toHex } from "../../attestation/index.js";
import { coseKeyFromPublic } from "../../attestation/cose/key.js";
import { equalBytes } from "../../attestation/bytes.js";
import { RegistryError } from "../errors.js";
import type { Context } from "../context.js";
import { buildPayload, REQUEST_ID_BYTES, type RequestInput } from "../request-codec.js";
import { checkCommandText } from "../commands.js";
import { fullDeviceView } from "../device-view.js";
import { b64u, registrationOptions, requestChallenge, signInOptions, verifyAssertion, verifyRegistration, assertionOf } from "../webauthn.js";
import { normalizeClaimCode } from "../../protocol/claim-code.js";
import { endSession, sessionKid, startSession } from "./session.js";
import { readPortalJson, sendJson } from "./io.js";

export const PORTAL_API = "/portal/api/";

/** The request types an owner sends from the portal. */
const PORTAL_TYPES = new Set(["claim-code", "claim", "report-stolen", "report-lost", "found", "transfer"]);

function text(v: unknown, what: string, max: number): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string" || v.length > max) throw new RegistryError("E_BAD_REQUEST", `${what} must be text of at most ${max} characters`);
  return v;
}

function imeiOf(v: unknown): string {
  const imei = typeof v === "string" ? v.replace(/[\s-]/g, "") : "";
  if (!isValidImei(imei)) throw new RegistryError("E_BAD_REQUEST", "the IMEI must be 15 digits with a valid check digit (dial *#06# on the phone)");
  return imei;
}

function signedIn(ctx: Context, req: IncomingMessage): Uint8Array {
  const kid = sessionKid(ctx, req);
  if (!kid) throw new RegistryError("E_UNAUTHENTICATED");
  return kid;
}

/** My phones: the whole view of every device the session's passkey owns. */
function phones(ctx: Context, kid: Uint8Array): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const did of ctx.store.owners.ownedBy(kid)) {
    const imei = ctx.store.imeis.of(did).find((b) => b.slot === 1)?.imei;
    const v = imei && fullDeviceView(ctx.store, imei, [did]);
    if (v) out.push(v);
  }
  return out;
}

/** A transfer's new owner: the kid of a passkey registered here, or an Ed25519 public key (64 hex). */
function newOwnerKey(ctx: Context, v: unknown): Uint8Array {
  const s = typeof v === "string" ? v.trim().toLowerCase() : "";
  if (/^[0-9a-f]{32}$/.test(s)) {
    const p = ctx.store.passkeys.byKid(fromHex(s));
    if (!p) throw new RegistryError("E_BAD_KEY", "no passkey with this owner id is registered here");
    return p.publicKey;
  }
  if (/^[0-9a-f]{64}$/.test(s)) return coseKeyFromPublic(fromHex(s));
  throw new RegistryError("E_BAD_REQUEST", "the new owner is an owner id (32 hex digits, shown on their portal page) or an Ed25519 public key (64 hex digits)");
}

/** Builds the request-payload for the session's passkey, and the challenge its assertion must sign. */
async function prepare(ctx: Context, kid: Uint8Array, j: Record<string, unknown>): Promise<Record<string, unknown>> {
  const passkey = ctx.store.passkeys.byKid(kid);
  if (!passkey) throw new RegistryError("E_UNAUTHENTICATED");
  const type = String(j.type);
  if (!PORTAL_TYPES.has(type)) throw new RegistryError("E_BAD_REQUEST", `"type" must be one of ${[...PORTAL_TYPES].join(", ")}`);
  const imei = imeiOf(j.imei);
  const input: { -readonly [K in keyof RequestInput]: RequestInput[K] } = { type: type as RequestInput["type"], imei };
  if (type === "claim-code" || type === "claim") input.key = passkey.publicKey;
  if (type === "claim") {
    let code: string;
    try {
      code = normalizeClaimCode(String(j.code));
    } catch (e) {
      throw new RegistryError("E_BAD_REQUEST", `not a claim code (${(e as Error).message})`);
    }
    const c = ctx.store.claimCodes.get(code);
    if (!c || !equalBytes(c.ownerKid, kid) || c.imei !== imei) throw new RegistryError("E_CLAIM_CODE_UNKNOWN");
    if (!c.proof) throw new RegistryError("E_BAD_PROOF", "the handset has not handed in its proof for this code yet");
    input.code = code;
    input.proof = c.proof;
  }
  if (type === "report-stolen" || type === "report-lost") {
    const message = text(j.message, "the lock-screen message", 128);
    const contact = text(j.contact, "the contact number", 32);
    checkCommandText(message, contact);
    if (message !== undefined) input.message = message;
    if (contact !== undefined) input.contact = contact;
  }
  if (type === "transfer") input.key = newOwnerKey(ctx, j.newOwner);
  const payload = buildPayload({ ...input, id: new Uint8Array(randomBytes(REQUEST_ID_BYTES)), ts: Math.floor(ctx.clock.now() / 1000) }, ctx.registryKey.kid);
  return { ok: true, payload: b64u(payload), challenge: b64u(requestChallenge(payload)), credentialId: b64u(passkey.credentialId) };
}

/** Where a claim code stands: waiting for the handset, proof handed in, claimed, or expired. */
function claimStatus(ctx: Context, kid: Uint8Array, url: URL): Record<string, unknown> {
  let code: string;
  try {
    code = normalizeClaimCode(url.searchParams.get("code") ?? "");
  } catch {
    throw new RegistryError("E_BAD_REQUEST", "not a claim code");
  }
  const c = ctx.store.claimCodes.get(code);
  if (!c || !equalBytes(c.ownerKid, kid)) throw new RegistryError("E_CLAIM_CODE_UNKNOWN");
  const state = c.usedAt !== null ? "claimed" : ctx.clock.now() >= c.expiresAt ? "expired" : c.proof ? "proof-received" : "waiting";
  return { ok: true, imei: c.imei, state, expires: c.expiresAt };
}

export async function portalApi(ctx: Context, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const call = url.pathname.slice(PORTAL_API.length);
  const method = req.method ?? "GET";
  const get = method === "GET";
  if (!get && method !== "POST") throw new RegistryError("E_METHOD");
  switch (`${method} ${call}`) {
    case "POST sign-up/options": {
      const j = await readPortalJson(ctx, req);
      const name = text(j.name, "the name", 64) ?? "owner";
      return sendJson(res, 200, { ok: true, options: await registrationOptions(ctx, name) });
    }
    case "POST sign-up": {
      const j = await readPortalJson(ctx, req);
      const p = await verifyRegistration(ctx, j.credential, text(j.name, "the name", 64) ?? "owner");
      await startSession(ctx, res, p.kid);
      return sendJson(res, 200, { ok: true, kid: toHex(p.kid) });
    }
    case "POST sign-in/options":
      await readPortalJson(ctx, req);
      return sendJson(res, 200, { ok: true, options: await signInOptions(ctx) });
    case "POST sign-in": {
      const j = await readPortalJson(ctx, req);
      const v = await verifyAssertion(ctx, assertionOf(j.credential), "sign-in");
      await ctx.gc.run(() => ctx.store.passkeys.used(v.passkey.credentialId, v.counter, ctx.clock.now()));
      await startSession(ctx, res, v.passkey.kid);
      return sendJson(res, 200, { ok: true, kid: toHex(v.passkey.kid) });
    }
    case "POST sign-out":
      await readPortalJson(ctx, req);
      await endSession(ctx, req, res);
      return sendJson(res, 200, { ok: true });
    case "GET me": {
      const p = ctx.store.passkeys.byKid(signedIn(ctx, req));
      if (!p) throw new RegistryError("E_UNAUTHENTICATED");
      return sendJson(res, 200, { ok: true, kid: toHex(p.kid), name: p.name, alg: p.alg === -7 ? "ES256" : "EdDSA" });
    }
    case "GET phones":
      return sendJson(res, 200, { ok: true, phones: phones(ctx, signedIn(ctx, req)) });
    case "GET claim-status":
      return sendJson(res, 200, claimStatus(ctx, signedIn(ctx, req), url));
    case "POST prepare": {
      const j = await readPortalJson(ctx, req);
      return sendJson(res, 200, await prepare(ctx, signedIn(ctx, req), j));
    }
    default:
      throw new RegistryError(get || method === "POST" ? "E_NOT_FOUND" : "E_METHOD", `no portal call ${method} ${call}`);
  }
}
