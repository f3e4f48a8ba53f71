// The auditor (witness) of docs/LEDGER.md §8: follows registries' logs over their public HTTP
// resources (http.ts) with nothing but their public keys, and reports every inconsistency.
// For each registry it audits:
//  1. its signed tree head, checked under its pinned key;
//  2. the heads every audited registry holds of every pinned log (gossip), and the alarms they
//     hold (fork evidence is re-checked here: it proves itself);
//  3. no two heads of one log with one size and different roots (E_LEDGER_FORK), whoever showed them;
//  4. since the head this auditor saw last (its state; also with --full): a consistency proof (RFC 9162 §2.1.4.2),
//     then the new entries - each signed by the log, each at its position - extend the saved
//     compact range to exactly the signed root (E_LEDGER_ROOT). First audit, or --full: all entries.
//     An older head than the saved one is stale (E_LEDGER_STALE) if proved consistent, else a fork,
//     and the saved (newer) head is kept: the auditor never moves backwards;
//  5. every other head of the log seen anywhere is consistent with the registry's own (a split view);
//  6. inclusion proofs (RFC 9162 §2.1.3.2) of a sample of entries and of the newest one.
// Time and transport are injected (fetch, random). Nothing in a response is trusted unless a
// signature or a proof vouches for it.
import { kidOfPublic, publicKeyFromRaw, toHex } from "../../attestation/index.js";
import { equalBytes } from "../../attestation/bytes.js";
import { verifyEntry } from "./entry.js";
import { verifyTreeHead, type SignedTreeHead } from "./tree-head.js";
import { verifyConsistency, verifyInclusion } from "./verify.js";
import { CompactRange } from "./compact-range.js";
import { checkEvidence } from "./evidence.js";
import { LEDGER_PREFIX } from "./http.js";
import type { LedgerErrorCode } from "./errors.js";
import type { KeyObject } from "node:crypto";
import type { TlogState } from "./tlog-auditor.js";

export interface AuditTarget {
  /** The registry's base URL, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** Its public key (raw 32 bytes): the log id is its kid. */
  readonly publicKey: Uint8Array;
}

/** What the auditor remembers of a log between runs. */
export interface AuditedLog {
  readonly size: number;
  readonly root: string;
  readonly ts: number;
  readonly sth: string;
  readonly frontier: readonly string[];
}

export interface AuditState {
  readonly v: 1;
  readonly logs: Readonly<Record<string, AuditedLog>>;
  /** Logs audited over the C2SP formats (tlog-auditor.ts), by checkpoint origin. */
  readonly tlog?: Readonly<Record<string, TlogState>>;
}

export const EMPTY_STATE: AuditState = { v: 1, logs: {} };

export interface Finding {
  readonly level: "ok" | "warn" | "fail";
  readonly code: LedgerErrorCode | "OK";
  /** The log concerned (hex id). */
  readonly log: string;
  readonly message: string;
}

export interface AuditOptions {
  /** Re-fetch and re-check every entry, not only the new ones. */
  readonly full?: boolean;
  /** How many random old entries to prove included (default 8). */
  readonly sample?: number;
  /** Extra pinned logs (keys of registries not audited directly, whose heads are gossiped). */
  readonly extraKeys?: readonly Uint8Array[];
  readonly fetch?: typeof fetch;
  readonly random?: () => number;
  readonly timeoutMs?: number;
}

export interface AuditReport {
  readonly findings: Finding[];
  readonly state: AuditState;
  /** Any inconsistency (a "fail" finding other than E_LEDGER_UNREACHABLE). */
  readonly inconsistent: boolean;
  /** Any registry that could not be audited. */
  readonly unreachable: boolean;
}

class Unreachable extends Error {}

interface Pinned {
  readonly hex: string;
  readonly logId: Uint8Array;
  readonly key: KeyObject;
  readonly target?: AuditTarget;
}

interface Observation {
  readonly head: SignedTreeHead;
  readonly source: string;
}

const fromB64 = (s: unknown): Uint8Array => {
  if (typeof s !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Unreachable("a signed object is not base64");
  return new Uint8Array(Buffer.from(s, "base64"));
};
const fromHexList = (a: unknown): Uint8Array[] => {
  if (!Array.isArray(a) || a.length > 64 || !a.every((x) => typeof x === "string" && /^[0-9a-f]{64}$/.test(x))) throw new Unreachable("a proof is not a list of hex hashes");
  return a.map((x: string) => new Uint8Array(Buffer.from(x, "hex")));
};
const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");

export async function audit(targets: readonly AuditTarget[], state: AuditState = EMPTY_STATE, o: AuditOptions = {}): Promise<AuditReport> {
  const doFetch = o.fetch ?? fetch;
  const random = o.random ?? Math.random;
  const findings: Finding[] = [];
  const note = (level: Finding["level"], code: Finding["code"], log: string, message: string) => findings.push({ level, code, log, message });

  const pinned = new Map<string, Pinned>();
  const pin = (raw: Uint8Array, target?: AuditTarget) => {
    const logId = kidOfPublic(raw);
    const hex = toHex(logId);
    pinned.set(hex, { hex, logId, key: publicKeyFromRaw(raw), ...(target ? { target } : pinned.get(hex)?.target ? { target: pinned.get(hex)!.target! } : {}) });
  };
  for (const k of o.extraKeys ?? []) pin(k);
  for (const t of targets) pin(t.publicKey, t);

  const get = async (base: string, path: string): Promise<Record<string, unknown>> => {
    let r: Response;
    try {
      r = await doFetch(new URL(LEDGER_PREFIX + path, base), { signal: AbortSignal.timeout(o.timeoutMs ?? 15_000) });
    } catch (e) {
      throw new Unreachable(`${base}: ${(e as Error).cause ?? (e as Error).message}`);
    }
    let body: Record<string, unknown>;
    try {
      body = (await r.json()) as Record<string, unknown>;
    } catch {
      throw new Unreachable(`${base}/${path}: answered ${r.status} with a body that is not JSON`);
    }
    if (r.status !== 200 || body.ok !== true) throw new Unreachable(`${base}/${path}: ${r.status} ${String(body.code ?? "")} ${String(body.message ?? "")}`.trim());
    return body;
  };

  // 1, 2: heads from the origins, heads and alarms held by everyone.
  const observed = new Map<string, Observation[]>();
  const observe = (hex: string, head: SignedTreeHead, source: string) => {
    const list = observed.get(hex) ?? [];
    if (!list.some((x) => x.head.size === head.size && equalBytes(x.head.root, head.root) && x.source === source)) list.push({ head, source });
    observed.set(hex, list);
  };
  const direct = new Map<string, SignedTreeHead>();
  const reached = new Set<string>();
  for (const t of targets) {
    const p = pinned.get(toHex(kidOfPublic(t.publicKey)))!;
    try {
      const body = await get(t.url, "sth");
      const h = verifyTreeHead(fromB64(body.sth), p.key, p.logId);
      if (!h.ok) {
        note("fail", h.code, p.hex, `${t.url} serves a tree head that does not verify under its key: ${h.reason}`);
        continue;
      }
      direct.set(p.hex, h.value);
      observe(p.hex, h.value, `${t.url} (its own head)`);
      reached.add(t.url);
    } catch (e) {
      note("fail", "E_LEDGER_UNREACHABLE", p.hex, (e as Error).message);
      continue;
    }
    try {
      const heads = (await get(t.url, "heads")).heads;
      for (const x of Array.isArray(heads) ? heads : []) {
        const q = pinned.get(String((x as Record<string, unknown>).log));
        if (!q) continue;
        const h = verifyTreeHead(fromB64((x as Record<string, unknown>).sth), q.key, q.logId);
        if (h.ok) observe(q.hex, h.value, `${t.url} (gossip)`);
        else note("warn", h.code, q.hex, `${t.url} holds a head of this log that does not verify: ${h.reason}`);
      }
      const alarms = (await get(t.url, "alarms")).alarms;
      for (const x of Array.isArray(alarms) ? (alarms as Record<string, unknown>[]) : []) {
        const q = pinned.get(String(x.log));
        const code = String(x.code);
        if (!q) continue;
        if ((code === "E_LEDGER_FORK" || code === "E_LEDGER_ENTRY_FORK") && typeof x.second === "string" && x.second.length > 0) {
          const c = checkEvidence(code, fromB64(x.first), fromB64(x.second), q.key, q.logId);
          if (c.ok) note("fail", code, q.hex, `${t.url} holds proof that this log equivocated at ${code === "E_LEDGER_FORK" ? "size" : "position"} ${c.value}: two signed ${code === "E_LEDGER_FORK" ? "heads" : "entries"} that cannot both be true`);
          else note("warn", c.code, q.hex, `${t.url} reports ${code} with evidence that does not hold: ${c.reason}`);
        } else {
          note("warn", code as LedgerErrorCode, q.hex, `${t.url} reports ${code}: ${String(x.detail ?? "")}`);
        }
      }
    } catch (e) {
      note("warn", "E_LEDGER_UNREACHABLE", p.hex, `gossip from ${t.url}: ${(e as Error).message}`);
    }
  }

  // 3..6 per pinned log.
  const logs: Record<string, AuditedLog> = { ...state.logs };
  for (const p of pinned.values()) {
    const prevSaved = state.logs[p.hex];
    const prev = prevSaved ? verifyTreeHead(fromB64(prevSaved.sth), p.key, p.logId) : undefined;
    if (prev?.ok) observe(p.hex, prev.value, "this auditor's previous run");
    const obs = observed.get(p.hex) ?? [];
    let failed = false;
    let failures = 0;
    const fail = (code: LedgerErrorCode, message: string) => {
      failed = true;
      if (++failures <= 20) note("fail", code, p.hex, message);
      else if (failures === 21) note("fail", code, p.hex, "further failures of this log are not listed");
    };
    // 3. forks
    const bySize = new Map<number, Observation[]>();
    for (const x of obs) bySize.set(x.head.size, [...(bySize.get(x.head.size) ?? []), x]);
    for (const [size, xs] of bySize) {
      const roots = new Set(xs.map((x) => toHex(x.head.root)));
      if (roots.size > 1) fail("E_LEDGER_FORK", `two signed heads of size ${size} with different roots: ${xs.map((x) => `${toHex(x.head.root).slice(0, 16)}... from ${x.source}`).join("; ")}`);
    }
    const d = direct.get(p.hex);
    const t = p.target;
    if (!d || !t || !reached.has(t.url)) {
      if (!failed && obs.length > 0) note("ok", "OK", p.hex, `no fork among ${obs.length} gossiped head(s) (log not audited directly)`);
      continue;
    }
    try {
      const entriesOf = async (start: number, end: number, into: CompactRange | undefined): Promise<number> => {
        let at = start;
        while (at < end) {
          const body = await get(t.url, `entries?log=${p.hex}&start=${at}&end=${end}`);
          const page = Array.isArray(body.entries) ? body.entries : [];
          if (page.length === 0) throw new Unreachable(`${t.url} withholds entries [${at}, ${end}) that its head covers`);
          for (const x of page) {
            const bytes = fromB64(x);
            const e = verifyEntry(bytes, p.key, p.logId);
            if (!e.ok) fail(e.code, `entry ${at}: ${e.reason}`);
            else if (e.value.seq !== at) fail("E_LEDGER_SEQ", `the entry served at position ${at} says it is entry ${e.value.seq}`);
            into?.append(bytes);
            at++;
          }
        }
        return at - start;
      };
      // 4. the log since last time. The saved head is checked first, --full or not: the auditor
      // never moves backwards. An older head (stale) is checked against the saved one and the
      // saved one is kept, so a history that branches before it stays refused on later runs.
      let stale = false;
      let since = "";
      if (prev?.ok && prevSaved) {
        const ph = prev.value;
        if (d.size >= ph.size) {
          const c = await get(t.url, `proof/consistency?log=${p.hex}&first=${ph.size}&second=${d.size}`);
          if (!verifyConsistency(ph.size, d.size, ph.root, d.root, fromHexList(c.path))) fail("E_LEDGER_INCONSISTENT", `the head of size ${d.size} is not an extension of the head of size ${ph.size} this auditor saw before`);
          else since = `, consistent with the previous head of size ${ph.size}`;
        } else {
          stale = true;
          let ok = false;
          try {
            const c = await get(t.url, `proof/consistency?log=${p.hex}&first=${d.size}&second=${ph.size}`);
            ok = verifyConsistency(d.size, ph.size, d.root, ph.root, fromHexList(c.path));
          } catch {
            ok = false;
          }
          if (ok) note("warn", "E_LEDGER_STALE", p.hex, `${t.url} serves a head of size ${d.size}, older than the head of size ${ph.size} seen before: the newer head is kept`);
          else fail("E_LEDGER_FORK", `${t.url} serves a head of size ${d.size} and cannot prove it consistent with the head of size ${ph.size} it signed before: the log shrank or forked`);
        }
      }
      let range: CompactRange;
      let checked: number;
      if (o.full || stale || !prev?.ok || !prevSaved) {
        range = new CompactRange();
        checked = await entriesOf(0, d.size, range);
      } else {
        range = new CompactRange(prevSaved.size, prevSaved.frontier.map((h) => new Uint8Array(Buffer.from(h, "hex"))));
        checked = await entriesOf(prevSaved.size, d.size, range);
      }
      if (!equalBytes(range.root(), d.root)) fail("E_LEDGER_ROOT", `the entries served do not reproduce the signed root of size ${d.size}`);
      // 5. every other head of this log seen anywhere
      for (const x of obs) {
        if (x.head.size === d.size || x.source.startsWith("this auditor")) continue;
        // A newer head than the one served is fine if the log (which may have grown since) proves it.
        const [a, b] = x.head.size < d.size ? [x.head, d] : [d, x.head];
        let ok = false;
        try {
          const c = await get(t.url, `proof/consistency?log=${p.hex}&first=${a.size}&second=${b.size}`);
          ok = verifyConsistency(a.size, b.size, a.root, b.root, fromHexList(c.path));
        } catch {
          ok = false;
        }
        if (!ok) fail("E_LEDGER_FORK", `the head of size ${x.head.size} seen at ${x.source} cannot be proved consistent with the log's own head of size ${d.size}: two views`);
      }
      // 6. inclusion of sampled entries and the newest
      const picks = new Set<number>();
      if (d.size > 0) picks.add(d.size - 1);
      for (let i = 0; i < (o.sample ?? 8) && d.size > 0; i++) picks.add(Math.floor(random() * d.size));
      for (const i of picks) {
        const [eb, pb] = [await get(t.url, `entries?log=${p.hex}&start=${i}&end=${i + 1}`), await get(t.url, `proof/inclusion?log=${p.hex}&index=${i}&size=${d.size}`)];
        const entry = Array.isArray(eb.entries) && eb.entries.length === 1 ? fromB64(eb.entries[0]) : new Uint8Array(0);
        if (!verifyInclusion(entry, i, d.size, fromHexList(pb.path), d.root)) fail("E_LEDGER_INCLUSION", `entry ${i} is not proved included in the head of size ${d.size}`);
      }
      if (!failed) {
        note("ok", "OK", p.hex, `${t.url}: ${d.size} entries, root ${toHex(d.root).slice(0, 16)}..., ${checked} entries checked${since}, ${picks.size} inclusion proofs verified`);
        // A stale run keeps the newer saved head (never roll the state back).
        if (!stale) logs[p.hex] = { size: d.size, root: toHex(d.root), ts: d.ts, sth: b64(d.cose), frontier: range.hashes.map(toHex) };
      }
    } catch (e) {
      if (!(e instanceof Unreachable)) throw e;
      note("fail", "E_LEDGER_UNREACHABLE", p.hex, e.message);
    }
  }
  return {
    findings,
    state: { v: 1, logs },
    inconsistent: findings.some((f) => f.level === "fail" && f.code !== "E_LEDGER_UNREACHABLE"),
    unreachable: findings.some((f) => f.level === "fail" && f.code === "E_LEDGER_UNREACHABLE"),
  };
}

/** Parses a saved state (JSON), refusing anything else. */
export function parseAuditState(text: string): AuditState {
  const v = JSON.parse(text) as AuditState;
  if (!v || v.v !== 1 || typeof v.logs !== "object" || v.logs === null) throw new Error("not an audit state file (v 1)");
  for (const [hex, l] of Object.entries(v.logs)) {
    if (!/^[0-9a-f]{32}$/.test(hex) || !Number.isSafeInteger(l.size) || typeof l.sth !== "string" || !Array.isArray(l.frontier)) throw new Error(`bad state for log ${hex}`);
    new CompactRange(l.size, l.frontier.map((h) => new Uint8Array(Buffer.from(h, "hex"))));
  }
  for (const [origin, l] of Object.entries(v.tlog ?? {})) {
    if (!l || !Number.isSafeInteger(l.size) || typeof l.root !== "string" || !/^[0-9a-f]{64}$/.test(l.root) || !Array.isArray(l.frontier)) throw new Error(`bad state for tlog ${origin}`);
    new CompactRange(l.size, l.frontier.map((h) => new Uint8Array(Buffer.from(h, "hex"))));
  }
  return v;
}
