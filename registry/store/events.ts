// events: the registry's append-only event log (triggers refuse UPDATE and DELETE).
// Every state change appends here in the same transaction, so the log and the state never
// disagree turns this log into an RFC 9162 Merkle tree.
import type { Db, Stmt } from "./util.js";

export type EventType =
  | "enrolled"
  | "imei-bound"
  | "endorsement-changed"
  | "attested"
  | "flag-raised"
  | "flag-cleared"
  | "claimed"
  | "transferred"
  | "claim-code-issued"
  | "owner-reset"
  | "command-issued"
  | "command-result";

export interface NewEvent {
  readonly at: number;
  readonly type: EventType;
  readonly did?: string | null;
  readonly imei?: string | null;
  /** 'owner:<kid hex>', 'authority:<kid hex>' or 'registry'. */
  readonly party?: string | null;
  readonly detail?: Record<string, unknown>;
}

export interface Event {
  readonly seq: number;
  readonly at: number;
  readonly type: EventType;
  readonly did: string | null;
  readonly imei: string | null;
  readonly party: string | null;
  readonly detail: Record<string, unknown>;
}

type Row = { seq: number; at: number; type: EventType; did: string | null; imei: string | null; party: string | null; detail: string };

export class EventLog {
  readonly #append: Stmt;
  readonly #list: Stmt;
  readonly #count: Stmt;

  constructor(db: Db) {
    this.#append = db.prepare("INSERT INTO events (at, type, did, imei, party, detail) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq");
    this.#list = db.prepare("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
    this.#count = db.prepare("SELECT count(*) AS n FROM events");
  }

  /** Appends an event; returns its sequence number. */
  append(e: NewEvent): number {
    const detail = JSON.stringify(e.detail ?? {});
    return (this.#append.get(e.at, e.type, e.did ?? null, e.imei ?? null, e.party ?? null, detail) as { seq: number }).seq;
  }

  /** Events after `afterSeq`, oldest first. */
  list(afterSeq = 0, limit = 1000): Event[] {
    return (this.#list.all(afterSeq, limit) as Row[]).map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  count(): number {
    return (this.#count.get() as { n: number }).n;
  }
}
