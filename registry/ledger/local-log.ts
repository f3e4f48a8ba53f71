// This registry's own log: it appends signed entries (inside the caller's transaction, so an entry
// commits with the flag change it records, or not at all) and signs tree heads.
import type { SigningKey } from "../keys.js";
import type { PartyRole } from "../store.js";
import { equalBytes } from "../../attestation/bytes.js";
import { signEntry, type EntryBody, type LedgerEvent, MAX_SUBJECTS } from "./entry.js";
import { signTreeHead, type SignedTreeHead } from "./tree-head.js";
import type { FederationKey } from "./pseudonym.js";
import type { LedgerDb } from "./ledger-db.js";
import type { LogRow } from "./tables.js";
import { accept, refuse, type Checked } from "./errors.js";
import { isTestImei } from "../../protocol/test-imei.js";

export interface LocalEvent {
  readonly ev: LedgerEvent;
  /** The device's IMEIs (1 or 2); published only as pseudonyms. */
  readonly imeis: readonly string[];
  readonly by: PartyRole;
  /** found / cleared: the entry that raised the flag. */
  readonly ref?: number;
}

export class LocalLog {
  constructor(
    readonly ldb: LedgerDb,
    readonly row: LogRow,
    readonly key: SigningKey,
    readonly fk: FederationKey,
    readonly now: () => number,
  ) {}

  get logId(): Uint8Array {
    return this.row.logId;
  }

  size(): number {
    return this.ldb.logs.size(this.row.id);
  }

  /** Appends one signed entry; returns its position and bytes. Call inside a transaction. */
  append(e: LocalEvent): { seq: number; cose: Uint8Array } {
    const seq = this.size();
    const subjects: Uint8Array[] = [];
    for (const imei of e.imeis) {
      const p = this.fk.pseudonym(imei);
      if (!subjects.some((s) => equalBytes(s, p))) subjects.push(p);
    }
    if (subjects.length < 1 || subjects.length > MAX_SUBJECTS) throw new RangeError(`an entry names 1..${MAX_SUBJECTS} IMEIs`);
    // A conformance run's synthetic handsets (all IMEIs in the test range) make test entries (§2).
    const test = e.imeis.every((i) => isTestImei(i));
    const body: EntryBody = {
      log: this.row.logId, seq, ts: this.now(), ev: e.ev, sub: subjects, fk: this.fk.id, by: e.by, ...(e.ref !== undefined ? { ref: e.ref } : {}), ...(test ? { test: true as const } : {}),
    };
    const cose = signEntry(body, this.key.signer);
    // A row already at this position was not written by this code path: refuse to build on it.
    if (this.ldb.tree.putEntry(this.row.id, seq, cose) !== cose) throw new Error(`ledger: position ${seq} of the local log is already taken`);
    this.ldb.tree.addLeaf(this.row.id, seq, cose);
    this.ldb.logs.setSize(this.row.id, seq + 1);
    return { seq, cose };
  }

  /** The latest signed tree head, signing a new one (in its own transaction) when the log grew. */
  head(): SignedTreeHead {
    return this.ldb.tx(() => {
      const latest = this.ldb.heads.latest(this.row.id);
      const size = this.size();
      if (latest && latest.size === size) return latest;
      const now = this.now();
      const h = signTreeHead({ log: this.row.logId, size, root: this.ldb.tree.root(this.row.id, size), ts: Math.max(now, latest?.ts ?? 0) }, this.key.signer);
      this.ldb.heads.add(this.row.id, h, now);
      return h;
    });
  }

  /**
   * A start-up check in O(log n): the tree still has the root this registry signed last, and has
   * not shrunk. (The auditor checks the entries themselves.)
   */
  selfCheck(): Checked<null> {
    const latest = this.ldb.heads.latest(this.row.id);
    if (!latest) return accept(null);
    const size = this.size();
    if (size < latest.size) return refuse("E_LEDGER_ROOT", `the log holds ${size} entries but this registry signed a head of ${latest.size}`);
    try {
      if (!equalBytes(this.ldb.tree.root(this.row.id, latest.size), latest.root)) return refuse("E_LEDGER_ROOT", `the tree no longer has the root signed at size ${latest.size}`);
    } catch (e) {
      return refuse("E_LEDGER_ROOT", (e as Error).message);
    }
    return accept(null);
  }
}
