// Signed commands (PROTOCOL.md §5) and their jobs (§4.5 receipt, §4.6 result).
// A command is issued inside the transaction that decided it (a report, a flag, found), so the
// flag and its command commit together; it is published on `.../command` and, for lock and
// unlock, retained on `.../desired` only after that commit. It stays open until a result whose
// token proves the new state arrives, and is re-sent on every hello and heartbeat meanwhile.
import { createSign1, encodeDeterministic, fromHex, ueidFromImei } from "../attestation/index.js";
import { ACTION, decodeReceipt, decodeResult, deviceTopic, resultCode } from "../protocol/messages.js";
import { RegistryError } from "./errors.js";
import type { CommandRow, Action, Store } from "./store.js";
import { OPEN_STATUSES } from "./store.js";
import type { Context, Publication } from "./context.js";
import type { SigningKey } from "./keys.js";
import { commandNonce, verifyBoundToken } from "./device-proof.js";
import { INTUSE } from "../attestation/eat/profile.js";
import { describeTaError, raiseResultAlert } from "./result-alerts.js";

export const ACTION_NAMES: Readonly<Record<Action, string>> = { 1: "lock", 2: "unlock", 3: "message" };
export const MAX_SEQ = 0xffff_ffff;
/** §5: message tstr .size (0..128), contact tstr .size (0..32): sizes in UTF-8 bytes. */
export const MAX_MESSAGE_BYTES = 128;
export const MAX_CONTACT_BYTES = 32;

const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8");

/** Boundary check of lock-screen text (E_BAD_REQUEST). */
export function checkCommandText(message: string | undefined, contact: string | undefined): void {
  if (message !== undefined && utf8Length(message) > MAX_MESSAGE_BYTES) {
    throw new RegistryError("E_BAD_REQUEST", `message is ${utf8Length(message)} bytes of UTF-8; at most ${MAX_MESSAGE_BYTES}`);
  }
  if (contact !== undefined && utf8Length(contact) > MAX_CONTACT_BYTES) {
    throw new RegistryError("E_BAD_REQUEST", `contact is ${utf8Length(contact)} bytes of UTF-8; at most ${MAX_CONTACT_BYTES}`);
  }
}

export interface CommandFields {
  readonly ueid: Uint8Array;
  readonly deviceKid: Uint8Array;
  readonly seq: number;
  readonly action: Action;
  readonly message?: string | undefined;
  readonly contact?: string | undefined;
}

/** §5: tag 18 COSE_Sign1 over the deterministic payload map {1 ueid, 2 kid, 3 seq, 4 action, ?5, ?6}. */
export function signCommand(key: SigningKey, c: CommandFields): Uint8Array {
  checkCommandText(c.message, c.contact);
  const payload = new Map<number, Uint8Array | number | string>([
    [1, c.ueid],
    [2, c.deviceKid],
    [3, c.seq],
    [4, c.action],
  ]);
  if (c.message !== undefined) payload.set(5, c.message);
  if (c.contact !== undefined) payload.set(6, c.contact);
  return createSign1(encodeDeterministic(payload), key.signer, { cwtTag: false });
}

/** The IMEIs currently bound to a device: slot 1 (its ueid) and slot 2. */
export function deviceImeis(store: Store, did: string): { imei?: string; imei2?: string } {
  const b = store.imeis.of(did);
  const imei = b.find((x) => x.slot === 1)?.imei;
  const imei2 = b.find((x) => x.slot === 2)?.imei;
  return { ...(imei ? { imei } : {}), ...(imei2 ? { imei2 } : {}) };
}

/** Publications of a command: `.../command`, and for lock/unlock the retained `.../desired`. */
export function commandPublications(ctx: Context, row: CommandRow): Publication[] {
  const markSent = (): Promise<void> =>
    ctx.gc.later(
      () => ctx.store.commands.markSent(row.did, row.seq, ctx.clock.now()),
      (e) => ctx.log.log("warn", "command.mark-sent-failed", { did: row.did, seq: row.seq, error: String(e) }),
    );
  const pubs: Publication[] = [{ topic: deviceTopic(row.did, "command"), payload: row.cose, retain: false, onSent: markSent }];
  if (row.action !== ACTION.MESSAGE) pubs.push({ topic: deviceTopic(row.did, "desired"), payload: row.cose, retain: true });
  return pubs;
}

/**
 * Issues a command to an enrolled device. Must run inside a transaction; returns the row and
 * what to publish once it commits. The sequence number is above both the registry's last one
 * and the last one the device attested, so a restored database never re-uses a number.
 */
export function issueCommand(
  ctx: Context,
  did: string,
  action: Action,
  text: { message?: string | undefined; contact?: string | undefined },
  party: string,
): { row: CommandRow; pubs: Publication[] } {
  const { store } = ctx;
  const dev = store.devices.get(did);
  const { imei } = deviceImeis(store, did);
  if (!dev || !imei) throw new RegistryError("E_UNKNOWN_DEVICE", `device ${did} is not enrolled`);
  const seq = Math.max(store.commands.maxSeq(did), dev.lastSeq) + 1;
  if (seq > MAX_SEQ) throw new RegistryError("E_SEQ_EXHAUSTED");
  const cose = signCommand(ctx.registryKey, { ueid: ueidFromImei(imei), deviceKid: fromHex(did), seq, action, ...text });
  const at = ctx.clock.now();
  store.commands.insert(did, seq, action, text.message ?? null, text.contact ?? null, cose, at);
  // A newer lock/unlock replaces older open ones (the device rejects their lower seq anyway).
  if (action !== ACTION.MESSAGE) store.commands.supersedeBelow(did, seq);
  store.events.append({ at, type: "command-issued", did, imei, party, detail: { seq, action: ACTION_NAMES[action] } });
  const row = store.commands.get(did, seq)!;
  return { row, pubs: commandPublications(ctx, row) };
}

const isOpen = (c: CommandRow): boolean => (OPEN_STATUSES as readonly string[]).includes(c.status);

/** The device's newest command when it still waits for a successful result. */
export function openCommand(store: Store, did: string): CommandRow | undefined {
  const c = store.commands.latest(did);
  return c && (c.status === "QUEUED" || c.status === "SENT" || c.status === "IN_PROGRESS" || c.status === "FAILED") ? c : undefined;
}

/** §5: re-send the open command (on hello and heartbeat). Only `.../command`: `desired` is retained. */
export function resendOpen(ctx: Context, did: string): Publication[] {
  const c = openCommand(ctx.store, did);
  if (!c) return [];
  ctx.log.log("debug", "command.resend", { did, seq: c.seq });
  return commandPublications(ctx, c).filter((p) => !p.retain);
}

/** Commands committed but never published (a crash between commit and publish): publish them now. */
export function unpublished(ctx: Context): Publication[] {
  return ctx.store.commands.queued().flatMap((c) => commandPublications(ctx, c));
}

/** Every device's desired state again (the broker lost its retained messages). */
export function desiredAgain(ctx: Context): Publication[] {
  return ctx.store.commands.desiredAll().map((c) => ({ topic: deviceTopic(c.did, "desired"), payload: c.cose, retain: true }));
}

/**
 * A verified attestation shows the device at or beyond an open command with the state it asks
 * for (the result message itself may have been lost): the job succeeded. Inside a transaction.
 */
export function settleByAttestation(ctx: Context, did: string, s: { lockState: number; lastSeq: number; tampered: boolean }): void {
  const c = openCommand(ctx.store, did);
  if (!c || s.tampered || s.lastSeq < c.seq) return;
  if ((c.action === ACTION.LOCK && s.lockState !== 2) || (c.action === ACTION.UNLOCK && s.lockState !== 0)) return;
  const at = ctx.clock.now();
  ctx.store.commands.setResult(did, c.seq, { status: "SUCCEEDED", code: resultCode(c.action, true), error: null, token: null, at });
  if (c.action === ACTION.LOCK) ctx.metrics?.lockLatency(at - c.createdAt);
  ctx.store.events.append({ at, type: "command-result", did, party: "registry", detail: { seq: c.seq, status: "SUCCEEDED", via: "attestation" } });
}

/** §4.5: the device took the command off the wire (informational: IN_PROGRESS). */
export async function handleReceipt(ctx: Context, did: string, payload: Uint8Array): Promise<void> {
  const r = decodeReceipt(payload);
  const at = ctx.clock.now();
  let changed = false;
  await ctx.gc.later(() => (changed = ctx.store.commands.markReceipt(did, r.seq, at)));
  ctx.log.log(changed ? "info" : "debug", "command.receipt", { did, seq: r.seq, applied: changed });
}

/**
 * §4.6: the final outcome. SUCCEEDED counts only with a token, signed by the enrolled device
 * key, whose nonce is SHA-512(command bytes)[0..32] and whose state is what the command asked
 * for; anything else is logged and dropped (the command stays open and keeps being re-sent).
 * FAILED and REJECTED need the same proof (a token bound to the command): without one, anyone
 * able to publish on the device's result topic could move the job. A result only moves an open
 * job (QUEUED, SENT, IN_PROGRESS, FAILED): a job that ended - SUCCEEDED, REJECTED or SUPERSEDED -
 * is never reopened by a later message, genuine or replayed.
 */
export async function handleResult(ctx: Context, did: string, payload: Uint8Array): Promise<void> {
  const r = decodeResult(payload);
  const { store } = ctx;
  const cmd = store.commands.get(did, r.seq);
  const dev = store.devices.get(did);
  if (!cmd || !dev) return drop(ctx, did, r.seq, "no such command");
  if (cmd.status === "SUCCEEDED" && r.status === "SUCCEEDED") return void ctx.log.log("debug", "command.result-duplicate", { did, seq: r.seq });
  if (!isOpen(cmd)) return drop(ctx, did, r.seq, `the job has ended (${cmd.status})`);
  let tokenState: { lockState: number; lastSeq: number; bootcount: number | null; tampered: boolean; measurement: Uint8Array | null } | undefined;
  if (r.token !== undefined) {
    const v = verifyBoundToken({ deviceKey: dev.deviceKey, ...deviceImeis(store, did) }, r.token, commandNonce(cmd.cose), [INTUSE.GENERIC]);
    if (!v.ok) return drop(ctx, did, r.seq, `token refused: ${v.error.code}`);
    const t = v.value;
    tokenState = { lockState: t.lockState, lastSeq: t.lastSeq, bootcount: t.token.bootcount ?? null, tampered: t.tampered, measurement: t.token.measurements[0]?.digest ?? null };
  }
  // An unauthenticated REJECTED would end the job (no more re-sends): anyone able to publish on
  // the device's result topic could cancel a lock that way. It counts only with the device's token.
  // The same holds for FAILED (PROTOCOL §4.6): every result needs the device's token.
  if (!tokenState) return drop(ctx, did, r.seq, `${r.status} without a token`);
  if (r.status === "SUCCEEDED") {
    if (r.code !== resultCode(cmd.action, true)) return drop(ctx, did, r.seq, `code ${r.code} does not match action ${cmd.action}`);
    const want = cmd.action === ACTION.LOCK ? 2 : cmd.action === ACTION.UNLOCK ? 0 : tokenState.lockState;
    if (tokenState.tampered || tokenState.lockState !== want || tokenState.lastSeq < cmd.seq) {
      return drop(ctx, did, r.seq, "the token does not show the commanded state");
    }
  }
  const t = tokenState;
  let stored = false;
  const pubs = await ctx.gc.run((): Publication[] => {
    const at = ctx.clock.now();
    const now = store.commands.get(did, r.seq)!;
    if (!isOpen(now)) return [];
    store.commands.setResult(did, r.seq, { status: r.status, code: r.code, error: r.error ?? null, token: r.token ?? null, at });
    stored = true;
    const d = store.devices.get(did)!;
    if (t && !t.tampered && t.lastSeq >= d.lastSeq) {
      store.devices.attested(did, { at, bootcount: t.bootcount ?? d.bootcount, lockState: t.lockState as 0 | 1 | 2, lastSeq: t.lastSeq, tampered: d.tampered, measurement: t.measurement ?? d.measurement });
    }
    store.events.append({ at, type: "command-result", did, party: `device:${did}`, detail: { seq: r.seq, status: r.status, code: r.code, ...(r.error !== undefined ? { error: r.error } : {}) } });
    return r.status === "REJECTED" && t ? reissueAboveStale(ctx, now, t) : [];
  });
  ctx.log.log(r.status === "SUCCEEDED" ? "info" : "warn", "command.result", { did, seq: r.seq, status: r.status, code: r.code, error: r.error, ...(r.error !== undefined ? { errorName: describeTaError(r.error).name } : {}) });
  if (stored && r.status === "SUCCEEDED" && cmd.action === ACTION.LOCK) ctx.metrics?.lockLatency(ctx.clock.now() - cmd.createdAt);
  if (stored) raiseResultAlert(ctx, cmd, ACTION_NAMES[cmd.action], r.status, r.error, deviceImeis(store, did).imei);
  ctx.publish(pubs);
}

/**
 * A lock/unlock the TA refused only because its sequence number was not above the last one the
 * TA accepted (a registry database restored from backup, or a second registry key holder): the
 * signed token shows the TA's last_seq, so the same intent is issued again above it - the owner
 * does not have to report twice. Only for the device's newest command, only when the token shows
 * the state still differs from the one asked for, and only once per stale number (the new seq is
 * above the attested one, so a second refusal cannot be for staleness). Inside the transaction.
 */
function reissueAboveStale(ctx: Context, cmd: CommandRow, t: { lockState: number; lastSeq: number; tampered: boolean }): Publication[] {
  if (cmd.action === ACTION.MESSAGE || t.tampered || t.lastSeq < cmd.seq) return [];
  if (ctx.store.commands.latest(cmd.did)?.seq !== cmd.seq) return [];
  if ((cmd.action === ACTION.LOCK && t.lockState === 2) || (cmd.action === ACTION.UNLOCK && t.lockState === 0)) return [];
  const { row, pubs } = issueCommand(ctx, cmd.did, cmd.action, { message: cmd.message ?? undefined, contact: cmd.contact ?? undefined }, "registry");
  ctx.log.log("info", "command.reissued", { did: cmd.did, stale: cmd.seq, seq: row.seq, action: ACTION_NAMES[cmd.action] });
  return pubs;
}

function drop(ctx: Context, did: string, seq: number, why: string): void {
  ctx.log.log("warn", "command.result-refused", { did, seq, reason: why });
}
