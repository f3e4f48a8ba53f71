// Receiving a log's entries and tree heads (already signature-checked by the caller), inside the
// caller's transaction:
// - a peer's log is mirrored: entries join the tree in order (one waiting beyond a gap is kept
//   until the gap is filled), each applied to the peer flags as it joins; every head is recorded
//   and checked against the mirror - same size and another root than a head already held is a
//   fork; a root the mirrored entries do not reproduce is E_LEDGER_ROOT;
// - this registry's own log is only compared: an entry or a head of it that this registry did not
//   make means its key is used elsewhere, or its database was rolled back. Both raise an alarm.
// Alarms keep their evidence (the signed objects), ordered so the same pair is recorded once.
import { equalBytes } from "../../attestation/bytes.js";
import { isClear, isRaise, peekEntry, type EntryBody } from "./entry.js";
import type { SignedTreeHead } from "./tree-head.js";
import type { LedgerDb } from "./ledger-db.js";
import type { LogRow } from "./tables.js";
import type { LedgerErrorCode } from "./errors.js";

/** How far beyond its gap a peer's entries are kept (a bound on what a peer can make us store). */
export const MAX_AHEAD = 10_000;

export interface NewAlarm {
  readonly log: LogRow;
  readonly code: LedgerErrorCode;
  readonly size: number | null;
  readonly first: Uint8Array;
  readonly second: Uint8Array;
  readonly detail: string;
}

export interface Outcome {
  /** Alarms recorded now (not those already on record). */
  readonly alarms: NewAlarm[];
  /** Entries that joined the tree. */
  applied: number;
  /** Entries made with another federation key (not applied to the peer flags). */
  foreignKey: number;
  /** Test entries (docs/LEDGER.md §2: a conformance run's): in the tree, not applied to the peer flags. */
  test: number;
  /** The head was not held before. */
  newHead?: boolean;
}

const outcome = (): Outcome => ({ alarms: [], applied: 0, foreignKey: 0, test: 0 });

function alarm(ldb: LedgerDb, out: Outcome, now: number, a: Omit<NewAlarm, "first" | "second"> & { first: Uint8Array; second?: Uint8Array }): void {
  let first = a.first;
  let second = a.second ?? new Uint8Array(0);
  if (second.length > 0 && Buffer.compare(first, second) > 0) [first, second] = [second, first];
  if (ldb.alarms.add(a.log.id, a.code, a.size, first, second, a.detail, now)) out.alarms.push({ ...a, first, second });
}

export function ingestEntry(ldb: LedgerDb, log: LogRow, body: EntryBody, cose: Uint8Array, federationKeyId: Uint8Array, now: number): Outcome {
  const out = outcome();
  const held = ldb.tree.entry(log.id, body.seq);
  if (held && equalBytes(held, cose)) return out; // a duplicate (QoS 1, re-requested ranges)
  if (held) {
    alarm(ldb, out, now, { log, code: "E_LEDGER_ENTRY_FORK", size: body.seq, first: held, second: cose, detail: `two different signed entries at position ${body.seq}` });
    return out;
  }
  const size = ldb.logs.size(log.id);
  if (log.local) {
    alarm(ldb, out, now, { log, code: "E_LEDGER_ENTRY_FORK", size: body.seq, first: cose, detail: `an entry of this registry's own log at position ${body.seq} that it never wrote (log size ${size})` });
    return out;
  }
  if (body.seq < size) return out; // cannot happen: positions below size are all held
  if (body.seq >= size + MAX_AHEAD) return out; // asked for again once the gap closes (ledger.ts #maybeRequest)
  ldb.tree.putEntry(log.id, body.seq, cose);
  advance(ldb, log, federationKeyId, now, out);
  return out;
}

/** Moves the mirror's size over every entry now contiguous, applying each, then checks the heads it passed. */
function advance(ldb: LedgerDb, log: LogRow, federationKeyId: Uint8Array, now: number, out: Outcome): void {
  const start = ldb.logs.size(log.id);
  let size = start;
  for (;;) {
    const cose = ldb.tree.entry(log.id, size);
    if (!cose) break;
    ldb.tree.addLeaf(log.id, size, cose);
    const e = peekEntry(cose); // verified before it was stored
    if (e.ok) {
      if (!equalBytes(e.value.fk, federationKeyId)) out.foreignKey++;
      else if (e.value.test) out.test++; // a conformance run's entry (docs/LEDGER.md §2): kept, not applied
      else if (isRaise(e.value.ev)) for (const s of e.value.sub) ldb.peerFlags.raise(s, log.id, e.value.seq, e.value.ev, e.value.ts);
      else if (isClear(e.value.ev)) ldb.peerFlags.clear(log.id, e.value.ref!, e.value.seq);
      // owner-reset: a notice, no flag changes
    }
    size++;
    out.applied++;
  }
  if (size === start) return;
  ldb.logs.setSize(log.id, size);
  for (const h of ldb.heads.between(log.id, start, size)) checkRoot(ldb, log, h, now, out);
}

function checkRoot(ldb: LedgerDb, log: LogRow, h: SignedTreeHead, now: number, out: Outcome): boolean {
  if (equalBytes(ldb.tree.root(log.id, h.size), h.root)) return true;
  alarm(ldb, out, now, {
    log, code: "E_LEDGER_ROOT", size: h.size, first: h.cose,
    detail: `the ${h.size} signed entries held do not reproduce the root of this signed head`,
  });
  return false;
}

export function ingestHead(ldb: LedgerDb, log: LogRow, h: SignedTreeHead, now: number): Outcome {
  const out = outcome();
  const size = ldb.logs.size(log.id);
  if (log.local) {
    const mine = ldb.heads.atSize(log.id, h.size);
    if (mine.some((m) => equalBytes(m.root, h.root))) return out;
    if (h.size <= size && equalBytes(ldb.tree.root(log.id, h.size), h.root)) return out; // a true head of ours
    const ours = mine[0] ?? ldb.heads.latest(log.id);
    alarm(ldb, out, now, {
      log, code: "E_LEDGER_FORK", size: h.size, first: h.cose, ...(ours ? { second: ours.cose } : {}),
      detail: `a head of this registry's own log (size ${h.size}) that it did not sign: its key is used elsewhere, or its database was rolled back`,
    });
    return out;
  }
  const others = ldb.heads.atSize(log.id, h.size);
  out.newHead = ldb.heads.add(log.id, h, now);
  let forked = false;
  for (const o of others) {
    if (equalBytes(o.root, h.root)) continue;
    forked = true;
    alarm(ldb, out, now, { log, code: "E_LEDGER_FORK", size: h.size, first: o.cose, second: h.cose, detail: `two signed heads of size ${h.size} with different roots` });
  }
  if (h.size <= size && !forked) checkRoot(ldb, log, h, now, out);
  return out;
}

/** Records fork evidence another party sent, once the caller has verified it. */
export function recordEvidence(ldb: LedgerDb, log: LogRow, code: "E_LEDGER_FORK" | "E_LEDGER_ENTRY_FORK", size: number, a: Uint8Array, b: Uint8Array, now: number): Outcome {
  const out = outcome();
  alarm(ldb, out, now, { log, code, size, first: a, second: b, detail: "evidence received from the federation" });
  return out;
}
