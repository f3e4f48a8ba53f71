// Owner and authority requests (PROTOCOL.md §6.2). Order of checks, each refusal a
// RegistryError with a stable code, logged, and changing nothing:
//  1. shape (request-codec.ts): E_BAD_REQUEST, E_TOO_LARGE, E_BAD_KEY (a key of small order...);
//     a WebAuthn-signed request (docs/PORTAL.md §3): its assertion, by a passkey registered here,
//     over the payload's challenge (webauthn.ts: E_UNKNOWN_SIGNER, E_WEBAUTHN*, E_BAD_SIGNATURE);
//  2. audience: "aud" is this registry's kid (E_AUDIENCE); signer: claim, claim-code -> the key
//     in the request (kid must match); flag, flag-batch, reset-owner -> a pinned authority;
//     clear, view -> a pinned authority or the current owner; others -> the device's current owner
//     (E_UNKNOWN_DEVICE, E_NOT_OWNER, E_NOT_AUTHORITY, E_UNKNOWN_SIGNER);
//  3. the COSE_Sign1 signature under that key (E_BAD_SIGNATURE);
//  4. ts within +-300 s (E_STALE); the signer's rate limit (E_RATE_LIMITED, PROTOCOL.md §6.4);
//     a claim's code: issued to this owner key for this IMEI, unexpired, unused
//     (E_CLAIM_CODE_UNKNOWN, E_CLAIM_CODE_EXPIRED, E_CLAIM_CODE_USED); its proof: a
//     registration-purpose token (EAT intuse 2, RFC 9711 §4.3.3) of the device for
//     claimNonce(code) (E_BAD_PROOF);
//  5. inside one transaction: the request id is unused (E_REPLAY), the state allows it
//     (E_ALREADY_CLAIMED, E_FLAGGED, E_CLONE_SUSPECT, E_FLAGGED_BY_OTHER, E_NOT_FLAGGING_PARTY,
//     E_NOT_FLAGGED, E_RELEASE_REQUIRED, E_CLAIM_CODE_USED), then the change, its events, its
//     command, the claim code's use and the id commit together.
import type { KeyObject } from "node:crypto";
import { decodeStrict, kidOfPublic, toHex } from "../attestation/index.js";
import { kidOfCoseKey, publicFromCoseKey } from "../attestation/cose/key.js";
import { verifySign1Signature } from "../attestation/cose/sign1.js";
import { equalBytes } from "../attestation/bytes.js";
import { RegistryError, asRegistryError } from "./errors.js";
import { checkCoseKey, parsePayload, parseRequest, type ParsedRequest } from "./request-codec.js";
import { assertionOf, fromB64u, requestChallenge, verifyAssertion } from "./webauthn.js";
import { passkeyAlg } from "./passkey-keys.js";
import { fullDeviceView } from "./device-view.js";
import { claimProofDid } from "./claim-proofs.js";
import { isBlacklistKind, type Party, type Flag, type PeerFlag } from "./store.js";
import type { Context, Publication } from "./context.js";
import { clearFlag, partyName, raiseFlag, sameParty } from "./flagging.js";
import { issueCommand, ACTION_NAMES } from "./commands.js";
import { devicePeerFlags, equipmentStatus } from "./equipment-status.js";
import { ACTION } from "../protocol/messages.js";
import { formatClaimCode, newClaimCode } from "../protocol/claim-code.js";

export interface RequestResponse {
  readonly ok: true;
  readonly type: string;
  readonly imei: string;
  readonly status: string;
  readonly commands: readonly { seq: number; action: string; imei?: string }[];
  readonly [k: string]: unknown;
}

interface Authenticated {
  readonly party: Party;
  /** claim: the device the proof was verified against. */
  readonly provedDid?: string;
}

/** Handles one request body; resolves with the 200 body or rejects with a RegistryError. */
export function handleRequest(ctx: Context, body: Uint8Array): Promise<RequestResponse> {
  return handle(ctx, async () => parseRequest(body));
}

/**
 * Handles a WebAuthn-signed request (docs/PORTAL.md §3): JSON `{"payload": base64url of the
 * request-payload, "credential": the assertion as PublicKeyCredential.toJSON() gives it}`, the
 * assertion made over requestChallenge(payload) by a passkey registered here.
 */
export function handleWebAuthnRequest(ctx: Context, body: Uint8Array): Promise<RequestResponse> {
  return handle(ctx, async () => {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)) as Record<string, unknown>;
    } catch {
      throw new RegistryError("E_BAD_REQUEST", "a WebAuthn-signed request is a JSON object {payload, credential}");
    }
    if (json === null || typeof json !== "object") throw new RegistryError("E_BAD_REQUEST", "a WebAuthn-signed request is a JSON object {payload, credential}");
    const payload = fromB64u(json.payload, "payload");
    const fields = parsePayload(payload);
    const assertion = await verifyAssertion(ctx, assertionOf(json.credential), requestChallenge(payload));
    return { ...fields, kid: assertion.passkey.kid, assertion };
  });
}

async function handle(ctx: Context, parse: () => Promise<ParsedRequest>): Promise<RequestResponse> {
  let r: ParsedRequest | undefined;
  try {
    r = await parse();
    const auth = authenticate(ctx, r);
    const { response, pubs } = await ctx.gc.run(() => apply(ctx, r!, auth));
    ctx.publish(pubs);
    ctx.log.log("info", "request.accepted", { type: r.type, imei: r.imei, by: partyName(auth.party), ...(r.assertion ? { passkey: true } : {}) });
    return response;
  } catch (e) {
    const err = asRegistryError(e);
    ctx.log.log("warn", "request.refused", {
      code: err.code,
      reason: err.message,
      type: r?.type,
      imei: r?.imei,
      kid: r ? toHex(r.kid) : undefined,
    });
    throw err;
  }
}

function rawOfCoseKey(coseKey: Uint8Array): Uint8Array {
  return publicFromCoseKey(decodeStrict(coseKey));
}

/**
 * Step 3: a COSE_Sign1 under an Ed25519 key; or, for a WebAuthn-signed request, the passkey whose
 * assertion verified (webauthn.ts) must be the key the request needs (docs/PORTAL.md §3).
 */
function verifySignature(r: ParsedRequest, key: Uint8Array | KeyObject | { cose: Uint8Array }): void {
  const cose = typeof key === "object" && "cose" in key ? key.cose : undefined;
  if (r.assertion) {
    if (cose === undefined || !equalBytes(cose, r.assertion.passkey.publicKey)) throw new RegistryError("E_BAD_SIGNATURE", "the passkey is not the signer's key");
    return;
  }
  try {
    verifySign1Signature(r.sign1!, cose !== undefined ? rawOfCoseKey(cose) : (key as Uint8Array | KeyObject));
  } catch {
    throw new RegistryError("E_BAD_SIGNATURE"); // an owner whose key is a passkey signs with assertions only
  }
}

/** Steps 2..4 (outside the transaction: they read, and they cost CPU). */
function authenticate(ctx: Context, r: ParsedRequest): Authenticated {
  // The audience first: a request signed for another registry is not ours to judge (§6.2 "aud").
  if (!r.aud || !equalBytes(r.aud, ctx.registryKey.kid)) {
    throw new RegistryError("E_AUDIENCE", r.aud ? `the request is for the registry with kid ${toHex(r.aud)}, not this one` : `the request names no audience ("aud")`);
  }
  // The signer's key: a raw Ed25519 key or KeyObject (COSE_Sign1), or an owner's COSE_Key.
  let key: Uint8Array | KeyObject | { cose: Uint8Array };
  let party: Party;
  const owner = (): { cose: Uint8Array } => {
    const dids = ctx.store.imeis.didsFor(r.imei);
    if (dids.length === 0) throw new RegistryError("E_UNKNOWN_DEVICE");
    for (const did of dids) {
      const o = ctx.store.owners.current(did);
      if (o && equalBytes(o.kid, r.kid)) return { cose: o.key };
    }
    throw new RegistryError("E_NOT_OWNER");
  };
  switch (r.type) {
    case "claim-code":
    case "claim": {
      if (r.assertion) {
        // docs/PORTAL.md §4: a passkey claims with its own COSE_Key.
        if (!equalBytes(r.key!, r.assertion.passkey.publicKey)) throw new RegistryError("E_BAD_REQUEST", `"key" is not the COSE_Key of the passkey that signed`);
        key = { cose: r.key! };
      } else {
        const x = checkCoseKey(r.key!, `"key"`);
        if (!equalBytes(kidOfPublic(x), r.kid)) throw new RegistryError("E_BAD_REQUEST", "the kid is not the kid of the claimed key");
        key = x;
      }
      party = { role: "owner", kid: r.kid };
      break;
    }
    case "flag":
    case "flag-batch":
    case "reset-owner": {
      const a = ctx.authorities.find(r.kid);
      if (!a) throw new RegistryError("E_NOT_AUTHORITY");
      key = a.key;
      party = { role: "authority", kid: a.kid };
      break;
    }
    case "view":
    case "clear": {
      const a = ctx.authorities.find(r.kid);
      if (a) {
        key = a.key;
        party = { role: "authority", kid: a.kid };
      } else {
        try {
          key = owner();
        } catch (e) {
          if (e instanceof RegistryError && e.code === "E_NOT_OWNER") throw new RegistryError("E_UNKNOWN_SIGNER");
          throw e;
        }
        party = { role: "owner", kid: r.kid };
      }
      break;
    }
    default:
      key = owner();
      party = { role: "owner", kid: r.kid };
  }
  verifySignature(r, key);
  const skew = Math.abs(r.ts * 1000 - ctx.clock.now());
  if (skew > ctx.policy.requestWindowS * 1000) {
    throw new RegistryError("E_STALE", `ts is ${Math.round(skew / 1000)} s away from the registry's clock (window +-${ctx.policy.requestWindowS} s)`);
  }
  // §6.4: per signer, once it has proved it holds the key (a stranger cannot spend a victim's budget).
  const limits = party.role === "authority" ? ctx.limits.authority : ctx.limits.owner;
  if (limits.take(toHex(r.kid)) !== "ok") {
    throw new RegistryError("E_RATE_LIMITED", `more than ${limits.limit.burst} requests in a burst (${limits.limit.perSecond}/s sustained) from this ${party.role} key; retry later`);
  }
  if (r.type !== "claim") return { party };
  checkClaimCode(ctx, r, false);
  // The proof: the handset itself, at its user's hands, signed a registration-purpose token for
  // the claim code (any enrolled key of this IMEI).
  return { party, provedDid: claimProofDid(ctx, r.imei, r.code!, r.proof!) };
}

/**
 * A claim's code (§6.2 "Claim codes"): issued to this owner key for this IMEI, unexpired, unused.
 * `consume` (inside the claim's transaction) marks it used.
 */
function checkClaimCode(ctx: Context, r: ParsedRequest, consume: boolean): void {
  const c = ctx.store.claimCodes.get(r.code!);
  // A code issued to someone else reads as unknown: codes are not an oracle.
  if (!c || !equalBytes(c.ownerKid, r.kid) || c.imei !== r.imei) throw new RegistryError("E_CLAIM_CODE_UNKNOWN");
  if (c.usedAt !== null) throw new RegistryError("E_CLAIM_CODE_USED");
  const now = ctx.clock.now();
  if (now >= c.expiresAt) throw new RegistryError("E_CLAIM_CODE_EXPIRED");
  if (consume && !ctx.store.claimCodes.use(c.code, now)) throw new RegistryError("E_CLAIM_CODE_USED");
}

/**
 * The clear rule (§6.2): a device that was flagged (stolen, lost, authority) while it had no
 * owner cannot be claimed by whoever holds it once the flag is cleared; it needs an authority's
 * reset-owner (naming the owner, or releasing it) after that flag.
 */
function releaseRequired(ctx: Context, did: string): boolean {
  const owners = ctx.store.owners.history(did);
  const resetAt = ctx.store.ownerResets.latestAt(did) ?? -Infinity;
  return ctx.store.flags.history(did).some((f) =>
    isBlacklistKind(f.kind) && f.at >= resetAt && !owners.some((o) => o.since <= f.at && (o.until === null || o.until > f.at)));
}

/**
 * After a flag is lifted: when no stolen/lost/authority flag stands on the device any more, here
 * or at a peer, and its desired state is locked, an unlock is issued, so the lock follows the
 * network status (§6.2 "The clear rule").
 */
function unlockIfLastFlag(ctx: Context, did: string, imei: string, lock: (did: string, action: 1 | 2) => void): void {
  if (ctx.store.flags.active(did).some((f) => isBlacklistKind(f.kind))) return;
  if (ctx.store.peerFlags(imei).some((f) => isBlacklistKind(f.kind))) return;
  if (ctx.store.commands.latestStateChange(did)?.action === ACTION.LOCK) lock(did, ACTION.UNLOCK);
}

interface Applied {
  response: RequestResponse;
  pubs: Publication[];
}

/** Step 5, inside one transaction (a savepoint of the group commit). */
function apply(ctx: Context, r: ParsedRequest, auth: Authenticated): Applied {
  const { store } = ctx;
  const now = ctx.clock.now();
  if (store.requestIds.has(r.id)) throw new RegistryError("E_REPLAY");
  // WebAuthn §7.2 step 21, again inside the transaction: two copies of one assertion racing.
  if (r.assertion && !store.passkeys.used(r.assertion.passkey.credentialId, r.assertion.counter, now)) throw new RegistryError("E_WEBAUTHN_COUNTER");
  store.requestIds.purgeOccasionally(now, 2 * ctx.policy.requestWindowS * 1000);
  const party = auth.party;
  const who = partyName(party);
  const pubs: Publication[] = [];
  const commands: { seq: number; action: string; imei?: string }[] = [];
  const extra: Record<string, unknown> = {};
  const lock = (did: string, action: 1 | 2, imei?: string): void => {
    const { row, pubs: p } = issueCommand(ctx, did, action, { message: r.message, contact: r.contact }, who);
    pubs.push(...p);
    commands.push({ seq: row.seq, action: ACTION_NAMES[row.action], ...(imei ? { imei } : {}) });
  };
  switch (r.type) {
    case "claim": {
      const dids = store.imeis.didsFor(r.imei);
      if (dids.length === 0) throw new RegistryError("E_UNKNOWN_DEVICE");
      if (dids.length > 1) throw new RegistryError("E_CLONE_SUSPECT");
      const did = dids[0]!;
      if (did !== auth.provedDid) throw new RegistryError("E_BAD_PROOF", "the proof is from another device key");
      if (store.owners.current(did)) throw new RegistryError("E_ALREADY_CLAIMED");
      const active = store.flags.active(did);
      if (active.some((f) => f.kind === "clone")) throw new RegistryError("E_CLONE_SUSPECT");
      if (active.length > 0) throw new RegistryError("E_FLAGGED", `the device is flagged (${active.map((f) => f.kind).join(", ")})`);
      const federated = devicePeerFlags(store, r.imei); // docs/LEDGER.md §5: a peer's flag counts as ours
      if (federated.length > 0) throw new RegistryError("E_FLAGGED", `the device is flagged by ${peerNames(federated)}`);
      if (releaseRequired(ctx, did)) throw new RegistryError("E_RELEASE_REQUIRED");
      checkClaimCode(ctx, r, true); // single use: consumed with the claim, in this transaction
      store.owners.set(did, r.kid, r.key!, now, "claim");
      store.events.append({ at: now, type: "claimed", did, imei: r.imei, party: who, detail: {} });
      break;
    }
    case "view": {
      // PROTOCOL.md §6.2 "Device views": the whole view, for the owner (its own devices) or an authority.
      const view = fullDeviceView(store, r.imei, party.role === "owner" ? ownedDids(ctx, r) : undefined);
      if (!view) throw new RegistryError("E_UNKNOWN_DEVICE");
      extra.view = view;
      break;
    }
    case "claim-code": {
      const dids = store.imeis.didsFor(r.imei);
      if (dids.length === 0) throw new RegistryError("E_UNKNOWN_DEVICE");
      if (dids.some((d) => store.owners.current(d))) throw new RegistryError("E_ALREADY_CLAIMED");
      store.claimCodes.purgeOccasionally(now, 24 * 3600_000);
      let code = newClaimCode();
      for (let i = 0; !store.claimCodes.add(code, r.kid, r.imei, now, now + ctx.policy.claimCodeTtlMs); i++) {
        if (i > 8) throw new RegistryError("E_INTERNAL", "could not draw an unused claim code");
        code = newClaimCode();
      }
      store.events.append({ at: now, type: "claim-code-issued", did: dids[0]!, imei: r.imei, party: who, detail: {} });
      extra.code = formatClaimCode(code);
      extra.expires = now + ctx.policy.claimCodeTtlMs;
      break;
    }
    case "reset-owner": {
      // A pinned authority (police, operator) recovers a phone claimed by the wrong party: the
      // current ownership ends; the named key, if any, becomes the owner, otherwise the device
      // is released (claimable again with a fresh claim code). Flags are not touched.
      const dids = store.imeis.didsFor(r.imei);
      if (dids.length === 0) throw new RegistryError("E_UNKNOWN_DEVICE");
      const newKid = r.key ? ownerKidOfKey(ctx, r.key) : null;
      for (const did of dids) {
        const previous = store.owners.current(did);
        store.owners.end(did, now);
        if (r.key) store.owners.set(did, newKid!, r.key, now, "reset");
        store.ownerResets.add(did, now, party.kid!, newKid, r.reason ?? "");
        store.events.append({
          at: now, type: "owner-reset", did, imei: r.imei, party: who,
          detail: { from: previous ? toHex(previous.kid) : null, to: newKid ? toHex(newKid) : null, reason: r.reason ?? "" },
        });
        ctx.ledger?.ownerReset(did, r.imei); // a signed notice in the ledger, with the change (docs/LEDGER.md)
      }
      extra.owner = newKid ? toHex(newKid) : null;
      break;
    }
    case "transfer": {
      if (devicePeerFlags(store, r.imei).some((f) => isBlacklistKind(f.kind))) throw new RegistryError("E_FLAGGED", "a device flagged by another registry cannot change hands");
      for (const did of ownedDids(ctx, r)) {
        const active = store.flags.active(did).filter((f) => isBlacklistKind(f.kind));
        if (active.length > 0) throw new RegistryError("E_FLAGGED", "a flagged device cannot change hands");
        const newKid = ownerKidOfKey(ctx, r.key!);
        if (equalBytes(newKid, r.kid)) throw new RegistryError("E_BAD_REQUEST", "the new owner key is the current one");
        store.owners.set(did, newKid, r.key!, now, "transfer");
        store.events.append({ at: now, type: "transferred", did, imei: r.imei, party: who, detail: { to: toHex(newKid) } });
        extra.newOwnerKid = toHex(newKid);
      }
      break;
    }
    case "report-stolen":
    case "report-lost": {
      const kind = r.type === "report-stolen" ? "stolen" : "lost";
      for (const did of ownedDids(ctx, r)) {
        raiseFlag(ctx, did, r.imei, kind, party, r.reason ?? "");
        lock(did, ACTION.LOCK);
      }
      break;
    }
    case "found": {
      const dids = ownedDids(ctx, r);
      const federated = devicePeerFlags(store, r.imei).filter((f) => isBlacklistKind(f.kind));
      if (federated.length > 0) throw new RegistryError("E_FLAGGED_BY_OTHER", `flag(s) raised at ${peerNames(federated)} still stand; only that registry can clear them`);
      for (const did of dids) {
        const others = store.flags.active(did).filter((f) => isBlacklistKind(f.kind) && !sameParty(f.raisedBy, party));
        if (others.length > 0) {
          throw new RegistryError("E_FLAGGED_BY_OTHER", `flag(s) raised by ${others.map((f) => f.raisedBy.role).join(", ")} still stand; only they can clear them`);
        }
      }
      const mine = dids.flatMap((did) => store.flags.active(did).filter((f) => isBlacklistKind(f.kind) && sameParty(f.raisedBy, party)));
      // Nothing to be found: no unlock is issued for a phone that is not flagged (§6.2).
      if (mine.length === 0) throw new RegistryError("E_NOT_FLAGGED", "the device is not reported stolen or lost");
      for (const f of mine) clearFlag(ctx, f, party, r.imei);
      for (const did of dids) unlockIfLastFlag(ctx, did, r.imei, lock);
      break;
    }
    case "flag": {
      const dids = store.imeis.didsFor(r.imei);
      if (dids.length === 0) throw new RegistryError("E_UNKNOWN_DEVICE");
      for (const did of dids) {
        raiseFlag(ctx, did, r.imei, "authority", party, r.reason ?? "");
        lock(did, ACTION.LOCK);
      }
      break;
    }
    case "flag-batch": {
      // A mass block (a stolen shipment, a court order): every IMEI the registry knows is flagged
      // and locked in this one transaction; unknown IMEIs are listed, not an error, so one typo
      // does not hold back the rest. The whole batch is one request id, one signature check.
      const unknown: string[] = [];
      const flagged: { imei: string; status: string }[] = [];
      for (const imei of r.imeis!) {
        const dids = store.imeis.didsFor(imei);
        if (dids.length === 0) {
          unknown.push(imei);
          continue;
        }
        for (const did of dids) {
          raiseFlag(ctx, did, imei, "authority", party, r.reason ?? "");
          lock(did, ACTION.LOCK, imei);
        }
        flagged.push({ imei, status: equipmentStatus(store, imei) ?? "UNKNOWN" });
      }
      if (flagged.length === 0) throw new RegistryError("E_UNKNOWN_DEVICE", "none of the IMEIs is enrolled here");
      extra.flagged = flagged;
      extra.unknown = unknown;
      break;
    }
    case "clear": {
      // Only the originating registry can clear a peer's flag (docs/LEDGER.md §5).
      const federated = devicePeerFlags(store, r.imei);
      const notOurs = (): RegistryError => new RegistryError("E_NOT_FLAGGING_PARTY", `the flag was raised at ${peerNames(federated)}; only that registry can clear it`);
      const dids = party.role === "owner" ? ownedDids(ctx, r) : store.imeis.didsFor(r.imei);
      if (dids.length === 0) throw federated.length > 0 ? notOurs() : new RegistryError("E_UNKNOWN_DEVICE");
      const active: Flag[] = dids.flatMap((d) => store.flags.active(d));
      let mine = active.filter((f) => sameParty(f.raisedBy, party));
      // A pinned authority settles the registry's own suspicions once it has none of its own.
      if (mine.length === 0 && party.role === "authority") mine = active.filter((f) => f.raisedBy.role === "registry");
      if (mine.length === 0 && active.length === 0 && federated.length > 0) throw notOurs();
      if (mine.length === 0) throw new RegistryError(active.length > 0 ? "E_NOT_FLAGGING_PARTY" : "E_NOT_FLAGGED");
      for (const f of mine) clearFlag(ctx, f, party, r.imei);
      for (const did of dids) unlockIfLastFlag(ctx, did, r.imei, lock);
      extra.cleared = mine.map((f) => f.kind);
      break;
    }
  }
  store.requestIds.add(r.id, r.kid, r.type, now);
  return {
    response: { ok: true, type: r.type, imei: r.imei, status: equipmentStatus(store, r.imei) ?? "UNKNOWN", commands, ...extra },
    pubs,
  };
}

/**
 * The owner kid a COSE_Key in a request names: an Ed25519 key's (PROTOCOL.md §1), or a passkey's,
 * which must be registered here - its holder signs with WebAuthn assertions (docs/PORTAL.md §2).
 */
function ownerKidOfKey(ctx: Context, coseKey: Uint8Array): Uint8Array {
  if (passkeyAlg(coseKey) === undefined) return kidOfPublic(rawOfCoseKey(coseKey));
  const kid = kidOfCoseKey(coseKey);
  const p = ctx.store.passkeys.byKid(kid);
  if (!p || !equalBytes(p.publicKey, coseKey)) throw new RegistryError("E_BAD_KEY", "the key is a passkey not registered at this registry");
  return kid;
}

/** The devices of this IMEI the signer currently owns (re-checked inside the transaction). */
function ownedDids(ctx: Context, r: ParsedRequest): string[] {
  const dids = ctx.store.imeis.didsFor(r.imei);
  if (dids.length === 0) throw new RegistryError("E_UNKNOWN_DEVICE");
  const owned = dids.filter((d) => {
    const o = ctx.store.owners.current(d);
    return o !== undefined && equalBytes(o.kid, r.kid);
  });
  if (owned.length === 0) throw new RegistryError("E_NOT_OWNER");
  return owned;
}

/** "registry B (log ab12...)" for the peers whose flags stand (refusal messages). */
function peerNames(flags: readonly PeerFlag[]): string {
  return [...new Set(flags.map((f) => `registry ${f.registry || "?"} (log ${f.log})`))].join(", ");
}
