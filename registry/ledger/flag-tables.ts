// Flags as the ledger sees them (schema.ts):
// - local: which entry of this registry's log published each of its flags, so the entry that
//   clears the flag can name it (`ref`);
// - peers: the flags other registries published, by IMEI pseudonym. Only the originator's own log
//   can clear one: a clear updates the rows (log, ref) of the SAME log (docs/LEDGER.md §5).
import type { Db, Stmt } from "../store/util.js";
import { blob, bytes } from "../store/util.js";
import type { FlagKind, PartyRole } from "../store.js";

export class LocalFlagTable {
  readonly #put: Stmt;
  readonly #seq: Stmt;
  readonly #unpublished: Stmt;

  constructor(db: Db) {
    this.#put = db.prepare("INSERT INTO ledger_local_flags (flag, seq) VALUES (?, ?) ON CONFLICT (flag) DO UPDATE SET seq = excluded.seq");
    this.#seq = db.prepare("SELECT seq FROM ledger_local_flags WHERE flag = ?").pluck();
    this.#unpublished = db.prepare(
      "SELECT id, did, imei, kind, raised_role AS role FROM flags WHERE cleared_at IS NULL AND id NOT IN (SELECT flag FROM ledger_local_flags) ORDER BY id",
    );
  }

  put(flag: number, seq: number): void {
    this.#put.run(flag, seq);
  }

  /** The entry that published local flag `flag`, if any. */
  seq(flag: number): number | undefined {
    return this.#seq.get(flag) as number | undefined;
  }

  /** Active flags never published (raised before the ledger was enabled). */
  unpublished(): { id: number; did: string; imei: string | null; kind: FlagKind; role: PartyRole }[] {
    return this.#unpublished.all() as { id: number; did: string; imei: string | null; kind: FlagKind; role: PartyRole }[];
  }
}

/** A flag another registry published, as equipment status uses it. */
export interface PeerFlag {
  readonly kind: FlagKind;
  /** The originating log (hex of its id) and the peer's configured name. */
  readonly log: string;
  readonly registry: string;
  readonly seq: number;
  readonly at: number;
  /** The originator cleared it, but its log has an open alarm, so the flag stands (fail closed). */
  readonly heldAfterClear: boolean;
}

type Row = { kind: FlagKind; at: number; seq: number; log_id: Buffer; name: string; cleared_seq: number | null };

/** A peer flag row with its clear, for a witness policy's gate (ledger.ts). */
export interface PeerFlagRow extends PeerFlag {
  readonly clearedSeq: number | null;
  /** The log has an alarm: its clears do not count (fail closed). */
  readonly alarmed: boolean;
}

export class PeerFlagTable {
  readonly #raise: Stmt;
  readonly #clear: Stmt;
  readonly #active: Stmt;
  readonly #rows: Stmt;

  constructor(db: Db) {
    this.#raise = db.prepare("INSERT INTO ledger_peer_flags (subject, log, seq, kind, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    this.#clear = db.prepare("UPDATE ledger_peer_flags SET cleared_seq = ? WHERE log = ? AND seq = ? AND cleared_seq IS NULL");
    // A log with an alarm (fork, entries that disagree with its heads) is not trusted to clear:
    // its flags stand until an operator resolves the alarm. Unknown or inconsistent data is never
    // an implicit allow (PROTOCOL.md §6.3).
    this.#active = db.prepare(
      `SELECT f.kind, f.at, f.seq, f.cleared_seq, l.log_id, l.name FROM ledger_peer_flags f JOIN ledger_logs l ON l.id = f.log
       WHERE f.subject = ? AND (f.cleared_seq IS NULL OR EXISTS (SELECT 1 FROM ledger_alarms a WHERE a.log = f.log))
       ORDER BY f.at, f.log, f.seq`,
    );
    this.#rows = db.prepare(
      `SELECT f.kind, f.at, f.seq, f.cleared_seq, l.log_id, l.name, EXISTS (SELECT 1 FROM ledger_alarms a WHERE a.log = f.log) AS alarmed
       FROM ledger_peer_flags f JOIN ledger_logs l ON l.id = f.log WHERE f.subject = ? ORDER BY f.at, f.log, f.seq`,
    );
  }

  /** Every row of this pseudonym, cleared or not (a witness policy decides which count). */
  rows(subject: Uint8Array): PeerFlagRow[] {
    return (this.#rows.all(blob(subject)) as (Row & { alarmed: number })[]).map((r) => ({
      kind: r.kind,
      log: bytes(r.log_id).reduce((s, b) => s + b.toString(16).padStart(2, "0"), ""),
      registry: r.name,
      seq: r.seq,
      at: r.at,
      heldAfterClear: r.cleared_seq !== null,
      clearedSeq: r.cleared_seq,
      alarmed: r.alarmed === 1,
    }));
  }

  raise(subject: Uint8Array, log: number, seq: number, kind: FlagKind, at: number): void {
    this.#raise.run(blob(subject), log, seq, kind, at);
  }

  /** Clears the flag raised by entry `ref` of `log`; the number of IMEI rows cleared (0: nothing to clear). */
  clear(log: number, ref: number, seq: number): number {
    return this.#clear.run(seq, log, ref).changes;
  }

  active(subject: Uint8Array): PeerFlag[] {
    return (this.#active.all(blob(subject)) as Row[]).map((r) => ({
      kind: r.kind,
      log: bytes(r.log_id).reduce((s, b) => s + b.toString(16).padStart(2, "0"), ""),
      registry: r.name,
      seq: r.seq,
      at: r.at,
      heldAfterClear: r.cleared_seq !== null,
    }));
  }
}
