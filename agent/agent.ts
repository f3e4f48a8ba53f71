// The device agent (docs/PROTOCOL.md): the handset-side process between the TA, the
// platform (an Enforcer) and the registry (over MQTT).
//
// Boot order: boot the TA with the fuse, stored blob and counter; persist the new blob (bootcount);
// ENFORCE the TA's lock state; only then open the network. A TAMPERED TA counts as locked.
// On a command (§5): receipt -> TA apply_command -> persist blob, then counter -> PUBACK ->
// enforce -> result with a proof token (nonce = SHA-512(command)[0..32], §4.6). Duplicate
// deliveries of the last accepted command are re-reported, not re-applied. Everything received is
// hostile until the TA says otherwise: malformed payloads are logged and dropped.
// Time, transport, storage, enforcement and logging are injected; one Agent holds one TA instance
// of a shared compiled module, so fleets run thousands in one process.
import { toHex } from "../attestation/bytes.js";
import type { BackoffOptions } from "./backoff.js";
import { systemClock, type Clock } from "./clock.js";
import type { AgentState, CommandRecord, DeviceFolder } from "./device-folder.js";
import { enforce, type Enforcer } from "./enforcement.js";
import { silentLogger, type Logger } from "./log.js";
import type { Transport } from "./mqtt-link.js";
import {
  ACTION, commandNonce, DEVICE_SUBSCRIPTIONS, MAX_PAYLOAD_BYTES, decodeChallenge, encodeAttestation, encodeHeartbeat,
  encodeHello, encodeReceipt, encodeResult, parseDeviceTopic, peekCommand, resultCode,
  type CommandPeek, type Result,
} from "../protocol/messages.js";
import { DeviceSession, type BootOptions, type SessionView } from "./session.js";
import { Uplink, type UplinkOptions } from "./uplink.js";

export const AGENT_NAME = "antitheft-agent/0.1.0";
export const DEFAULT_HEARTBEAT_S = 60;
/**
 * Challenges waiting beyond this are dropped: each costs a signature, and a flood must not grow
 * the queue without bound. (Commands need no bound: their PUBACK waits for them, which stops
 * the transport from reading more.)
 */
export const MAX_QUEUED_TASKS = 32;

export interface AgentOptions {
  readonly folder: DeviceFolder;
  /** The compiled TA (shared by every agent of a fleet). */
  readonly module: WebAssembly.Module;
  readonly transport: Transport;
  readonly enforcer: Enforcer;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5. */
  readonly protocolVersion?: 4 | 5;
  /** Heartbeat interval in seconds (default 60; 0 disables). */
  readonly heartbeatS?: number;
  /** Reconnect backoff (its clock is the agent's). */
  readonly backoff?: Omit<BackoffOptions, "clock">;
  /** Host-reported digest of the agent/firmware (0..64 bytes) put in every attestation. */
  readonly measurement?: Uint8Array;
  /** dbgstat the boot hardware reports (RFC 9711 §4.2.9). */
  readonly dbgstat?: number;
  readonly keepaliveS?: number;
  /** Fail fast: the broker refused the first connection in a way no retry heals (uplink.ts). */
  readonly onTransportRefused?: UplinkOptions["onRefused"];
  /** Makes the TA instance (default: a fresh TrustedApp of `module`; see BootOptions.createTa). */
  readonly createTa?: BootOptions["createTa"];
}

export class Agent {
  readonly #o: AgentOptions;
  readonly #log: Logger;
  readonly #uplink: Uplink;
  #session: DeviceSession;
  #state: AgentState;
  #queue: Promise<void> = Promise.resolve();
  #queued = 0;

  private constructor(o: AgentOptions, session: DeviceSession, endorsement: Uint8Array, state: AgentState) {
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    this.#session = session;
    this.#state = state;
    this.#uplink = new Uplink({
      did: session.did,
      transport: o.transport,
      clock: o.clock ?? systemClock,
      logger: this.#log,
      protocolVersion: o.protocolVersion ?? 4,
      ...(o.keepaliveS !== undefined ? { keepaliveS: o.keepaliveS } : {}),
      ...(o.backoff !== undefined ? { backoff: o.backoff } : {}),
      heartbeatS: o.heartbeatS ?? DEFAULT_HEARTBEAT_S,
      onMessage: (topic, payload) => this.#onMessage(topic, payload),
      hello: () => encodeHello({ endorsement, ...this.#report(), agent: AGENT_NAME }),
      heartbeat: () => encodeHeartbeat(this.#report()),
      ...(o.onTransportRefused ? { onRefused: o.onTransportRefused } : {}),
    });
  }

  /**
   * Boots the handset and starts the agent: TA boot and commit, enforcement, then the first
   * connection attempt (later ones follow the backoff). Resolves once the lock state is enforced;
   * the network comes up in the background.
   */
  static async start(options: AgentOptions): Promise<Agent> {
    const log = options.logger ?? silentLogger;
    const session = await DeviceSession.boot(options.folder, options.module, bootOptions(options));
    const view = session.view();
    log.log("info", "agent.boot", { did: session.did, lock: view.lock, tampered: view.tampered, seq: view.seq, bootcount: view.bootcount });
    // Enforce before any network traffic: a locked phone is locked before it can be told anything.
    try {
      const done = await enforce(options.enforcer, view);
      log.log("info", "agent.enforced", { state: done, lock: view.lock, tampered: view.tampered });
    } catch (e) {
      log.log("error", "agent.enforce_failed", { error: errText(e) });
    }
    const endorsement = await options.folder.readEndorsement();
    const agent = new Agent(options, session, endorsement, await reconcile(options.folder, view));
    agent.#uplink.start();
    return agent;
  }

  /** The device id (PROTOCOL §1). */
  get did(): string {
    return this.#session.did;
  }

  /** The device attestation public key (Ed25519, 32 bytes), as the TA reports it. */
  get devicePublic(): Uint8Array {
    return this.#session.devicePublic;
  }

  /** The TA's current view (lock state, sequence, TAMPERED...). */
  view(): SessionView {
    return this.#session.view();
  }

  /** True while a connection is up. */
  get connected(): boolean {
    return this.#uplink.connected;
  }

  /** Resolves when every message received so far has been handled (tests, orderly shutdown). */
  whenIdle(): Promise<void> {
    return this.#queue;
  }

  /**
   * Stops the agent. Graceful: publishes status "offline" and disconnects cleanly. Not graceful:
   * drops the connection like a power cut (the broker publishes the Last Will).
   */
  async stop(graceful = true): Promise<void> {
    await this.#queue; // results of commands already taken off the wire still go out
    await this.#uplink.stop(graceful);
  }

  #report(): { bootcount: number; lock: number; seq: number; tampered: boolean } {
    const v = this.#session.view();
    return { bootcount: v.bootcount, lock: v.tampered ? 2 : v.lock, seq: v.seq, tampered: v.tampered };
  }

  // ---- incoming messages -----------------------------------------------------------------

  /** Runs `task` after every earlier one; its failure is logged, never propagated. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    this.#queued++;
    const run = this.#queue
      .then(task)
      .catch((e) => this.#log.log("error", "agent.task_failed", { error: errText(e) }))
      .finally(() => this.#queued--);
    this.#queue = run;
    return run;
  }

  /** Resolves when the broker may get the PUBACK. */
  #onMessage(topic: string, payload: Uint8Array): Promise<void> {
    const t = parseDeviceTopic(topic);
    if (!t || t.did !== this.did || !DEVICE_SUBSCRIPTIONS.includes(t.kind)) {
      this.#log.log("warn", "message.unexpected_topic", { topic: topic.slice(0, 200), bytes: payload.length });
      return Promise.resolve();
    }
    if (payload.length > MAX_PAYLOAD_BYTES) {
      this.#log.log("warn", "message.too_large", { topic: t.kind, bytes: payload.length });
      return Promise.resolve();
    }
    // Copy: the transport may reuse its buffer once we return.
    const bytes = new Uint8Array(payload);
    if (t.kind === "challenge") {
      if (this.#queued >= MAX_QUEUED_TASKS) {
        this.#log.log("warn", "challenge.dropped_busy", { queued: this.#queued });
        return Promise.resolve();
      }
      void this.#enqueue(() => this.#onChallenge(bytes));
      return Promise.resolve();
    }
    if (t.kind === "desired" && bytes.length === 0) {
      // An empty retained message is how MQTT deletes a retained one: no desired state.
      this.#log.log("debug", "desired.cleared", {});
      return Promise.resolve();
    }
    let ack!: () => void;
    const acked = new Promise<void>((r) => (ack = r));
    void this.#enqueue(() => this.#onCommand(bytes, t.kind, ack)).finally(ack);
    return acked;
  }

  async #onChallenge(bytes: Uint8Array): Promise<void> {
    let nonce: Uint8Array;
    try {
      nonce = decodeChallenge(bytes).nonce;
    } catch (e) {
      this.#log.log("warn", "challenge.malformed", { error: errText(e), bytes: bytes.length });
      return;
    }
    const token = this.#session.attest(nonce, this.#o.measurement);
    this.#uplink.publish("attestation", encodeAttestation({ token }));
    this.#log.log("info", "challenge.answered", { nonce: toHex(nonce).slice(0, 16) });
  }

  async #onCommand(bytes: Uint8Array, source: string, ack: () => void): Promise<void> {
    let peek: CommandPeek;
    try {
      peek = peekCommand(bytes);
    } catch (e) {
      this.#log.log("warn", "command.malformed", { source, error: errText(e), bytes: bytes.length });
      return;
    }
    const nonce = commandNonce(bytes);
    const digest = toHex(nonce);
    const before = this.#session.view();
    const last = this.#state.accepted;
    const duplicate = !before.tampered && peek.seq === before.seq && last?.seq === peek.seq && last.digest === digest;
    if (duplicate && source === "desired") {
      // The retained desired state is the command already applied (it usually arrives right
      // after `.../command`): the state it asks for holds and the job was reported, so stay quiet.
      // A re-send on `.../command` means the registry still waits for the result: re-reported below.
      ack();
      this.#log.log("debug", "desired.holds", { seq: peek.seq });
      return;
    }
    if (source === "desired" && !before.tampered && peek.seq <= before.seq) {
      // A retained desired state older than what the TA accepted last is history, not a job:
      // the TA would refuse it as stale anyway, and nobody waits for its result.
      ack();
      this.#log.log("debug", "desired.stale", { seq: peek.seq, last: before.seq });
      return;
    }
    this.#uplink.publish("receipt", encodeReceipt({ seq: peek.seq }));

    // A duplicate delivery of the command the TA accepted last: re-report, do not re-apply (§4.6).
    if (duplicate) {
      ack();
      this.#log.log("info", "command.duplicate", { source, seq: peek.seq });
      this.#sendResult({ seq: peek.seq, status: "SUCCEEDED", code: resultCode(peek.action, true), token: this.#session.attest(nonce, this.#o.measurement) });
      return;
    }

    // Remember what is about to be applied, so a crash after the commit still recognises it.
    const record: CommandRecord = { seq: peek.seq, digest };
    if (!before.tampered && peek.seq > before.seq) await this.#saveState({ ...this.#state, pending: record });

    let outcome = await this.#session.applyCommand(bytes);
    if (outcome.kind === "failed" && outcome.diverged) {
      // The TA instance may be ahead of storage: storage is the truth, so boot again from it. If
      // the new blob reached storage before the failure (blob written, counter not), the TA
      // takes it as an interrupted commit, the reboot commits it, and the command did apply.
      this.#log.log("error", "command.commit_failed", { source, seq: peek.seq, error: errText(outcome.error) });
      const view = await this.#rebootFromStorage();
      if (view && !view.tampered && view.seq === peek.seq) outcome = { kind: "accepted" };
    }
    if (outcome.kind === "rejected") {
      ack();
      this.#log.log("warn", "command.rejected", { source, seq: peek.seq, action: peek.action, code: outcome.code });
      // The token (nonce bound to these bytes) shows the TA's state and last_seq, so the registry can
      // trust the refusal and, for a stale sequence number, issue the command again above it.
      this.#sendResult({ seq: peek.seq, status: "REJECTED", code: resultCode(peek.action, false), error: outcome.code, token: this.#session.attest(nonce, this.#o.measurement) });
      return;
    }
    if (outcome.kind === "failed") {
      ack();
      this.#log.log("error", "command.failed", { source, seq: peek.seq, error: errText(outcome.error) });
      // Keep the platform in line with the state that counts (storage's, after a reboot).
      await enforce(this.#o.enforcer, this.#session.view()).catch((e) => this.#log.log("error", "agent.enforce_failed", { error: errText(e) }));
      // The registry counts a FAILED only with the device's token bound to the command (PROTOCOL §4.6).
      let token: Uint8Array | undefined;
      try {
        token = this.#session.attest(nonce, this.#o.measurement);
      } catch (e) {
        this.#log.log("warn", "command.failed-no-token", { seq: peek.seq, error: errText(e) });
      }
      this.#sendResult({ seq: peek.seq, status: "FAILED", code: resultCode(peek.action, false), ...(token ? { token } : {}) });
      return;
    }
    // Accepted and persisted (blob, then counter): now the broker may drop its copy.
    await this.#saveState({ pending: record, accepted: record });
    ack();
    await new Promise<void>((r) => setImmediate(r)); // let the transport send the PUBACK first
    const view = this.#session.view();
    this.#log.log("info", "command.accepted", { source, seq: peek.seq, action: peek.action, lock: view.lock });
    let enforced = true;
    try {
      // The command is authentic now (the TA verified these very bytes), so its text may be shown.
      if (peek.action === ACTION.MESSAGE) await this.#o.enforcer.showMessage(peek.message ?? "", peek.contact ?? "");
      else await enforce(this.#o.enforcer, view);
    } catch (e) {
      enforced = false;
      this.#log.log("error", "command.enforce_failed", { seq: peek.seq, error: errText(e) });
    }
    const token = this.#session.attest(nonce, this.#o.measurement);
    this.#sendResult(enforced
      ? { seq: peek.seq, status: "SUCCEEDED", code: resultCode(peek.action, true), token }
      : { seq: peek.seq, status: "FAILED", code: resultCode(peek.action, false), token });
  }

  #sendResult(r: Result): void {
    this.#uplink.publish("result", encodeResult(r));
  }

  async #saveState(state: AgentState): Promise<void> {
    this.#state = state;
    try {
      await this.#o.folder.writeAgentState(state);
    } catch (e) {
      // Bookkeeping only: the TA's state is what counts. Worst case a duplicate is REJECTED.
      this.#log.log("warn", "agent.state_write_failed", { error: errText(e) });
    }
  }

  /** After a failed commit the TA instance may be ahead of storage: replace it by a fresh boot. */
  async #rebootFromStorage(): Promise<SessionView | undefined> {
    try {
      this.#session = await DeviceSession.boot(this.#o.folder, this.#o.module, bootOptions(this.#o));
      return this.#session.view();
    } catch (e) {
      this.#log.log("error", "agent.reboot_failed", { error: errText(e) });
      return undefined;
    }
  }
}

/** On boot: a pending command whose sequence number the TA now reports was accepted before a crash. */
async function reconcile(folder: DeviceFolder, view: SessionView): Promise<AgentState> {
  const s = await folder.readAgentState();
  if (s.pending && s.pending.seq === view.seq && (s.accepted?.seq ?? 0) < view.seq) {
    const fixed = { pending: s.pending, accepted: s.pending };
    await folder.writeAgentState(fixed).catch(() => undefined);
    return fixed;
  }
  return s;
}

function bootOptions(o: AgentOptions): BootOptions {
  return {
    commit: true,
    ...(o.dbgstat !== undefined ? { dbgstat: o.dbgstat } : {}),
    ...(o.createTa !== undefined ? { createTa: o.createTa } : {}),
  };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
