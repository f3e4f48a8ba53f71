// The protocol steps scenarios are made of, each checked against the requirement it serves:
// equipment status (TS 29.511), signed owner and authority requests (PROTOCOL §6.2), and what
// the observer sees on the wire (receipts, results and their proof tokens, §4.5-4.6). Only the
// protocol is used, never a registry's or an agent's internals.
import {
  NonceStore, kidOfPublic, verifyDeviceToken, type Signer, type VerifiedToken,
} from "../../attestation/index.js";
import { commandNonce, decodeReceipt, decodeResult, peekCommand, type CommandPeek, type Result } from "../../protocol/messages.js";
import type { HttpAnswer } from "../../registry/client.js";
import type { SigningKey } from "../../registry/keys.js";
import { buildRequest, type RequestInput } from "../../registry/request-codec.js";
import type { Session } from "./session.js";
import { pool } from "../pool.js";
import type { Handset } from "./target.js";

export type Status = "WHITELISTED" | "BLACKLISTED" | "GREYLISTED" | "UNKNOWN";

/** TS 29.511 EquipmentIdentityCheck: the status, "UNKNOWN" for 404 ERROR_EQUIPMENT_UNKNOWN. */
export async function equipmentStatus(s: Session, imei: string): Promise<{ status: Status | string; http: number; body: Record<string, unknown> }> {
  const a = await s.http.equipmentStatus(`imei-${imei}`);
  if (a.status === 404 && a.body.cause === "ERROR_EQUIPMENT_UNKNOWN") return { status: "UNKNOWN", http: a.status, body: a.body };
  if (a.status === 200 && typeof a.body.status === "string") return { status: a.body.status, http: a.status, body: a.body };
  return { status: `HTTP ${a.status} ${JSON.stringify(a.body).slice(0, 120)}`, http: a.status, body: a.body };
}

/** Waits until the equipment status of `imei` is `want`. */
export async function expectStatus(s: Session, req: string, imei: string, want: Status, timeoutMs = s.timeoutMs): Promise<void> {
  let last = "";
  await s.waitFor(req, `equipment status of ${imei} to be ${want}`, async () => {
    last = (await equipmentStatus(s, imei)).status;
    return last === want;
  }, timeoutMs, () => last);
}

/**
 * Waits until every IMEI's status is `want`, polling in rounds (16 requests in flight, 200 ms
 * between rounds) so that a large fleet does not flood the registry it is waiting for. Fails
 * when no IMEI reached `want` for `stallMs` (a fleet may take long; it may not stand still).
 */
export async function expectAllStatus(s: Session, req: string, imeis: readonly string[], want: Status, stallMs: number, progress?: (done: number) => void): Promise<void> {
  let pending = [...imeis];
  let moved = performance.now();
  const last = new Map<string, string>();
  for (;;) {
    const still: string[] = [];
    await pool(pending, 16, async (imei) => {
      const got = (await equipmentStatus(s, imei)).status;
      if (got !== want) (still.push(imei), last.set(imei, got));
    });
    if (still.length < pending.length) moved = performance.now();
    pending = still;
    progress?.(imeis.length - pending.length);
    if (pending.length === 0) return;
    if (performance.now() - moved > stallMs) s.fail(req, `${pending.length} of ${imeis.length} IMEIs not ${want}, none for ${stallMs} ms (e.g. ${pending[0]}: ${last.get(pending[0]!)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Asserts the equipment status of `imei` is `want` now. */
export async function statusNow(s: Session, req: string, imei: string, want: Status, why: string): Promise<void> {
  const got = (await equipmentStatus(s, imei)).status;
  s.check(req, got === want, `${why}: equipment status of ${imei} is ${got}, expected ${want}`);
}

/**
 * Asserts the status stays `want` for `ms` (after an attack: a registry that wrongly acts on it
 * shows it within milliseconds; the settle time only bounds how long "nothing happens" is
 * watched).
 */
export async function staysStatus(s: Session, req: string, imei: string, want: Status, ms: number, why: string): Promise<void> {
  const end = performance.now() + ms;
  do {
    await statusNow(s, req, imei, want, why);
    await new Promise((r) => setTimeout(r, 25));
  } while (performance.now() < end);
}

/** The owner each IMEI was claimed by in a session (claim below): a viewer when the target has no authority. */
const owners = new WeakMap<Session, Map<string, SigningKey>>();

/**
 * The open command of `imei` in the registry's whole device view (PROTOCOL §6.2 "Device views":
 * `devices[].pendingCommand`, null or absent when none; docs/CONFORMANCE.md lists what the suite
 * reads beyond the standard interfaces), or undefined. The view is asked with a signed "view"
 * request of the target's authority or, without one, of the owner that claimed the IMEI here.
 * A refused view request fails the scenario: it is never read as "no command".
 */
export async function pendingCommand(s: Session, imei: string): Promise<unknown> {
  const viewer = s.target.authority ?? owners.get(s)?.get(imei)?.signer;
  if (!viewer) throw new Error(`no key may read the device view of ${imei}: the target has no authority and the IMEI was not claimed in this session`);
  const a = await s.http.device(imei, viewer);
  if (a.status !== 200) throw new Error(`the registry refused the device view of ${imei}: HTTP ${a.status} ${JSON.stringify(a.body)}`);
  const devices = Array.isArray(a.body.devices) ? (a.body.devices as Record<string, unknown>[]) : [];
  return devices.map((d) => d.pendingCommand).find((p) => p !== null && p !== undefined);
}

/** Powers a handset on and waits until the registry answers WHITELISTED for it (enrolled). */
export async function enrol(s: Session, h: Handset): Promise<void> {
  const mark = s.observer.mark;
  await h.powerOn();
  // PROTOCOL §4.1: a hello on every connect, on the device's pseudonymous topic.
  await s.waitFor("REQ-ID-01", `a hello from ${h.did}`, () => s.observer.of(h.did, "hello", mark)[0]);
  await expectStatus(s, "REQ-ID-02", h.imei, "WHITELISTED");
}

/** Sends a signed request (PROTOCOL §6.2). */
export function request(s: Session, signer: Signer, input: RequestInput): Promise<HttpAnswer> {
  return s.http.send(buildRequest(signer, input, kidOfPublic(s.target.registryPublic)));
}

/** Expects a request to be accepted (HTTP 200, ok: true). */
export async function accepted(s: Session, req: string, signer: Signer, input: RequestInput): Promise<HttpAnswer> {
  const a = await request(s, signer, input);
  s.check(req, a.status === 200 && a.body.ok === true, `the ${input.type} request for ${input.imeis ? `${input.imeis.length} IMEIs` : input.imei} was refused: HTTP ${a.status} ${JSON.stringify(a.body)}`);
  return a;
}

/** Expects a request to be refused (4xx, ok: false). Returns the error code. */
export async function refused(s: Session, req: string, signer: Signer, input: RequestInput | Uint8Array, what: string): Promise<string> {
  const a = input instanceof Uint8Array ? await s.http.send(input) : await request(s, signer, input);
  s.check(req, a.status >= 400 && a.status < 500 && a.body.ok === false, `${what} was not refused: HTTP ${a.status} ${JSON.stringify(a.body)}`);
  return String(a.body.code);
}

/**
 * The owner asks the registry for a claim code (PROTOCOL §6.2); the code, or undefined when the
 * registry refuses to issue one (e.g. for a clone-suspect or already claimed IMEI).
 */
export async function claimCode(s: Session, h: Handset, owner: SigningKey): Promise<string | undefined> {
  const a = await request(s, owner.signer, { type: "claim-code", imei: h.imei, key: owner.coseKey });
  return a.status === 200 && a.body.ok === true && typeof a.body.code === "string" ? a.body.code : undefined;
}

/**
 * A claim request as the owner sends it: a fresh claim code, typed on the handset, and the proof
 * the handset made for it. When no code is issued, a well-formed code nobody was given is used
 * (the claim is then refused, which is what a caller expecting a refusal checks).
 */
export async function claimRequest(s: Session, h: Handset, owner: SigningKey): Promise<RequestInput> {
  const code = (await claimCode(s, h, owner)) ?? "00000-00000";
  return { type: "claim", imei: h.imei, key: owner.coseKey, code, proof: await h.claimProof(code) };
}

/** The owner claims the handset with a fresh claim code and the handset's proof for it (PROTOCOL §6.2, REQ-RG-01). */
export async function claim(s: Session, h: Handset, owner: SigningKey): Promise<void> {
  const code = await claimCode(s, h, owner);
  s.check("REQ-RG-01", code !== undefined, `the registry issued no claim code for ${h.imei}`);
  await accepted(s, "REQ-RG-01", owner.signer, { type: "claim", imei: h.imei, key: owner.coseKey, code: code!, proof: await h.claimProof(code!) });
  if (!owners.has(s)) owners.set(s, new Map());
  owners.get(s)!.set(h.imei, owner);
}

/** The next command the device's topic carries after `from` (as the registry published it). */
export async function nextCommand(s: Session, req: string, h: Handset, from: number, action?: number): Promise<{ bytes: Uint8Array; peek: CommandPeek }> {
  return s.observer
    .waitFor(
      (m) => {
        if (m.did !== h.did || m.kind !== "command") return undefined;
        try {
          const peek = peekCommand(m.payload);
          return action === undefined || peek.action === action ? { bytes: m.payload, peek } : undefined;
        } catch {
          return undefined;
        }
      },
      s.timeoutMs,
      `a command for ${h.did}`,
      from,
    )
    .catch((e: Error) => s.fail(req, e.message));
}

/** Waits for the device's receipt of `seq` (PROTOCOL §4.5). */
export async function receipt(s: Session, req: string, h: Handset, seq: number, from: number): Promise<void> {
  await s.observer
    .waitFor((m) => (m.did === h.did && m.kind === "receipt" && safe(() => decodeReceipt(m.payload).seq === seq) ? true : undefined), s.timeoutMs, `a receipt for seq ${seq} from ${h.did}`, from)
    .catch((e: Error) => s.fail(req, e.message));
}

/** Waits for the device's result for `seq` (PROTOCOL §4.6). */
export async function result(s: Session, req: string, h: Handset, seq: number, from: number): Promise<Result> {
  return s.observer
    .waitFor(
      (m) => {
        if (m.did !== h.did || m.kind !== "result") return undefined;
        const r = safe(() => decodeResult(m.payload));
        return r && r.seq === seq ? r : undefined;
      },
      s.timeoutMs,
      `a result for seq ${seq} from ${h.did}`,
      from,
    )
    .catch((e: Error) => s.fail(req, e.message));
}

/**
 * Checks a SUCCEEDED result's proof (REQ-AT-06): a token signed by the handset's key, nonce
 * SHA-512(command)[0..32], showing `lockState` and a last sequence number of at least `seq`.
 */
export function checkProof(s: Session, h: Handset, r: Result, command: Uint8Array, lockState: number): VerifiedToken {
  s.check("REQ-AT-06", r.token !== undefined, `the SUCCEEDED result for seq ${r.seq} carries no proof token`);
  const nonces = new NonceStore({ ttlMs: 60_000 });
  const nonce = commandNonce(command);
  nonces.register(nonce);
  const v = verifyDeviceToken({ token: r.token!, nonce }, { deviceKey: h.devicePublic, imei: h.imei }, { nonces });
  if (!v.ok) s.fail("REQ-AT-06", `the proof token of seq ${r.seq} does not verify: ${v.error.code}`);
  s.check("REQ-AT-06", v.value.lockState === lockState && v.value.lastSeq >= r.seq, `the proof token shows lock state ${v.value.lockState} / last seq ${v.value.lastSeq}, expected ${lockState} / >= ${r.seq}`);
  return v.value;
}

/**
 * Checks a REJECTED result (REQ-AT-07): the TA's error code, and a token signed by the handset's
 * key for SHA-512(command)[0..32] showing the state the refusal left alone (`lockState`, `lastSeq`).
 */
export function checkRefusal(s: Session, h: Handset, r: Result, command: Uint8Array, lockState: number, lastSeq: number): VerifiedToken {
  s.check("REQ-AT-07", r.status === "REJECTED" && typeof r.error === "number" && r.error < 0, `the refusal of seq ${r.seq} is ${r.status} with error ${r.error}, expected REJECTED with the TA's (negative) error code`);
  s.check("REQ-AT-07", r.token !== undefined, `the REJECTED result for seq ${r.seq} carries no token: a refusal must be signed by the device`);
  const nonces = new NonceStore({ ttlMs: 60_000 });
  const nonce = commandNonce(command);
  nonces.register(nonce);
  const v = verifyDeviceToken({ token: r.token!, nonce }, { deviceKey: h.devicePublic, imei: h.imei }, { nonces });
  if (!v.ok) s.fail("REQ-AT-07", `the token of the REJECTED result for seq ${r.seq} does not verify for the refused command: ${v.error.code}`);
  s.check("REQ-AT-07", v.value.lockState === lockState && v.value.lastSeq === lastSeq, `the REJECTED result's token shows lock state ${v.value.lockState} / last seq ${v.value.lastSeq}, expected the unchanged ${lockState} / ${lastSeq}`);
  return v.value;
}

/** Waits until the handset's screen is (un)locked, optionally showing `text`. */
export async function screen(s: Session, req: string, h: Handset, locked: boolean, text?: string, timeoutMs = s.timeoutMs): Promise<void> {
  await s.waitFor(
    req,
    `the handset ${h.imei} to be ${locked ? "locked" : "unlocked"}${text ? ` showing "${text}"` : ""}`,
    () => {
      const sc = h.screen();
      return sc.locked === locked && (text === undefined || sc.text.includes(text));
    },
    timeoutMs,
    () => JSON.stringify(h.screen()),
  );
}

/** Asserts the screen now. */
export function screenNow(s: Session, req: string, h: Handset, locked: boolean, why: string): void {
  const sc = h.screen();
  s.check(req, sc.locked === locked, `${why}: the handset ${h.imei} is ${sc.locked ? "locked" : "unlocked"}, expected ${locked ? "locked" : "unlocked"}`);
}

/**
 * A full lock through the protocol: report (or flag), the command on the wire, receipt, handset
 * locked with the text, SUCCEEDED result with a valid proof. Returns the command.
 */
export async function lockAndConfirm(
  s: Session,
  h: Handset,
  send: () => Promise<unknown>,
  text: { message: string; contact: string },
  /** The requirement a missing command, receipt or result violates (default REQ-LK-01/02). */
  req?: string,
): Promise<{ bytes: Uint8Array; seq: number }> {
  const mark = s.observer.mark;
  await send();
  const cmd = await nextCommand(s, req ?? "REQ-LK-01", h, mark, 1);
  await receipt(s, req ?? "REQ-LK-02", h, cmd.peek.seq, mark);
  const r = await result(s, req ?? "REQ-LK-02", h, cmd.peek.seq, mark);
  s.check("REQ-LK-02", r.status === "SUCCEEDED" && r.code === 2, `the lock's result is ${r.status} code ${r.code}, expected SUCCEEDED code 2 (LwM2M full lock OK)`);
  checkProof(s, h, r, cmd.bytes, 2);
  // §4.6: SUCCEEDED means persisted AND enforced, so the screen is locked by now.
  screenNow(s, "REQ-LK-01", h, true, "after its SUCCEEDED result");
  const shown = h.screen().text;
  s.check("REQ-LK-01", shown.includes(text.message) && shown.includes(text.contact), `the lock screen does not show the owner's message and contact: ${JSON.stringify(shown)}`);
  return { bytes: cmd.bytes, seq: cmd.peek.seq };
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
