// Passkeys at the registry (W3C WebAuthn Level 2; docs/PORTAL.md §2-§3): the sign-up and sign-in
// ceremonies, and the check of an assertion over one owner request. The relying party is the
// registry's portal: one RP id and the portal's origin(s), from the registry's options.
// Each check has its own refusal code, taken before the signature is verified (@simplewebauthn/server):
//   clientDataJSON type "webauthn.create"/"webauthn.get" (§7.1 step 7, §7.2 step 11)  E_WEBAUTHN
//   challenge issued here, unused / the request's hash (§7.2 step 12)              E_WEBAUTHN_CHALLENGE
//   origin one of the portal's, not cross-origin (§7.2 steps 13-14)               E_WEBAUTHN_ORIGIN
//   rpIdHash = SHA-256(RP id) (§7.2 step 15)                                       E_WEBAUTHN_RP_ID
//   user present (§7.2 step 16)                                                    E_WEBAUTHN
//   signature counter moves forwards when either side keeps one (§7.2 step 21)     E_WEBAUTHN_COUNTER
//   the signature under the registered credential key (§7.2 step 20)              E_BAD_SIGNATURE
import { createHash, randomBytes } from "node:crypto";
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON, type RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { kidOfCoseKey } from "../attestation/cose/key.js";
import { equalBytes } from "../attestation/bytes.js";
import { RegistryError } from "./errors.js";
import type { Context } from "./context.js";
import type { Passkey } from "./store.js";
import { ALG_EDDSA, ALG_ES256, passkeyAlg } from "./passkey-keys.js";

/** The relying party: filled from the registry's options, the origin completed once it listens. */
export interface PortalSettings {
  rpId: string;
  rpName: string;
  origins: string[];
}

/** Ceremony challenges live this long (WebAuthn §15.1 suggests the ceremony's timeout). */
export const CEREMONY_TTL_MS = 5 * 60_000;
/**
 * Outstanding ceremony challenges at most: anyone may ask for one, so a flood is refused
 * (E_RATE_LIMITED) rather than grow the table; a deployment also limits per client at its front.
 */
export const MAX_OPEN_CEREMONIES = 10_000;

/** Stores a fresh ceremony challenge, unless too many are open. */
async function newCeremony(ctx: Context, purpose: "register" | "sign-in"): Promise<Uint8Array<ArrayBuffer>> {
  const challenge = new Uint8Array(randomBytes(CHALLENGE_BYTES));
  const now = ctx.clock.now();
  await ctx.gc.run(() => {
    ctx.store.webauthnChallenges.purge(now - CEREMONY_TTL_MS);
    if (ctx.store.webauthnChallenges.count() >= MAX_OPEN_CEREMONIES) throw new RegistryError("E_RATE_LIMITED", "too many sign-ups and sign-ins under way; retry in a few minutes");
    ctx.store.webauthnChallenges.add(challenge, purpose, now);
  });
  return challenge;
}
const CHALLENGE_BYTES = 32;

export const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");

export function fromB64u(s: unknown, what: string): Uint8Array {
  if (typeof s !== "string" || !/^[A-Za-z0-9_-]*$/.test(s) || s.length > 8192) throw new RegistryError("E_WEBAUTHN", `${what} must be base64url`);
  return new Uint8Array(Buffer.from(s, "base64url"));
}

const sha256 = (b: Uint8Array | string): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());

/**
 * The challenge that authorises one request (docs/PORTAL.md §3): the first 32 bytes of
 * SHA-512("antitheft/v1/webauthn-request" || payload), payload = the deterministic CBOR of the
 * request-payload of PROTOCOL.md §6.2 (with its id, ts and aud).
 */
export function requestChallenge(payload: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha512").update("antitheft/v1/webauthn-request").update(payload).digest().subarray(0, 32));
}

export async function registrationOptions(ctx: Context, name: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const challenge = await newCeremony(ctx, "register");
  return generateRegistrationOptions({
    rpName: ctx.portal.rpName,
    rpID: ctx.portal.rpId,
    userName: name,
    userDisplayName: name,
    challenge,
    attestationType: "none",
    supportedAlgorithmIDs: [ALG_EDDSA, ALG_ES256],
    authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
    timeout: CEREMONY_TTL_MS,
  });
}

export async function signInOptions(ctx: Context): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const challenge = await newCeremony(ctx, "sign-in");
  return generateAuthenticationOptions({ rpID: ctx.portal.rpId, challenge, userVerification: "preferred", timeout: CEREMONY_TTL_MS });
}

interface ClientData {
  readonly challenge: Uint8Array;
  readonly challengeText: string;
}

/** §7.1 steps 5-9 / §7.2 steps 9-14, each refusal with its own code. */
function checkClientData(ctx: Context, clientDataJSON: Uint8Array, type: "webauthn.create" | "webauthn.get"): ClientData {
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(clientDataJSON)) as Record<string, unknown>;
  } catch {
    throw new RegistryError("E_WEBAUTHN", "clientDataJSON is not JSON");
  }
  if (c === null || typeof c !== "object") throw new RegistryError("E_WEBAUTHN", "clientDataJSON is not an object");
  if (c.type !== type) throw new RegistryError("E_WEBAUTHN", `clientDataJSON type must be ${type}`);
  if (typeof c.origin !== "string" || !ctx.portal.origins.includes(c.origin)) {
    throw new RegistryError("E_WEBAUTHN_ORIGIN", `made on ${JSON.stringify(c.origin)}, not on the portal (${ctx.portal.origins.join(", ")})`);
  }
  if (c.crossOrigin === true) throw new RegistryError("E_WEBAUTHN_ORIGIN", "made in a cross-origin frame");
  let challenge: Uint8Array;
  try {
    challenge = fromB64u(c.challenge, "the challenge");
  } catch {
    throw new RegistryError("E_WEBAUTHN_CHALLENGE", "clientDataJSON has no base64url challenge");
  }
  return { challenge, challengeText: String(c.challenge) };
}

/** §7.2 steps 15-16 and 21 on the authenticator data; returns its signature counter. */
function checkAuthenticatorData(ctx: Context, authData: Uint8Array, storedCounter: number | undefined): number {
  if (authData.length < 37) throw new RegistryError("E_WEBAUTHN", "authenticator data is shorter than 37 bytes");
  if (!equalBytes(authData.subarray(0, 32), sha256(ctx.portal.rpId))) throw new RegistryError("E_WEBAUTHN_RP_ID", `the authenticator signed for another RP id than ${ctx.portal.rpId}`);
  if ((authData[32]! & 0x01) === 0) throw new RegistryError("E_WEBAUTHN", "the user was not present (UP flag clear)");
  const counter = new DataView(authData.buffer, authData.byteOffset + 33, 4).getUint32(0);
  if (storedCounter !== undefined && (counter !== 0 || storedCounter !== 0) && counter <= storedCounter) {
    throw new RegistryError("E_WEBAUTHN_COUNTER", `signature counter ${counter}, last seen ${storedCounter}`);
  }
  return counter;
}

function responseObject(v: unknown): Record<string, unknown> & { response: Record<string, unknown> } {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new RegistryError("E_WEBAUTHN", "expected a PublicKeyCredential as JSON");
  const r = (v as Record<string, unknown>).response;
  if (r === null || typeof r !== "object") throw new RegistryError("E_WEBAUTHN", "the credential has no response");
  return v as Record<string, unknown> & { response: Record<string, unknown> };
}

/** Sign-up: verifies the new credential (no attestation statement is asked for) and stores it. */
export async function verifyRegistration(ctx: Context, json: unknown, name: string): Promise<Passkey> {
  const cred = responseObject(json);
  const cd = checkClientData(ctx, fromB64u(cred.response.clientDataJSON, "clientDataJSON"), "webauthn.create");
  const now = ctx.clock.now();
  if (!(await ctx.gc.run(() => ctx.store.webauthnChallenges.take(cd.challenge, "register", now - CEREMONY_TTL_MS)))) {
    throw new RegistryError("E_WEBAUTHN_CHALLENGE", "the sign-up challenge was not issued here, has expired or was used");
  }
  let v;
  try {
    v = await verifyRegistrationResponse({
      response: cred as unknown as RegistrationResponseJSON,
      expectedChallenge: cd.challengeText,
      expectedOrigin: ctx.portal.origins,
      expectedRPID: ctx.portal.rpId,
      requireUserVerification: false,
      supportedAlgorithmIDs: [ALG_EDDSA, ALG_ES256],
    });
  } catch (e) {
    const msg = (e as Error).message;
    if (/rp ?id/i.test(msg)) throw new RegistryError("E_WEBAUTHN_RP_ID", msg);
    throw new RegistryError("E_WEBAUTHN", msg);
  }
  if (!v.verified) throw new RegistryError("E_WEBAUTHN", "the new credential does not verify");
  const publicKey = new Uint8Array(v.registrationInfo.credential.publicKey);
  const alg = passkeyAlg(publicKey);
  if (alg === undefined) throw new RegistryError("E_BAD_KEY", "the passkey is neither an ES256 (P-256) nor an EdDSA (Ed25519) key in its canonical COSE_Key form");
  const p = { credentialId: fromB64u(v.registrationInfo.credential.id, "the credential id"), kid: kidOfCoseKey(publicKey), publicKey, alg, counter: v.registrationInfo.credential.counter, name };
  if (!(await ctx.gc.run(() => ctx.store.passkeys.add(p, now)))) throw new RegistryError("E_WEBAUTHN", "this passkey is already registered");
  ctx.log.log("info", "portal.passkey-registered", { kid: Buffer.from(p.kid).toString("hex"), alg });
  return { ...p, createdAt: now };
}

export interface Assertion {
  readonly credentialId: Uint8Array;
  readonly authenticatorData: Uint8Array;
  readonly clientDataJSON: Uint8Array;
  readonly signature: Uint8Array;
  readonly userHandle?: Uint8Array;
}

/** The four parts of an assertion from JSON (base64url fields, as PublicKeyCredential.toJSON() gives them). */
export function assertionOf(json: unknown): Assertion {
  const cred = responseObject(json);
  const r = cred.response;
  return {
    credentialId: fromB64u(cred.rawId ?? cred.id, "the credential id"),
    authenticatorData: fromB64u(r.authenticatorData, "authenticatorData"),
    clientDataJSON: fromB64u(r.clientDataJSON, "clientDataJSON"),
    signature: fromB64u(r.signature, "signature"),
    ...(typeof r.userHandle === "string" && r.userHandle ? { userHandle: fromB64u(r.userHandle, "userHandle") } : {}),
  };
}

export interface VerifiedAssertion {
  readonly passkey: Passkey;
  /** The authenticator's counter in this assertion: recorded with the request (PasskeyTable.used). */
  readonly counter: number;
}

/**
 * Checks an assertion made by a registered passkey: over `expected` (a request's challenge), or,
 * with "sign-in", over a sign-in challenge issued here (consumed). Throws RegistryError.
 */
export async function verifyAssertion(ctx: Context, a: Assertion, expected: Uint8Array | "sign-in"): Promise<VerifiedAssertion> {
  const passkey = ctx.store.passkeys.byCredentialId(a.credentialId);
  if (!passkey) throw new RegistryError("E_UNKNOWN_SIGNER", "no passkey with this credential id is registered here");
  const cd = checkClientData(ctx, a.clientDataJSON, "webauthn.get");
  if (expected !== "sign-in" && !equalBytes(cd.challenge, expected)) {
    throw new RegistryError("E_WEBAUTHN_CHALLENGE", "the assertion signs another request");
  }
  const counter = checkAuthenticatorData(ctx, a.authenticatorData, passkey.counter);
  if (expected === "sign-in") {
    const now = ctx.clock.now();
    if (!(await ctx.gc.run(() => ctx.store.webauthnChallenges.take(cd.challenge, "sign-in", now - CEREMONY_TTL_MS)))) {
      throw new RegistryError("E_WEBAUTHN_CHALLENGE", "the sign-in challenge was not issued here, has expired or was used");
    }
  }
  let ok = false;
  try {
    const v = await verifyAuthenticationResponse({
      response: {
        id: b64u(a.credentialId),
        rawId: b64u(a.credentialId),
        type: "public-key",
        clientExtensionResults: {},
        response: { authenticatorData: b64u(a.authenticatorData), clientDataJSON: b64u(a.clientDataJSON), signature: b64u(a.signature) },
      } as AuthenticationResponseJSON,
      expectedChallenge: cd.challengeText,
      expectedOrigin: ctx.portal.origins,
      expectedRPID: ctx.portal.rpId,
      credential: { id: b64u(passkey.credentialId), publicKey: new Uint8Array(passkey.publicKey), counter: passkey.counter },
      requireUserVerification: false,
    });
    ok = v.verified;
  } catch {
    ok = false;
  }
  if (!ok) throw new RegistryError("E_BAD_SIGNATURE", "the assertion's signature does not verify under the passkey");
  return { passkey, counter };
}
