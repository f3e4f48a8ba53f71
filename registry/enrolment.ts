// Enrolment and clone detection (PROTOCOL.md §4.1-4.3, §6.1).
// hello: the endorsement is verified against the pinned OEM roots, must endorse the key the
// topic's did names and name only IMEIs in the TAC ranges its root is pinned for (oem-ranges.ts);
// only then is a challenge sent. attestation: the token must answer a nonce
// issued to this did and verify under the endorsed key (attestation/ verifyAttestation); the
// verified claims - never the hello's hints - then update the registry in one transaction:
// - first contact: the device is enrolled and its IMEI(s) bound to its key;
// - an IMEI already bound to another device key, or a second, different endorsement for a
//   device, makes every device involved a clone suspect (flag `clone`, GREYLISTED);
// - TAMPERED (ta_state 1), counters going backwards (a rolled-back sealed state) or an agent
//   measurement outside the accepted set raise a `tampered` flag (GREYLISTED);
// - an open command the attested state shows done is settled, and any open command re-sent.
// The hello's endorsement and the challenge are kept in the database (pending_hellos,
// challenges) and the challenge is published only after they commit, so the attestation may be
// taken by any registry worker on the database (MQTT 5 shared subscription); the challenge is
// used up in the transaction that records the attestation (challenges.ts: single use across
// workers).
import { createHash } from "node:crypto";
import {
  AttestationError, decodeSign1, toHex, verifyAttestation, verifyEndorsement, type VerifiedAttestation,
} from "../attestation/index.js";
import { decodeTokenClaims } from "../attestation/eat/claims.js";
import { INTUSE } from "../attestation/eat/profile.js";
import { decodeAttestation, decodeHello, deviceTopic, encodeChallenge } from "../protocol/messages.js";
import type { Context, Publication } from "./context.js";
import { raiseFlag, REGISTRY_PARTY } from "./flagging.js";
import { resendOpen, settleByAttestation } from "./commands.js";
import { equalBytes } from "../attestation/bytes.js";

function refuse(ctx: Context, event: string, did: string, reason: string): void {
  ctx.log.log("warn", event, { did, reason });
}

/**
 * PROTOCOL.md §6.4: hellos and heartbeats of one device id take a token from its bucket before
 * any signature is checked or anything written; over the limit they are dropped (logged once per
 * burst).
 */
export function admitted(ctx: Context, did: string, kind: "hello" | "heartbeat"): boolean {
  const t = ctx.limits.device.take(did);
  if (t === "ok") return true;
  ctx.log.log(t === "refused-first" ? "warn" : "debug", "device.rate-limited", { did, kind, burst: ctx.limits.device.limit.burst, perSecond: ctx.limits.device.limit.perSecond });
  return false;
}

function challenge(did: string, nonce: Uint8Array): Publication {
  return { topic: deviceTopic(did, "challenge"), payload: encodeChallenge({ nonce }), retain: false };
}

/**
 * §4.1: verify the endorsement, remember it and a fresh challenge (one commit), then send the
 * challenge and re-send any open command.
 */
export async function handleHello(ctx: Context, did: string, payload: Uint8Array): Promise<void> {
  const hello = decodeHello(payload);
  if (!admitted(ctx, did, "hello")) return;
  const e = verifyEndorsement(hello.endorsement, ctx.oemRoots);
  if (!e.ok) return refuse(ctx, "hello.refused", did, e.error.code);
  if (toHex(e.value.deviceKid) !== did) return refuse(ctx, "hello.refused", did, "the endorsement endorses another device key");
  const outOfRange = ctx.oemTacs.problem(e.value.oemKid, [e.value.claims.imei, e.value.claims.imei2]);
  if (outOfRange) return refuse(ctx, "hello.refused", did, outOfRange);
  const at = ctx.clock.now();
  const nonce = await ctx.gc.run(() => {
    ctx.store.pendingHellos.put(did, hello.endorsement, at);
    if (ctx.store.devices.get(did)) {
      ctx.store.devices.touch(did, at);
      ctx.store.devices.setAgent(did, hello.agent ?? null);
    }
    return ctx.challenges.forHello(did);
  });
  ctx.publish([challenge(did, nonce), ...resendOpen(ctx, did)]);
}

/** The eat_nonce a token claims, read without verification (only to pick the challenge). */
function claimedNonce(token: Uint8Array): Uint8Array | undefined {
  try {
    return decodeTokenClaims(decodeSign1(token).payload).nonce;
  } catch {
    return undefined;
  }
}

/** §4.3 and §6.1. */
export async function handleAttestation(ctx: Context, did: string, payload: Uint8Array): Promise<void> {
  const { token } = decodeAttestation(payload);
  const nonce = claimedNonce(token);
  const issuedAt = nonce && ctx.challenges.outstanding(did, nonce);
  if (!nonce || issuedAt === undefined) return refuse(ctx, "attestation.refused", did, "E_NONCE_UNKNOWN: no challenge to this device has that nonce");
  const endorsement = ctx.store.pendingHellos.get(did) ?? ctx.store.devices.get(did)?.endorsement;
  if (!endorsement) return refuse(ctx, "attestation.refused", did, "no endorsement: the device must send hello first");
  const r = verifyAttestation({ token, endorsement, nonce }, { oemRoots: ctx.oemRoots, nonces: ctx.challenges.verifierFor(nonce), expect: { purposes: [INTUSE.GENERIC] } });
  if (!r.ok) return refuse(ctx, "attestation.refused", did, r.error.code);
  if (toHex(r.value.deviceKid) !== did) return refuse(ctx, "attestation.refused", did, "the token's key is not this did's key");
  const outOfRange = ctx.oemTacs.problem(r.value.oemKid, [r.value.imei, r.value.imei2]);
  if (outOfRange) return refuse(ctx, "attestation.refused", did, outOfRange);
  if (ctx.clock.now() - issuedAt > ctx.challenges.ttlMs) return refuse(ctx, "attestation.refused", did, "E_NONCE_EXPIRED");
  let pubs: Publication[];
  try {
    pubs = await ctx.gc.run(() => {
      const challenger = ctx.challenges.take(did, nonce); // single use, across workers: throws if already taken
      ctx.store.pendingHellos.remove(did);
      return recordAttestation(ctx, did, endorsement, r.value, challenger);
    });
  } catch (e) {
    if (e instanceof AttestationError) return refuse(ctx, "attestation.refused", did, `${e.code}: ${e.message}`);
    throw e;
  }
  ctx.publish(pubs);
}

function sha512(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha512").update(b).digest());
}

/** The state changes of one verified attestation. Runs inside a transaction. */
function recordAttestation(ctx: Context, did: string, endorsement: Uint8Array, v: VerifiedAttestation, challenger: string): Publication[] {
  const { store } = ctx;
  const at = ctx.clock.now();
  const measurement = v.token.measurements[0]?.digest ?? null;
  const imeis: [string, 1 | 2][] = [[v.imei, 1]];
  if (v.imei2 !== undefined) imeis.push([v.imei2, 2]);
  const prior = store.devices.get(did);
  if (!prior) {
    store.devices.insert({
      did, deviceKey: v.deviceKey, endorsement, oemid: v.oemid, hwmodel: v.hwmodel, at,
      bootcount: v.token.bootcount ?? null, lockState: v.lockState, lastSeq: v.lastSeq, tampered: v.tampered, measurement,
    });
    // It just answered a challenge: it is online. Its retained `online` came before its hello,
    // while it was not enrolled, and was dropped (presence.ts); its Last Will says when it leaves.
    store.devices.setOnline(did, true, at);
    store.imeis.recordEndorsement(did, sha512(endorsement), endorsement, at);
    store.events.append({ at, type: "enrolled", did, imei: v.imei, party: "registry", detail: { imei2: v.imei2 ?? null, oemKid: toHex(v.oemKid) } });
    ctx.log.log("info", "device.enrolled", { did, tampered: v.tampered, challengedBy: challenger });
  } else {
    // A rolled-back sealed state reports counters below ones it already attested.
    const backwards = !v.tampered && (v.lastSeq < prior.lastSeq || (prior.bootcount !== null && v.token.bootcount !== undefined && v.token.bootcount < prior.bootcount));
    if (backwards) {
      raiseFlag(ctx, did, v.imei, "tampered", REGISTRY_PARTY, `attested counters went backwards (last_seq ${prior.lastSeq} -> ${v.lastSeq}, bootcount ${prior.bootcount} -> ${v.token.bootcount}): rolled-back state`);
    }
    store.devices.attested(did, {
      at,
      bootcount: v.token.bootcount ?? prior.bootcount,
      lockState: v.lockState,
      lastSeq: Math.max(prior.lastSeq, v.lastSeq),
      tampered: v.tampered,
      measurement: measurement ?? prior.measurement,
    });
    if (store.imeis.recordEndorsement(did, sha512(endorsement), endorsement, at)) {
      store.events.append({ at, type: "endorsement-changed", did, imei: v.imei, party: "registry", detail: {} });
      markClones(ctx, did, v.imei, imeis.map(([i]) => i), "a second, different endorsement was presented for this device");
    }
  }
  // The append-only log records changes only: the same state attested again adds nothing.
  const changed = !prior || prior.lockState !== v.lockState || prior.lastSeq !== v.lastSeq || prior.tampered !== v.tampered ||
    (v.token.bootcount !== undefined && v.token.bootcount !== prior.bootcount) || (measurement !== null && !(prior.measurement && equalBytes(prior.measurement, measurement)));
  if (changed) store.events.append({ at, type: "attested", did, party: `device:${did}`, detail: { lock: v.lockState, seq: v.lastSeq, tampered: v.tampered } });
  for (const [imei, slot] of imeis) {
    const others = store.imeis.didsFor(imei).filter((d) => d !== did);
    if (store.imeis.bind(imei, did, slot, at)) {
      store.events.append({ at, type: "imei-bound", did, imei, party: "registry", detail: { slot } });
      if (others.length > 0) markClones(ctx, did, imei, [imei], `IMEI presented by ${others.length + 1} different device keys`);
    }
  }
  if (v.tampered) raiseFlag(ctx, did, v.imei, "tampered", REGISTRY_PARTY, "the TA reports TAMPERED: its sealed state failed verification");
  const accepted = ctx.policy.acceptedMeasurements;
  if (!v.tampered && accepted.size > 0 && (measurement === null || !accepted.has(toHex(measurement)))) {
    raiseFlag(ctx, did, v.imei, "tampered", REGISTRY_PARTY, `agent measurement ${measurement ? toHex(measurement) : "(none)"} is not an accepted one`);
  }
  settleByAttestation(ctx, did, { lockState: v.lockState, lastSeq: v.lastSeq, tampered: v.tampered });
  return resendOpen(ctx, did);
}

/** Flags `did` and every other device bound to one of `imeis` as clone suspects. */
function markClones(ctx: Context, did: string, imei: string, imeis: string[], reason: string): void {
  const involved = new Set<string>([did]);
  for (const i of imeis) for (const d of ctx.store.imeis.didsFor(i)) involved.add(d);
  for (const d of involved) raiseFlag(ctx, d, imei, "clone", REGISTRY_PARTY, reason);
}
