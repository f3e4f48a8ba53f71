// Conformance checks for the ledger (REQ-LG-xx, docs/LEDGER.md §10), written against the protocol
// only - MQTT topics of docs/LEDGER.md §6 and HTTP resources of §7 - so the conformance suite can
// run them against any registry that federates, ours or a third party's.
// A SimulatedPeer plays a member registry: the registry under test must pin its public key as a
// peer and share the federation key with it (both are inputs of the suite).
import { connect, type MqttClient } from "mqtt";
import { toHex } from "../../attestation/index.js";
import { ueidFromImei } from "../../attestation/imei.js";
import type { SigningKey } from "../keys.js";
import { signEntry, type LedgerEvent } from "./entry.js";
import { signTreeHead, type SignedTreeHead } from "./tree-head.js";
import { MemoryTree } from "./merkle.js";
import { FederationKey } from "./pseudonym.js";
import { ledgerTopic, type LedgerTopicKind } from "./topics.js";
import { signGet } from "./get-request.js";
import { encodeDeterministic } from "../../attestation/cbor/deterministic.js";
import { peekEntry } from "./entry.js";
import { audit, type AuditState, type AuditTarget } from "./auditor.js";
import { LEDGER_PREFIX } from "./http.js";
import { verifyInclusion } from "./verify.js";
import { verifyTreeHead } from "./tree-head.js";
import { verifyEntry } from "./entry.js";
import { publicKeyFromRaw } from "../../attestation/index.js";
import { mqttSecurityOptions, type MqttSecurity } from "../../transport/mqtt-options.js";

/** The ledger requirements, with their sources (docs/CONFORMANCE.md takes them from here). */
export const REQ_LG = {
  "REQ-LG-01": { text: "A registry keeps an append-only log of its flag events whose signed tree heads verify under its key, whose signed entries reproduce the signed root, and whose inclusion and consistency proofs verify.", source: "ITU-T Res. 97 (tamper-proof shared records); RFC 9162 §2.1, §4.10; docs/LEDGER.md §2, §7" },
  "REQ-LG-02": { text: "Published entries carry no IMEI in clear: only keyed pseudonyms.", source: "Res. 97 (privacy of subscriber data); GDPR Art. 4(5) (pseudonymisation); docs/LEDGER.md §3 (a 15-digit IMEI is a small space: a plain hash is not a pseudonym)" },
  "REQ-LG-03": { text: "A flag published by a peer registry makes the device BLACKLISTED (GREYLISTED for clone / tampered) on this registry's TS 29.511 endpoint, whether or not the device is enrolled here.", source: "Res. 97 (a device stolen in one country refused in another); 3GPP TS 29.511 §5.2.2.2; GSMA Device Registry; docs/LEDGER.md §5" },
  "REQ-LG-04": { text: "Only the originating registry clears its flag: its own signed found / cleared entry lifts it; another registry's request or entry does not.", source: "GSMA Device Registry (only the flagging organisation removes its flag); PROTOCOL.md §6.2; docs/LEDGER.md §5" },
  "REQ-LG-05": { text: "Two signed tree heads of one log with the same size and different roots raise an alarm, kept with its evidence and visible over HTTP; the forked log's clears no longer lift its flags.", source: "RFC 9162 §8.1 (misbehaving logs), gossip; docs/LEDGER.md §4" },
  "REQ-LG-06": { text: "A registry's log, heads and proofs survive a restart: the same signed head is served and old heads stay consistent with new ones.", source: "docs/LEDGER.md §2; PROTOCOL.md §6 (state survives kill -9)" },
  "REQ-LG-07": { text: "An entry or tree node altered in a registry's storage is detected by an auditor holding only public keys.", source: "Res. 97 (no party can quietly alter or erase a record); RFC 9162 §8.3 (monitors, auditors); docs/LEDGER.md §8" },
  "REQ-LG-08": { text: "Hostile payloads on every ledger topic (not CBOR, bad signature, wrong log, oversized) are dropped: no state change, no crash.", source: "PROTOCOL.md §2; docs/LEDGER.md §6" },
  "REQ-LG-09": { text: "A ledger get is answered only when signed by a pinned member, fresh and naming the registry's own log: an unsigned get, one signed by an unpinned key or one naming another log makes the registry publish nothing; one answer carries at most 512 entries.", source: "RFC 4732 (Internet denial-of-service considerations: amplification); docs/LEDGER.md §6.1" },
  "REQ-LG-10": { text: "A registry serves its log in the C2SP formats: a checkpoint (signed note, its origin as key name) signed by its key and published retained on at/v1/ledger/<log>/checkpoint, and tlog-tiles whose entry bundles hash to the level-0 tiles, whose higher tiles hash the full tiles below, and whose leaves reproduce the checkpoint's root and the log's signed entries.", source: "C2SP tlog-checkpoint; C2SP signed-note; C2SP tlog-tiles; RFC 9162 §2.1.1; docs/LEDGER.md §7.1, §7.2" },
} as const;

export type ReqLg = keyof typeof REQ_LG;

export interface CheckResult {
  readonly id: ReqLg;
  readonly ok: boolean;
  readonly detail: string;
}

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));

async function json(url: string): Promise<{ status: number; body: Record<string, any> }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, any> };
}

/** Polls until `pred` holds or `timeoutMs` passes; true when it held. */
export async function eventually(pred: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred().catch(() => false)) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function eirStatus(registryUrl: string, imei: string): Promise<string> {
  const r = await json(`${registryUrl}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`);
  return r.status === 200 ? String(r.body.status) : String(r.status);
}

/** A member registry played by the suite: its own log in memory, published over MQTT (§6). */
export class SimulatedPeer {
  readonly key: SigningKey;
  readonly federationKey: FederationKey;
  readonly tree = new MemoryTree();
  readonly entries: Uint8Array[] = [];
  readonly heads: SignedTreeHead[] = [];
  #client: MqttClient | undefined;
  #ts = Date.now();

  constructor(
    readonly o: {
      readonly broker: string;
      readonly key: SigningKey;
      readonly federationKey: FederationKey | Uint8Array;
      readonly protocolVersion?: 4 | 5;
      /**
       * Its transport identity on an mqtts:// broker (PROTOCOL.md §2.1): a ledger link's
       * certificate, CN at-l-<name>, which is then its client id too.
       */
      readonly security?: MqttSecurity;
    },
  ) {
    this.key = o.key;
    this.federationKey = o.federationKey instanceof FederationKey ? o.federationKey : new FederationKey(o.federationKey);
  }

  get logHex(): string {
    return toHex(this.key.kid);
  }

  async connect(): Promise<void> {
    // With a certificate the broker takes its CN as the client id (use_username_as_clientid).
    const identity = this.o.security?.tls?.identity;
    const clientId = identity ?? `at-l-sim-${this.logHex.slice(0, 12)}-${Date.now() % 100000}`;
    const c = connect(this.o.broker, { clientId, protocolVersion: this.o.protocolVersion ?? 4, reconnectPeriod: 0, ...mqttSecurityOptions(this.o.broker, this.o.security) });
    await new Promise<void>((resolve, reject) => {
      c.once("connect", () => resolve());
      c.once("error", reject);
    });
    this.#client = c;
  }

  /**
   * Picks up this log where the registry's mirror of it ends (GET .../entries?log=, §7): a peer
   * key the registry pins outlives one SimulatedPeer (several scenarios, runs against a
   * long-lived registry), and writing other entries at positions the registry holds would be a
   * fork. Call before the first append; every mirrored entry must verify as this log's.
   */
  async resume(registryUrl: string): Promise<number> {
    const key = publicKeyFromRaw(this.key.publicKey);
    for (;;) {
      const start = this.entries.length;
      const page = await json(`${registryUrl}${LEDGER_PREFIX}entries?log=${this.logHex}&start=${start}`);
      const entries: unknown[] = page.status === 200 && Array.isArray(page.body.entries) ? page.body.entries : [];
      if (entries.length === 0) return this.entries.length;
      for (const e of entries) {
        const bytes = b64(String(e));
        const v = verifyEntry(bytes, key, this.key.kid);
        if (!v.ok || v.value.seq !== this.entries.length) throw new Error(`the registry's mirror of log ${this.logHex} holds, at position ${this.entries.length}, an entry this peer did not sign there`);
        this.entries.push(bytes);
        this.tree.append(bytes);
      }
    }
  }

  async publish(kind: LedgerTopicKind, payload: Uint8Array | string, retain = false, log = this.logHex): Promise<void> {
    await this.#client!.publishAsync(ledgerTopic(log, kind), typeof payload === "string" ? payload : Buffer.from(payload), { qos: 1, retain });
  }

  /** Appends and publishes a signed entry, then a head covering it; returns its position. */
  async append(ev: LedgerEvent, imei: string, ref?: number): Promise<number> {
    const seq = this.entries.length;
    const cose = signEntry(
      { log: this.key.kid, seq, ts: this.#ts++, ev, sub: [this.federationKey.pseudonym(imei)], fk: this.federationKey.id, by: ev === "found" ? "owner" : "authority", ...(ref !== undefined ? { ref } : {}) },
      this.key.signer,
    );
    this.entries.push(cose);
    this.tree.append(cose);
    await this.publish("entry", cose);
    await this.publishHead();
    return seq;
  }

  async publishHead(): Promise<SignedTreeHead> {
    const h = signTreeHead({ log: this.key.kid, size: this.tree.size, root: this.tree.root(), ts: this.#ts++ }, this.key.signer);
    this.heads.push(h);
    await this.publish("sth", h.cose, true);
    return h;
  }

  /** Publishes a second head of the current size with another root: a fork, signed by this log. */
  async fork(): Promise<SignedTreeHead> {
    const h = signTreeHead({ log: this.key.kid, size: this.tree.size, root: new Uint8Array(32).fill(0x5a), ts: this.#ts++ }, this.key.signer);
    await this.publish("gossip", h.cose);
    return h;
  }

  /** Publishes a get for entries [start, end) of `log`, signed by this peer (docs/LEDGER.md §6.1). */
  async get(log: Uint8Array, start: number, end: number, signer: SigningKey = this.key): Promise<void> {
    const req = signGet({ log, start, end, ts: Date.now() }, signer.signer, signer.kid);
    await this.publish("get", req, false, toHex(log));
  }

  /** Collects the messages published on `topic` from now on. */
  async watch(topic: string): Promise<{ readonly got: Uint8Array[]; stop(): Promise<void> }> {
    const c = this.#client!;
    const got: Uint8Array[] = [];
    const on = (t: string, payload: Buffer) => void (t === topic && got.push(new Uint8Array(payload)));
    c.on("message", on);
    await c.subscribeAsync(topic, { qos: 1 });
    return { got, stop: async () => void (c.off("message", on), await c.unsubscribeAsync(topic)) };
  }

  async close(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    if (c) await c.endAsync();
  }
}

/** REQ-LG-03: a peer's flag is applied (expected status reached within timeoutMs). */
export async function checkPeerFlagApplied(registryUrl: string, peer: SimulatedPeer, imei: string, timeoutMs = 5000): Promise<CheckResult & { seq: number }> {
  const before = await eirStatus(registryUrl, imei);
  const seq = await peer.append("stolen", imei);
  const ok = await eventually(async () => (await eirStatus(registryUrl, imei)) === "BLACKLISTED", timeoutMs);
  return { id: "REQ-LG-03", ok, seq, detail: ok ? `status ${before} -> BLACKLISTED after the peer's signed entry ${seq}` : `still ${await eirStatus(registryUrl, imei)} ${timeoutMs} ms after the peer's flag` };
}

/**
 * REQ-LG-04: another member's clear naming the origin's entry does not lift the flag; the
 * origin's own does. `origin` raised the flag at `seq` (checkPeerFlagApplied).
 */
export async function checkOnlyOriginClears(registryUrl: string, origin: SimulatedPeer, other: SimulatedPeer, imei: string, seq: number, timeoutMs = 5000): Promise<CheckResult> {
  // The other member signs, in its own log, a raise and a clear - the clear naming `seq` - and
  // also an entry that claims to be in the origin's log.
  await other.append("lost", "490154203237518");
  await other.append("cleared", imei, 0);
  const forged = signEntry({ log: origin.key.kid, seq: origin.entries.length, ts: Date.now(), ev: "cleared", sub: [origin.federationKey.pseudonym(imei)], fk: origin.federationKey.id, by: "registry", ref: seq }, other.key.signer);
  await other.publish("entry", forged, false, origin.logHex);
  await new Promise((r) => setTimeout(r, Math.min(500, timeoutMs / 4)));
  const still = await eirStatus(registryUrl, imei);
  if (still !== "BLACKLISTED") return { id: "REQ-LG-04", ok: false, detail: `another member's clear lifted the flag (status ${still})` };
  await origin.append("cleared", imei, seq);
  const lifted = await eventually(async () => (await eirStatus(registryUrl, imei)) !== "BLACKLISTED", timeoutMs);
  return { id: "REQ-LG-04", ok: lifted, detail: lifted ? "foreign clears ignored; the originator's clear lifted the flag" : "the originator's own clear did not lift the flag" };
}

/**
 * REQ-LG-05: a forked head of a pinned peer raises an alarm visible at GET /ledger/alarms, whose
 * evidence is that very head (so an alarm left by an earlier run does not count).
 */
export async function checkForkAlarm(registryUrl: string, peer: SimulatedPeer, timeoutMs = 5000): Promise<CheckResult> {
  if (peer.tree.size === 0) await peer.append("stolen", "356938035643809");
  await peer.publishHead();
  const forked = Buffer.from((await peer.fork()).cose).toString("base64");
  const ok = await eventually(async () => {
    const r = await json(`${registryUrl}${LEDGER_PREFIX}alarms`);
    return Array.isArray(r.body.alarms) && r.body.alarms.some((a: { code: string; log: string; first: string; second: string }) => a.code === "E_LEDGER_FORK" && a.log === peer.logHex && (a.first === forked || a.second === forked));
  }, timeoutMs);
  return { id: "REQ-LG-05", ok, detail: ok ? "fork alarm recorded with its evidence" : "no E_LEDGER_FORK alarm for the forked log" };
}

/** REQ-LG-01 (and REQ-LG-07 after tampering): a full audit of the registries finds nothing. */
export async function checkAudit(targets: readonly AuditTarget[], state?: AuditState): Promise<CheckResult & { state: AuditState }> {
  const r = await audit(targets, state, { full: true, sample: 16 });
  const bad = r.findings.filter((f) => f.level === "fail");
  return { id: "REQ-LG-01", ok: bad.length === 0, state: r.state, detail: bad.length === 0 ? `${targets.length} registr(ies) audited` : bad.map((f) => `${f.code}: ${f.message}`).join("; ") };
}

/** REQ-LG-02: no form of these IMEIs appears in any published entry of the registry's log. */
export async function checkNoClearImei(registryUrl: string, imeis: readonly string[]): Promise<CheckResult> {
  const found: string[] = [];
  let n = 0;
  for (let start = 0; ; ) {
    const page = await json(`${registryUrl}${LEDGER_PREFIX}entries?start=${start}`);
    const entries: string[] = Array.isArray(page.body.entries) ? page.body.entries : [];
    if (page.status !== 200 || entries.length === 0) break;
    for (const e of entries) {
      const bytes = Buffer.from(e, "base64");
      for (const imei of imeis) {
        const forms = [imei, imei.slice(0, 14), Buffer.from(ueidFromImei(imei)).toString("latin1"), Buffer.from(imei.slice(0, 14), "hex").toString("latin1")];
        if (forms.some((f) => bytes.includes(Buffer.from(f, "latin1")))) found.push(`${imei} in entry ${start + entries.indexOf(e)}`);
      }
    }
    n += entries.length;
    start += entries.length;
  }
  return { id: "REQ-LG-02", ok: found.length === 0 && n > 0, detail: n === 0 ? "the log has no entry to check" : found.length ? found.join(", ") : `${n} entries hold no IMEI in clear` };
}

/** REQ-LG-06: after a restart the registry serves the same head it served before (or a consistent larger one) and its proofs verify. */
export async function checkHeadSurvives(registryUrl: string, publicKey: Uint8Array, before: { sth: string; size: number }): Promise<CheckResult> {
  const now = await json(`${registryUrl}${LEDGER_PREFIX}sth`);
  const key = publicKeyFromRaw(publicKey);
  const h0 = verifyTreeHead(b64(before.sth), key, new Uint8Array(Buffer.from(String(now.body.log ?? ""), "hex")));
  const h1 = verifyTreeHead(b64(String(now.body.sth ?? "")), key, new Uint8Array(Buffer.from(String(now.body.log ?? ""), "hex")));
  if (!h0.ok || !h1.ok) return { id: "REQ-LG-06", ok: false, detail: "a head does not verify under the registry key" };
  const r = await audit([{ url: registryUrl, publicKey }], { v: 1, logs: {} }, { sample: 4 });
  if (r.inconsistent) return { id: "REQ-LG-06", ok: false, detail: r.findings.filter((f) => f.level === "fail").map((f) => f.message).join("; ") };
  if (h1.value.size < h0.value.size) return { id: "REQ-LG-06", ok: false, detail: `the log shrank from ${h0.value.size} to ${h1.value.size}` };
  if (h0.value.size > 0) {
    const e = await json(`${registryUrl}${LEDGER_PREFIX}entries?start=0&end=1`);
    const p = await json(`${registryUrl}${LEDGER_PREFIX}proof/inclusion?index=0&size=${h0.value.size}`);
    const path = Array.isArray(p.body.path) ? p.body.path.map((x: string) => new Uint8Array(Buffer.from(x, "hex"))) : [];
    if (!verifyInclusion(b64(String(e.body.entries?.[0] ?? "")), 0, h0.value.size, path, h0.value.root)) return { id: "REQ-LG-06", ok: false, detail: "entry 0 is not proved in the head served before the restart" };
  }
  const c = await json(`${registryUrl}${LEDGER_PREFIX}proof/consistency?first=${h0.value.size}&second=${h1.value.size}`);
  return { id: "REQ-LG-06", ok: c.status === 200, detail: `head of size ${h0.value.size} before, ${h1.value.size} after; proofs verify` };
}

/** REQ-LG-08: garbage on every ledger topic of these logs changes neither head nor answers. */
export async function checkHostileLedgerPayloads(registryUrl: string, peer: SimulatedPeer, logs: readonly string[]): Promise<CheckResult> {
  const before = await json(`${registryUrl}${LEDGER_PREFIX}heads`);
  const junk: (Uint8Array | string)[] = ["", "not cbor", Uint8Array.of(0xd2, 0x84, 0x40), new Uint8Array(17 * 1024), peer.entries[0] ?? Uint8Array.of(0xa0)];
  for (const log of logs) for (const kind of ["entry", "sth", "gossip", "alarm", "get", "checkpoint"] as const) for (const j of junk) await peer.publish(kind, j, false, log);
  await new Promise((r) => setTimeout(r, 300));
  const after = await json(`${registryUrl}${LEDGER_PREFIX}heads`);
  const same = JSON.stringify(before.body.heads?.map((h: { log: string; size: number; root: string }) => [h.log, h.size, h.root])) === JSON.stringify(after.body.heads?.map((h: { log: string; size: number; root: string }) => [h.log, h.size, h.root]));
  return { id: "REQ-LG-08", ok: after.status === 200 && same, detail: same ? `${logs.length * 6 * junk.length} hostile payloads dropped; heads unchanged` : "the heads changed after hostile payloads" };
}

/**
 * REQ-LG-09: gets that are unsigned, signed by a key the registry does not pin (`outsider`), or
 * that name another log make the registry publish nothing; a pinned member's get is answered
 * (the barrier behind them: one registry publishes in order). The registry's own log must hold at
 * least 2 entries; the newest one (which its own flush may re-publish) is left out of the counts.
 */
export async function checkGetOnlyForMembers(registryUrl: string, registryLog: string, member: SimulatedPeer, outsider: SigningKey, timeoutMs = 5000): Promise<CheckResult> {
  const n = Number((await json(`${registryUrl}${LEDGER_PREFIX}entries?start=0&end=0`)).body.size ?? 0);
  if (n < 2) return { id: "REQ-LG-09", ok: false, detail: `the registry's log holds ${n} entries, the check needs 2` };
  const log = new Uint8Array(Buffer.from(registryLog, "hex"));
  const w = await member.watch(ledgerTopic(registryLog, "entry"));
  try {
    const counted = () => w.got.map((e) => peekEntry(e)).filter((e) => e.ok && e.value.seq < n - 1).length;
    await member.publish("get", encodeDeterministic({ v: 1, start: 0, end: n - 1 }), false, registryLog); // the unsigned form
    await member.publish("get", Buffer.from(JSON.stringify({ v: 1, start: 0, end: n - 1 })), false, registryLog);
    await member.get(log, 0, n - 1, outsider);
    await member.publish("get", signGet({ log: member.key.kid, start: 0, end: n - 1, ts: Date.now() }, member.key.signer, member.key.kid), false, registryLog); // names another log
    await member.get(log, 0, 1);
    const answered = await eventually(async () => counted() >= 1, timeoutMs);
    if (!answered) return { id: "REQ-LG-09", ok: false, detail: "a pinned member's signed get was not answered" };
    await new Promise((r) => setTimeout(r, Math.min(500, timeoutMs / 4)));
    const c = counted();
    return { id: "REQ-LG-09", ok: c === 1, detail: c === 1 ? "unsigned, unpinned and misdirected gets published nothing; the member's get was answered" : `${c - 1} entries published for gets that were unsigned, signed by an unpinned key, or meant for another log` };
  } finally {
    await w.stop();
  }
}
