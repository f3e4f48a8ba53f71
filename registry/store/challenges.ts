// challenges: the nonces the registry sent on `at/v1/d/<did>/challenge` and not yet answered
// (PROTOCOL.md §4.2). Kept in the database, not in one worker's memory, so that with several
// registry workers on one database (MQTT 5 shared subscriptions, docs/CONFORMANCE.md) an
// attestation is checked by whichever worker the broker hands it to. A nonce is bound to the
// did it was sent to (the primary key), used once (`take` deletes it, so of two transactions
// answering with the same nonce only the first finds the row), and at most PER_DEVICE are kept
// per device (a hello and a heartbeat may both have asked).
import type { Db, Stmt } from "./util.js";
import { blob } from "./util.js";

/** Outstanding challenges kept per device; older ones are forgotten first. */
export const CHALLENGES_PER_DEVICE = 4;

/** An outstanding challenge: when and by which registry worker it was sent. */
export interface Outstanding {
  readonly issuedAt: number;
  readonly issuedBy: string;
}

export class ChallengeTable {
  readonly #add: Stmt;
  readonly #trim: Stmt;
  readonly #issuedAt: Stmt;
  readonly #take: Stmt;
  readonly #settle: Stmt;
  readonly #fresh: Stmt;
  readonly #newest: Stmt;
  readonly #count: Stmt;
  readonly #purge: Stmt;

  constructor(db: Db) {
    this.#add = db.prepare("INSERT INTO challenges (did, nonce, issued_at, issued_by) VALUES (?, ?, ?, ?)");
    // Keeps the newest PER_DEVICE (the one just added among them, whatever the clock says).
    this.#trim = db.prepare(
      `DELETE FROM challenges WHERE did = @did AND nonce <> @nonce AND nonce NOT IN
         (SELECT nonce FROM challenges WHERE did = @did AND nonce <> @nonce ORDER BY issued_at DESC LIMIT @keep)`,
    );
    this.#issuedAt = db.prepare("SELECT issued_at FROM challenges WHERE did = ? AND nonce = ?").pluck();
    this.#take = db.prepare("DELETE FROM challenges WHERE did = ? AND nonce = ? RETURNING issued_at, issued_by");
    this.#settle = db.prepare("DELETE FROM challenges WHERE did = ?");
    this.#fresh = db.prepare("SELECT 1 FROM challenges WHERE did = ? AND issued_at >= ? LIMIT 1");
    this.#count = db.prepare("SELECT count(*) FROM challenges").pluck();
    this.#newest = db.prepare("SELECT nonce FROM challenges WHERE did = ? AND issued_at >= ? ORDER BY issued_at DESC LIMIT 1").pluck();
    this.#purge = db.prepare("DELETE FROM challenges WHERE issued_at < ?");
  }

  /** Records a nonce sent to `did` at `at` by worker `by`, forgetting the device's oldest beyond PER_DEVICE. In a transaction. */
  add(did: string, nonce: Uint8Array, at: number, by: string): void {
    this.#add.run(did, blob(nonce), at, by);
    this.#trim.run({ did, nonce: blob(nonce), keep: CHALLENGES_PER_DEVICE - 1 });
  }

  /** When `nonce` was sent to `did`, if it is still outstanding (a read: another worker may take it meanwhile). */
  issuedAt(did: string, nonce: Uint8Array): number | undefined {
    return this.#issuedAt.get(did, blob(nonce)) as number | undefined;
  }

  /**
   * Uses `nonce`: deletes it and returns when and by whom it was issued, or undefined when no
   * such challenge is outstanding (never issued, or already taken by an earlier transaction).
   * Inside the transaction that records what the answer proved, so the two commit together.
   */
  take(did: string, nonce: Uint8Array): Outstanding | undefined {
    const r = this.#take.get(did, blob(nonce)) as { issued_at: number; issued_by: string } | undefined;
    return r && { issuedAt: r.issued_at, issuedBy: r.issued_by };
  }

  /** Forgets every outstanding challenge of `did` (after a verified attestation). */
  settle(did: string): void {
    this.#settle.run(did);
  }

  /** True when `did` has a challenge issued at or after `since`. */
  hasSince(did: string, since: number): boolean {
    return this.#fresh.get(did, since) !== undefined;
  }

  /** The newest nonce sent to `did` at or after `since` and not yet answered, if any. */
  newestSince(did: string, since: number): Uint8Array | undefined {
    const b = this.#newest.get(did, since) as Buffer | undefined;
    return b && new Uint8Array(b);
  }

  count(): number {
    return this.#count.get() as number;
  }

  /** Forgets challenges issued before `before` (ms); returns how many. */
  purge(before: number): number {
    return this.#purge.run(before).changes;
  }
}
