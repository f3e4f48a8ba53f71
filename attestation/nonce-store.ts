// Freshness for the verifier: nonces are issued by the relying party, used at most once, and
// only within a time-to-live. RFC 9711 §4.1 leaves freshness policy to the verifier;
// RFC 9334 §10 (freshness, nonce-based). Time and randomness are injected for tests.
import { randomBytes } from "node:crypto";
import { AttestationError } from "./errors.js";
import { toHex } from "./bytes.js";
import { NONCE_MAX, NONCE_MIN } from "./eat/profile.js";

export interface NonceStoreOptions {
  /** How long an issued nonce stays usable, in milliseconds. */
  readonly ttlMs: number;
  /** Clock in milliseconds (default Date.now). */
  readonly now?: () => number;
  /** Random source (default node:crypto randomBytes). */
  readonly random?: (n: number) => Uint8Array;
  /** Bound on remembered nonces; the oldest is forgotten first (default 100000). */
  readonly maxEntries?: number;
}

interface Entry {
  readonly issuedAt: number;
  used: boolean;
}

export function checkNonceSize(nonce: unknown): Uint8Array {
  if (!(nonce instanceof Uint8Array) || nonce.length < NONCE_MIN || nonce.length > NONCE_MAX) {
    throw new AttestationError("E_NONCE_SIZE", `a nonce is a byte string of ${NONCE_MIN}..${NONCE_MAX} bytes`);
  }
  return nonce;
}

export class NonceStore {
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #random: (n: number) => Uint8Array;
  readonly #max: number;
  // Insertion order = issue order, so the oldest entries come first.
  readonly #entries = new Map<string, Entry>();

  constructor(options: NonceStoreOptions) {
    if (!Number.isFinite(options?.ttlMs) || options.ttlMs <= 0) throw new AttestationError("E_ARGUMENT", "ttlMs must be > 0");
    this.#ttl = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.#max = options.maxEntries ?? 100_000;
    if (!Number.isSafeInteger(this.#max) || this.#max < 1) throw new AttestationError("E_ARGUMENT", "maxEntries must be >= 1");
  }

  /** Number of remembered nonces (issued, used, or expired but not yet forgotten). */
  get size(): number {
    return this.#entries.size;
  }

  /** Issues a fresh random nonce of `length` bytes (default 32). */
  issue(length = 32): Uint8Array {
    const nonce = this.#random(length);
    this.register(nonce);
    return nonce;
  }

  /** Registers a nonce issued elsewhere (e.g. given on a command line); it must be new. */
  register(nonce: Uint8Array): void {
    checkNonceSize(nonce);
    const now = this.#now();
    this.#forget(now);
    const id = toHex(nonce);
    if (this.#entries.has(id)) throw new AttestationError("E_NONCE_REPLAYED", "this nonce was issued before");
    while (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(id, { issuedAt: now, used: false });
  }

  /**
   * Uses a nonce: it must have been issued here, not used before, and not be older than the TTL.
   * Throws E_NONCE_SIZE, E_NONCE_UNKNOWN, E_NONCE_REPLAYED or E_NONCE_EXPIRED.
   */
  consume(nonce: Uint8Array): void {
    checkNonceSize(nonce);
    const e = this.#entries.get(toHex(nonce));
    if (e === undefined) throw new AttestationError("E_NONCE_UNKNOWN", "this nonce was not issued by this verifier");
    if (e.used) throw new AttestationError("E_NONCE_REPLAYED", "this nonce was already used");
    if (this.#now() - e.issuedAt > this.#ttl) throw new AttestationError("E_NONCE_EXPIRED", "this nonce is older than the TTL");
    e.used = true;
  }

  /** Forgets entries older than twice the TTL (until then, late uses report EXPIRED or REPLAYED). */
  #forget(now: number): void {
    for (const [id, e] of this.#entries) {
      if (now - e.issuedAt <= 2 * this.#ttl) break;
      this.#entries.delete(id);
    }
  }
}
