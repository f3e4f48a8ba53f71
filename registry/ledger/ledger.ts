// A registry's ledger (docs/LEDGER.md): its own signed, append-only log of status events, the
// mirrors of its peers' logs, and the federation link that exchanges them.
// - Flag changes append entries inside the transaction that makes them (flagRaised/flagCleared,
//   called by flagging.ts); after the commit, the new entries and a new signed tree head are
//   published (#flush reads only committed rows, so a rolled-back change publishes nothing).
// - Peers' entries and heads are verified under their pinned keys, mirrored (mirror.ts) and their
//   flags applied to equipment status (peerFlags). Gaps are asked for with `get`.
// - Alarms (forks, entries that do not match heads) are recorded with their evidence, logged at
//   error level, and the evidence is published so every member and auditor can check it.
import type { KeyObject } from "node:crypto";
import { publicKeyFromRaw, kidOfPublic, toHex } from "../../attestation/index.js";
import { toRawPublic } from "../../attestation/cose/key.js";
import { equalBytes } from "../../attestation/bytes.js";
import type { Logger } from "../../agent/log.js";
import type { Store, Flag, Party } from "../store.js";
import type { GroupCommit } from "../group-commit.js";
import type { Clock } from "../context.js";
import { acceptablePublicKey, type SigningKey } from "../keys.js";
import type { MqttFactory } from "../mqtt-service.js";
import { RegistryError } from "../errors.js";
import { FederationKey } from "./pseudonym.js";
import { LedgerDb } from "./ledger-db.js";
import { LocalLog } from "./local-log.js";
import { verifyEntry } from "./entry.js";
import { verifyTreeHead, type SignedTreeHead } from "./tree-head.js";
import { ingestEntry, ingestHead, recordEvidence, type Outcome } from "./mirror.js";
import { FederationLink } from "./federation.js";
import { decodeEvidence, encodeEvidence, ledgerTopic, type LedgerTopicKind } from "./topics.js";
import { MAX_GET_RANGE, openGet, signGet } from "./get-request.js";
import { checkEvidence } from "./evidence.js";
import type { LogRow } from "./tables.js";
import type { PeerFlag } from "./flag-tables.js";
export type { WitnessPolicy } from "./witness-policy.js";
import { GetLimiter, type GetLimit } from "./get-limiter.js";
import { defaultOrigin } from "./checkpoint.js";
import { ed25519NoteVerifier, verifierKey, type NoteVerifier } from "./note.js";
import { OwnCheckpoints } from "./own-checkpoints.js";
import { parseCosignerKey } from "./cosignature.js";
import { WitnessClient } from "./witness-client.js";
import type { WitnessPolicy } from "./witness-policy.js";
import { PeerCheckpoints } from "./peer-checkpoints.js";

export interface LedgerPeer {
  /** The peer registry's public key (its command key): raw 32 bytes, KeyObject or SPKI PEM. */
  readonly publicKey: Uint8Array | KeyObject | string;
  readonly name?: string;
  /** Its checkpoint origin (C2SP tlog-checkpoint); default antitheft.ledger/<log hex>. */
  readonly origin?: string;
}

export interface LedgerOptions {
  /** The federation's pseudonymisation key (32 bytes), shared by the members only. */
  readonly federationKey: FederationKey | Uint8Array;
  /** The registries whose logs this one mirrors and whose flags it applies. */
  readonly peers?: readonly LedgerPeer[];
  /** This registry's name in the federation (informational). */
  readonly name?: string;
  /** The federation broker; default: the registry's own broker. Omit both for no federation. */
  readonly mqtt?: { readonly url: string; readonly name?: string; readonly protocolVersion?: 4 | 5; readonly factory?: MqttFactory };
  /** Wait before asking a log for entries this registry lacks (they may still be on their way). Default 200 ms. */
  readonly getDelayMs?: number;
  /** The checkpoint origin of this registry's log (C2SP tlog-checkpoint); default antitheft.ledger/<log hex>. */
  readonly origin?: string;
  /** Witnesses asked to cosign this registry's checkpoints (C2SP tlog-witness): url and cosigner key. */
  readonly witnesses?: readonly { readonly url: string; readonly key: string }[];
  /** Peers' flags apply only once a checkpoint covering them has a quorum of cosignatures (witness-policy.ts). */
  readonly witnessPolicy?: WitnessPolicy;
  /** The budget of `get` answers per member (get-limiter.ts; docs/LEDGER.md §6.1). */
  readonly getLimit?: GetLimit;
}

export interface LedgerDeps {
  readonly store: Store;
  readonly gc: GroupCommit;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registryKey: SigningKey;
}

export interface KnownLog {
  readonly row: LogRow;
  readonly key: KeyObject;
  readonly hex: string;
  /** Its checkpoint origin and note key (C2SP tlog-checkpoint, signed-note). */
  readonly origin: string;
  readonly note: NoteVerifier;
}

export class Ledger {
  readonly db: LedgerDb;
  readonly local: LocalLog;
  readonly federationKey: FederationKey;
  readonly #d: LedgerDeps;
  readonly #o: LedgerOptions;
  readonly #logs = new Map<string, KnownLog>();
  readonly #link: FederationLink | undefined;
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #getTimers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #warnedForeignKey = new Set<string>();
  readonly #getLimiter: GetLimiter;
  /** The checkpoint origin of this registry's log, also its note key name. */
  readonly origin: string;
  readonly #own: OwnCheckpoints;
  readonly #peerCheckpoints: PeerCheckpoints;
  #publishedUpTo = 0;
  #flushScheduled = false;
  #flushChain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(d: LedgerDeps, o: LedgerOptions) {
    this.#d = d;
    this.#o = o;
    this.federationKey = o.federationKey instanceof FederationKey ? o.federationKey : new FederationKey(o.federationKey);
    this.db = new LedgerDb(d.store.db);
    this.#getLimiter = new GetLimiter(o.getLimit);
    const own = d.registryKey;
    const rows = this.db.tx(() => {
      const local = this.db.logs.ensure(own.kid, own.publicKey, o.name ?? "", true);
      const peers = (o.peers ?? []).map((p) => {
        // A small-order key would let anyone sign entries and heads as this peer (key-validity.ts).
        const raw = acceptablePublicKey(toRawPublic(p.publicKey), `ledger peer ${p.name ?? ""}`.trim());
        if (equalBytes(raw, own.publicKey)) throw new RegistryError("E_CONFIG", "a ledger peer has this registry's own key");
        return { row: this.db.logs.ensure(kidOfPublic(raw), raw, p.name ?? "", false), raw, origin: p.origin };
      });
      return { local, peers };
    });
    this.origin = o.origin ?? defaultOrigin(toHex(own.kid));
    this.local = new LocalLog(this.db, rows.local, own, this.federationKey, () => d.clock.now());
    this.#logs.set(toHex(own.kid), { row: rows.local, key: publicKeyFromRaw(own.publicKey), hex: toHex(own.kid), origin: this.origin, note: ed25519NoteVerifier(this.origin, own.publicKey) });
    for (const p of rows.peers) {
      const hex = toHex(p.row.logId);
      const origin = p.origin ?? defaultOrigin(hex);
      this.#logs.set(hex, { row: p.row, key: publicKeyFromRaw(p.raw), hex, origin, note: ed25519NoteVerifier(origin, p.raw) });
    }
    this.#peerCheckpoints = new PeerCheckpoints({ db: this.db, policy: o.witnessPolicy, log: d.log, gc: d.gc, clock: d.clock, track: (p) => this.#track(p) });
    const witnessClient = o.witnesses?.length
      ? new WitnessClient({
          witnesses: o.witnesses.map((w) => {
            const c = parseCosignerKey(w.key);
            if (!c.ok) throw new RegistryError("E_CONFIG", `witness ${w.url}: ${c.reason}`);
            return { url: w.url, cosigner: c.value };
          }),
          consistency: (first, second) => this.db.tree.consistency(this.local.row.id, first, second),
          log: d.log,
        })
      : undefined;
    this.#link = o.mqtt
      ? new FederationLink({
          url: o.mqtt.url,
          name: o.mqtt.name ?? (o.name || toHex(own.kid)),
          ownLog: toHex(own.kid),
          ...(o.mqtt.protocolVersion ? { protocolVersion: o.mqtt.protocolVersion } : {}),
          ...(o.mqtt.factory ? { factory: o.mqtt.factory } : {}),
          log: d.log,
          onMessage: (log, kind, payload) => this.#onMessage(log, kind, new Uint8Array(payload)),
          onConnect: () => this.#onConnect(),
        })
      : undefined;
    this.#own = new OwnCheckpoints({
      origin: this.origin, signer: own.signer, head: () => this.head(), witnesses: witnessClient, gc: d.gc, log: d.log, logHex: toHex(own.kid),
      publish: this.#link ? (note) => this.#link!.publish(ledgerTopic(this.logHex, "checkpoint"), note, true) : undefined,
      track: (p) => this.#track(p), stopped: () => this.#stopped,
    });
  }

  /** This registry's log id, hex. */
  get logHex(): string {
    return toHex(this.local.logId);
  }

  /** A log this registry holds (its own or a pinned peer's), by hex id. */
  known(hex: string): KnownLog | undefined {
    return this.#logs.get(hex);
  }

  knownLogs(): KnownLog[] {
    return [...this.#logs.values()];
  }

  // --- hooks, inside the transaction of a flag change (flagging.ts) ---------------------------

  flagRaised(flag: Flag): void {
    const imeis = this.#imeisOf(flag);
    if (imeis.length === 0) return this.#d.log.log("warn", "ledger.not-published", { flag: flag.id, reason: "the device has no IMEI bound" });
    const { seq } = this.local.append({ ev: flag.kind, imeis, by: flag.raisedBy.role });
    this.db.localFlags.put(flag.id, seq);
    this.#scheduleFlush();
  }

  flagCleared(flag: Flag, by: Party): void {
    const ref = this.db.localFlags.seq(flag.id);
    if (ref === undefined) return this.#d.log.log("warn", "ledger.not-published", { flag: flag.id, reason: "the flag was never published" });
    const found = by.role === "owner" && (flag.kind === "stolen" || flag.kind === "lost");
    this.local.append({ ev: found ? "found" : "cleared", imeis: this.#imeisOf(flag), by: by.role, ref });
    this.#scheduleFlush();
  }

  /** An authority reset the ownership of a device (requests.ts "reset-owner"): a notice entry. */
  ownerReset(did: string, imei: string | null): void {
    const imeis = [...new Set(this.#d.store.imeis.of(did).map((b) => b.imei))];
    if (imei && !imeis.includes(imei)) imeis.unshift(imei);
    if (imeis.length === 0) return this.#d.log.log("warn", "ledger.not-published", { did, reason: "the device has no IMEI bound" });
    this.local.append({ ev: "owner-reset", imeis: imeis.slice(0, 2), by: "authority" });
    this.#scheduleFlush();
  }

  #imeisOf(flag: Flag): string[] {
    const imeis = [...new Set(this.#d.store.imeis.of(flag.did).map((b) => b.imei))];
    if (flag.imei && !imeis.includes(flag.imei)) imeis.unshift(flag.imei);
    return imeis.slice(0, 2);
  }

  /** The flags peers published for this IMEI and have not cleared (equipment-status.ts). */
  peerFlags(imei: string): PeerFlag[] {
    const subject = this.federationKey.pseudonym(imei);
    if (!this.#o.witnessPolicy) return this.db.peerFlags.active(subject);
    // docs/LEDGER.md §7.2: a raise counts once a quorum-cosigned checkpoint covers it; a clear
    // lifts it only once one covers the clear too (and never while the log has an alarm).
    return this.#peerCheckpoints.gate(this.db.peerFlags.rows(subject));
  }

  /** The size of a peer's log its quorum-cosigned checkpoints cover (witness policy), 0 if none. */
  witnessedSize(hex: string): number {
    return this.#peerCheckpoints.witnessedSize(hex);
  }

  /** The latest checkpoint with the cosignatures collected for it, if it is of the current size. */
  cosignedCheckpoint(): { size: number; note: string; cosignatures: number } | undefined {
    return this.#own.cosigned();
  }

  /** This registry's latest signed tree head (signing one if the log grew). */
  head(): SignedTreeHead {
    return this.local.head();
  }

  /** The C2SP verifier key of this log's checkpoints: "<origin>+<key ID>+<base64 key>". */
  get verifierKey(): string {
    return verifierKey(this.origin, this.#d.registryKey.publicKey);
  }

  /** The latest tree head as a C2SP checkpoint (signed note), beside its COSE form. */
  checkpoint(): { head: SignedTreeHead; note: string } {
    return this.#own.latest();
  }

  // --- lifecycle ------------------------------------------------------------------------------

  /** Publishes flags raised before the ledger existed, checks the log, signs a head, connects. */
  async start(): Promise<void> {
    const d = this.#d;
    await d.gc.run(() => {
      for (const f of this.db.localFlags.unpublished()) {
        const imeis = [...new Set([...(f.imei ? [f.imei] : []), ...d.store.imeis.of(f.did).map((b) => b.imei)])].slice(0, 2);
        if (imeis.length === 0) continue;
        const { seq } = this.local.append({ ev: f.kind, imeis, by: f.role });
        this.db.localFlags.put(f.id, seq);
      }
    });
    const check = this.local.selfCheck();
    if (!check.ok) {
      const latest = this.db.heads.latest(this.local.row.id)!;
      await d.gc.run(() => this.db.alarms.add(this.local.row.id, check.code, latest.size, latest.cose, new Uint8Array(0), check.reason, d.clock.now()));
      d.log.log("error", "ledger.alarm", { log: this.logHex, code: check.code, detail: check.reason });
    }
    const head = await d.gc.run(() => this.local.head());
    this.#publishedUpTo = head.size;
    if (this.#link) await this.#link.start();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#getTimers.values()) clearTimeout(t);
    this.#getTimers.clear();
    // Publications wait for the broker's PUBACK: a broker that is gone gets 2 s, like the device link.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await this.#link?.stop();
  }

  /** Resolves when every message received and every publication made so far is processed. */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0 || this.#flushScheduled) {
      await Promise.allSettled([...this.#inflight]);
      if (this.#flushScheduled) await new Promise((r) => setImmediate(r));
    }
  }

  #track<T>(p: Promise<T>): void {
    const q = p.catch((e) => this.#d.log.log("error", "ledger.failed", { error: String((e as Error)?.stack ?? e) }));
    this.#inflight.add(q);
    void q.finally(() => this.#inflight.delete(q));
  }

  // --- outbound -------------------------------------------------------------------------------

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#stopped) return;
    this.#flushScheduled = true;
    // setImmediate runs after the synchronous transaction that called the hook has committed.
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flushChain = this.#flushChain.then(() => this.#flush());
      this.#track(this.#flushChain);
    });
  }

  /** Signs a head over the committed log and publishes the entries not yet published, then the head. */
  async #flush(): Promise<void> {
    if (this.#stopped) return;
    const head = await this.#d.gc.run(() => this.local.head());
    const link = this.#link;
    if (!link) return this.#own.schedule(); // no federation link: the witnesses still cosign
    const entries = this.db.tree.entries(this.local.row.id, this.#publishedUpTo, head.size);
    this.#publishedUpTo = Math.max(this.#publishedUpTo, head.size);
    await Promise.all([
      ...entries.map((e) => link.publish(ledgerTopic(this.logHex, "entry"), e)),
      link.publish(ledgerTopic(this.logHex, "sth"), head.cose, true),
    ]);
    this.#own.schedule();
  }

  #onConnect(): void {
    if (this.#stopped) return;
    this.#flushChain = this.#flushChain.then(async () => {
      const head = await this.#d.gc.run(() => this.local.head());
      await this.#link?.publish(ledgerTopic(this.logHex, "sth"), head.cose, true);
      this.#own.schedule();
    });
    this.#track(this.#flushChain);
  }

  // --- inbound --------------------------------------------------------------------------------

  #onMessage(hex: string, kind: LedgerTopicKind, payload: Uint8Array): void {
    if (this.#stopped) return;
    const log = this.#d.log;
    if (kind === "get") {
      if (hex === this.logHex) this.#track(this.#answerGet(payload));
      return;
    }
    const L = this.#logs.get(hex);
    if (!L) return log.log("debug", "ledger.unknown-log", { log: hex, kind });
    const refused = (code: string, reason: string) => log.log("warn", "ledger.refused", { log: hex, kind, code, reason });
    const now = () => this.#d.clock.now();
    switch (kind) {
      case "entry": {
        const v = verifyEntry(payload, L.key, L.row.logId);
        if (!v.ok) return refused(v.code, v.reason);
        this.#track(this.#d.gc.run(() => ingestEntry(this.db, L.row, v.value, payload, this.federationKey.id, now())).then((o) => this.#after(L, o)));
        return;
      }
      case "sth":
      case "gossip": {
        const v = verifyTreeHead(payload, L.key, L.row.logId);
        if (!v.ok) return refused(v.code, v.reason);
        this.#track(
          this.#d.gc.run(() => ingestHead(this.db, L.row, v.value, now())).then(async (o) => {
            await this.#after(L, o);
            // Gossip (docs/LEDGER.md §4): repeat a peer's head once, so a log that shows different
            // heads to different brokers of a bridged federation is caught.
            if (o.newHead && kind === "sth" && !L.row.local) await this.#link?.publish(ledgerTopic(hex, "gossip"), payload);
          }),
        );
        return;
      }
      case "checkpoint": {
        if (L.row.local) return;
        const c = this.#peerCheckpoints.receive(L, payload); // docs/LEDGER.md §7.2
        if (!c.ok) return refused(c.code, c.reason);
        return;
      }
      case "alarm": {
        const e = decodeEvidence(payload);
        if (!e.ok) return refused(e.code, e.reason);
        const c = checkEvidence(e.value.code, e.value.a, e.value.b, L.key, L.row.logId);
        if (!c.ok) return refused(c.code, `fork evidence that does not hold: ${c.reason}`);
        this.#track(this.#d.gc.run(() => recordEvidence(this.db, L.row, e.value.code, c.value, e.value.a, e.value.b, now())).then((o) => this.#after(L, o, false)));
        return;
      }
    }
  }

  async #after(L: KnownLog, o: Outcome, publish = true): Promise<void> {
    this.#peerCheckpoints.settle(L);
    const log = this.#d.log;
    for (const a of o.alarms) {
      log.log("error", "ledger.alarm", { log: L.hex, name: L.row.name, code: a.code, size: a.size, detail: a.detail });
      if (publish && a.second.length > 0 && (a.code === "E_LEDGER_FORK" || a.code === "E_LEDGER_ENTRY_FORK")) {
        await this.#link?.publish(ledgerTopic(L.hex, "alarm"), encodeEvidence({ code: a.code, a: a.first, b: a.second }), true);
      }
    }
    if (o.foreignKey > 0 && !this.#warnedForeignKey.has(L.hex)) {
      this.#warnedForeignKey.add(L.hex);
      log.log("warn", "ledger.foreign-federation-key", { log: L.hex, name: L.row.name, reason: "entries pseudonymised under another federation key are mirrored but not applied" });
    }
    this.#maybeRequest(L);
  }

  /** Asks a peer for the entries its latest head covers and this mirror lacks (after a short wait). */
  #maybeRequest(L: KnownLog): void {
    if (L.row.local || this.#getTimers.has(L.hex) || !this.#link || this.#stopped) return;
    const behind = (): { start: number; end: number } | undefined => {
      const target = this.db.heads.latest(L.row.id)?.size ?? 0;
      const size = this.db.logs.size(L.row.id);
      return target > size ? { start: size, end: Math.min(target, size + MAX_GET_RANGE) } : undefined;
    };
    if (!behind()) return;
    const t = setTimeout(() => {
      this.#getTimers.delete(L.hex);
      const gap = behind();
      if (!gap || this.#stopped) return;
      this.#d.log.log("info", "ledger.get", { log: L.hex, start: gap.start, end: gap.end });
      const own = this.#d.registryKey;
      const req = signGet({ log: L.row.logId, start: gap.start, end: gap.end, ts: this.#d.clock.now() }, own.signer, own.kid);
      this.#track(this.#link!.publish(ledgerTopic(L.hex, "get"), req));
    }, this.#o.getDelayMs ?? 200);
    this.#getTimers.set(L.hex, t);
  }

  /**
   * Re-publishes the requested entries of this registry's log, then its head - only for a get
   * signed by a pinned member, fresh, naming this log, within that member's budget
   * (docs/LEDGER.md §6.1): anything else publishes nothing.
   */
  async #answerGet(payload: Uint8Array): Promise<void> {
    const now = this.#d.clock.now();
    const g = openGet(payload, this.local.logId, (hex) => {
      const L = this.#logs.get(hex);
      return L && !L.row.local ? L.key : undefined;
    }, now);
    if (!g.ok) return this.#d.log.log("warn", "ledger.refused", { log: this.logHex, kind: "get", code: g.code, reason: g.reason });
    const link = this.#link!;
    const head = await this.#d.gc.run(() => this.local.head());
    const end = Math.min(g.value.end, head.size);
    const granted = this.#getLimiter.take(g.value.from, Math.max(0, end - g.value.start), this.#d.clock.now());
    if (granted < end - g.value.start) {
      this.#d.log.log("warn", "ledger.get-limited", { log: this.logHex, from: g.value.from, start: g.value.start, end, granted: Math.max(0, granted) });
    }
    if (granted < 0) return;
    const entries = granted > 0 ? this.db.tree.entries(this.local.row.id, g.value.start, g.value.start + granted) : [];
    await Promise.all([...entries.map((e) => link.publish(ledgerTopic(this.logHex, "entry"), e)), link.publish(ledgerTopic(this.logHex, "sth"), head.cose, true)]);
  }
}
