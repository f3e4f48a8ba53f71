// Challenges (PROTOCOL.md §4.2): random 32-byte nonces, single use, expiring after a TTL, each
// bound to the device it was sent to: an attestation on `at/v1/d/<did>/attestation` must answer a
// nonce issued to that did. They live in the database (store/challenges.ts), not in memory, so
// that several registry workers sharing one database behind an MQTT 5 shared subscription can
// each check an answer to a challenge another worker sent (docs/CONFORMANCE.md). The life of one:
//  - `issue` inside a transaction; the challenge is published only after that commits, so the
//    row exists for every worker before the device can answer;
//  - `outstanding` (a read) picks the challenge before the token is verified; a forged or
//    broken token therefore never uses up the genuine device's nonce;
//  - `take` inside the transaction that records the verified attestation: the row is deleted
//    there, so of two transactions (two workers, or two copies of one message) answering with
//    the same nonce, only the first finds it - SQLite serialises writers (BEGIN IMMEDIATE) and the
//    second sees the deletion and is refused with E_NONCE_UNKNOWN, as a replay after it is.
// A few recent nonces are kept per device (a hello and a heartbeat may both have asked); rows
// older than twice the TTL are purged now and then (until then a late answer is E_NONCE_EXPIRED).
import { randomBytes } from "node:crypto";
import { AttestationError, NonceStore } from "../attestation/index.js";
import { CHALLENGE_NONCE_BYTES } from "../protocol/messages.js";
import type { Store } from "./store.js";

export interface ChallengeOptions {
  /** This worker's name, recorded with each challenge it sends (diagnostics). */
  readonly worker?: string;
  readonly ttlMs?: number;
  readonly now?: () => number;
  readonly random?: (n: number) => Uint8Array;
}

/** How often (per worker) expired challenges and stale pending hellos are purged. */
const PURGE_EVERY_MS = 60_000;

export class Challenges {
  readonly ttlMs: number;
  readonly worker: string;
  readonly #store: Store;
  readonly #now: () => number;
  readonly #random: (n: number) => Uint8Array;
  #lastPurge = -Infinity;

  constructor(store: Store, o: ChallengeOptions = {}) {
    this.#store = store;
    this.worker = o.worker ?? "";
    this.ttlMs = o.ttlMs ?? 60_000;
    if (!Number.isFinite(this.ttlMs) || this.ttlMs <= 0) throw new RangeError("ttlMs must be > 0");
    this.#now = o.now ?? Date.now;
    this.#random = o.random ?? ((n) => new Uint8Array(randomBytes(n)));
  }

  /** A fresh nonce for `did`, recorded. Call inside a transaction; publish it after the commit. */
  issue(did: string): Uint8Array {
    const now = this.#now();
    this.#purgeOccasionally(now);
    const nonce = this.#random(CHALLENGE_NONCE_BYTES);
    this.#store.challenges.add(did, nonce, now, this.worker);
    return nonce;
  }

  /** When `nonce` was issued to `did`, if it is outstanding (E_NONCE_UNKNOWN otherwise). */
  outstanding(did: string, nonce: Uint8Array): number | undefined {
    return this.#store.challenges.issuedAt(did, nonce);
  }

  /**
   * A NonceStore holding just `nonce`, for the verifier (attestation/verifier.ts step 5 compares
   * the token's eat_nonce with it). Age and single use are judged by `take`, not by this store.
   */
  verifierFor(nonce: Uint8Array): NonceStore {
    const one = new NonceStore({ ttlMs: this.ttlMs, now: () => 0 });
    one.register(nonce);
    return one;
  }

  /**
   * Uses the challenge and forgets the device's others (its attested state is now known). Inside
   * the transaction recording the attestation; throws E_NONCE_UNKNOWN when it is gone (another
   * transaction took it first) and E_NONCE_EXPIRED when it is older than the TTL. Returns the
   * name of the worker that sent it.
   */
  take(did: string, nonce: Uint8Array): string {
    const c = this.#store.challenges.take(did, nonce);
    if (c === undefined) throw new AttestationError("E_NONCE_UNKNOWN", "no challenge to this device has that nonce (another attestation used it)");
    if (this.#now() - c.issuedAt > this.ttlMs) throw new AttestationError("E_NONCE_EXPIRED", "this nonce is older than the TTL");
    this.#store.challenges.settle(did);
    return c.issuedBy;
  }

  /**
   * A hello's challenge (PROTOCOL.md §6.4): the one sent to `did` less than half a TTL ago and
   * still unanswered, sent again - so a flood of hellos mints no new nonces and the challenge
   * table does not grow - or else a fresh one (`issue`, inside a transaction).
   */
  forHello(did: string): Uint8Array {
    return this.#store.challenges.newestSince(did, this.#now() - this.ttlMs / 2) ?? this.issue(did);
  }

  /** True when `did` has a challenge younger than the TTL (no need to send another). */
  hasFresh(did: string): boolean {
    return this.#store.challenges.hasSince(did, this.#now() - this.ttlMs);
  }

  /** Inside `issue`'s transaction, at most once per PURGE_EVERY_MS in this worker. */
  #purgeOccasionally(now: number): void {
    if (now - this.#lastPurge < PURGE_EVERY_MS) return;
    this.#lastPurge = now;
    this.#store.challenges.purge(now - 2 * this.ttlMs);
    this.#store.pendingHellos.purge(now - 2 * this.ttlMs);
  }
}
