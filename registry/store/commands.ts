// commands: the signed commands issued to each device and their job state
// (PROTOCOL.md §5; receipt §4.5 -> IN_PROGRESS, result §4.6 -> SUCCEEDED / FAILED / REJECTED).
// SUPERSEDED marks an open command a newer one replaced before its result arrived.
import type { Db, Stmt } from "./util.js";
import { blob, blobOrNull, bytes, bytesOrNull } from "./util.js";

export type Action = 1 | 2 | 3; // 1 lock, 2 unlock, 3 show message (PROTOCOL.md §5)
export type CommandStatus = "QUEUED" | "SENT" | "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "REJECTED" | "SUPERSEDED";

/** Commands still waiting for a (successful) result: re-sent on hello and heartbeat. */
export const OPEN_STATUSES: readonly CommandStatus[] = ["QUEUED", "SENT", "IN_PROGRESS", "FAILED"];

export interface CommandRow {
  readonly did: string;
  readonly seq: number;
  readonly action: Action;
  readonly message: string | null;
  readonly contact: string | null;
  readonly cose: Uint8Array;
  readonly status: CommandStatus;
  readonly createdAt: number;
  readonly sentAt: number | null;
  readonly receiptAt: number | null;
  readonly resultAt: number | null;
  readonly resultCode: number | null;
  readonly resultError: number | null;
  readonly resultToken: Uint8Array | null;
}

export interface CommandResult {
  readonly status: "SUCCEEDED" | "FAILED" | "REJECTED";
  readonly code: number;
  readonly error: number | null;
  readonly token: Uint8Array | null;
  readonly at: number;
}

type Row = {
  did: string;
  seq: number;
  action: Action;
  message: string | null;
  contact: string | null;
  cose: Buffer;
  status: CommandStatus;
  created_at: number;
  sent_at: number | null;
  receipt_at: number | null;
  result_at: number | null;
  result_code: number | null;
  result_error: number | null;
  result_token: Buffer | null;
};

function toCommand(r: Row): CommandRow {
  return {
    did: r.did,
    seq: r.seq,
    action: r.action,
    message: r.message,
    contact: r.contact,
    cose: bytes(r.cose),
    status: r.status,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    receiptAt: r.receipt_at,
    resultAt: r.result_at,
    resultCode: r.result_code,
    resultError: r.result_error,
    resultToken: bytesOrNull(r.result_token),
  };
}

const OPEN = "('QUEUED', 'SENT', 'IN_PROGRESS', 'FAILED')";

export class CommandTable {
  readonly #insert: Stmt;
  readonly #get: Stmt;
  readonly #latest: Stmt;
  readonly #latestState: Stmt;
  readonly #maxSeq: Stmt;
  readonly #supersede: Stmt;
  readonly #sent: Stmt;
  readonly #receipt: Stmt;
  readonly #result: Stmt;
  readonly #queued: Stmt;
  readonly #desired: Stmt;
  readonly #all: Stmt;

  constructor(db: Db) {
    this.#insert = db.prepare(
      `INSERT INTO commands (did, seq, action, message, contact, cose, status, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'QUEUED', ?)`,
    );
    this.#get = db.prepare("SELECT * FROM commands WHERE did = ? AND seq = ?");
    this.#latest = db.prepare("SELECT * FROM commands WHERE did = ? ORDER BY seq DESC LIMIT 1");
    this.#latestState = db.prepare("SELECT * FROM commands WHERE did = ? AND action IN (1, 2) ORDER BY seq DESC LIMIT 1");
    this.#maxSeq = db.prepare("SELECT coalesce(max(seq), 0) AS n FROM commands WHERE did = ?");
    this.#supersede = db.prepare(`UPDATE commands SET status = 'SUPERSEDED' WHERE did = ? AND seq < ? AND status IN ${OPEN}`);
    this.#sent = db.prepare("UPDATE commands SET status = 'SENT', sent_at = ? WHERE did = ? AND seq = ? AND status = 'QUEUED'");
    this.#receipt = db.prepare(
      "UPDATE commands SET status = 'IN_PROGRESS', receipt_at = ? WHERE did = ? AND seq = ? AND status IN ('QUEUED', 'SENT')",
    );
    this.#result = db.prepare(
      `UPDATE commands SET status = ?, result_at = ?, result_code = ?, result_error = ?, result_token = ?
       WHERE did = ? AND seq = ?`,
    );
    this.#queued = db.prepare("SELECT * FROM commands WHERE status = 'QUEUED' ORDER BY did, seq");
    this.#desired = db.prepare(
      `SELECT c.* FROM commands c
       JOIN (SELECT did, max(seq) AS seq FROM commands WHERE action IN (1, 2) GROUP BY did) m
         ON c.did = m.did AND c.seq = m.seq`,
    );
    this.#all = db.prepare("SELECT * FROM commands WHERE did = ? ORDER BY seq");
  }

  insert(did: string, seq: number, action: Action, message: string | null, contact: string | null, cose: Uint8Array, at: number): void {
    this.#insert.run(did, seq, action, message, contact, blob(cose), at);
  }

  get(did: string, seq: number): CommandRow | undefined {
    const r = this.#get.get(did, seq) as Row | undefined;
    return r && toCommand(r);
  }

  /** The device's newest command, of any action. */
  latest(did: string): CommandRow | undefined {
    const r = this.#latest.get(did) as Row | undefined;
    return r && toCommand(r);
  }

  /** The device's newest lock or unlock: the desired state (PROTOCOL.md §3 `desired`). */
  latestStateChange(did: string): CommandRow | undefined {
    const r = this.#latestState.get(did) as Row | undefined;
    return r && toCommand(r);
  }

  maxSeq(did: string): number {
    return (this.#maxSeq.get(did) as { n: number }).n;
  }

  /** Marks the open commands below `seq` SUPERSEDED. */
  supersedeBelow(did: string, seq: number): number {
    return this.#supersede.run(did, seq).changes;
  }

  markSent(did: string, seq: number, at: number): boolean {
    return this.#sent.run(at, did, seq).changes === 1;
  }

  markReceipt(did: string, seq: number, at: number): boolean {
    return this.#receipt.run(at, did, seq).changes === 1;
  }

  setResult(did: string, seq: number, r: CommandResult): void {
    this.#result.run(r.status, r.at, r.code, r.error, blobOrNull(r.token), did, seq);
  }

  /** Every command never published (QUEUED), oldest first: re-published on start. */
  queued(): CommandRow[] {
    return (this.#queued.all() as Row[]).map(toCommand);
  }

  /** Each device's newest lock or unlock: re-published retained when the broker lost them. */
  desiredAll(): CommandRow[] {
    return (this.#desired.all() as Row[]).map(toCommand);
  }

  history(did: string): CommandRow[] {
    return (this.#all.all(did) as Row[]).map(toCommand);
  }
}
