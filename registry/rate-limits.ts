// Rate limits (docs/PROTOCOL.md §6.4): token buckets, one per key (a device id, a signer's kid),
// so that a flood from one source costs the registry a bounded amount of work - signature
// verifications, transactions, publications - and never starves the others. A bucket holds at
// most `burst` tokens and gains `perSecond` tokens a second; each message or request takes one,
// and one that finds the bucket empty is refused (E_RATE_LIMITED, or dropped and logged on MQTT).
// Buckets live in this worker's memory (a limit per worker); at most `maxKeys` are kept, the
// least recently used forgotten first (a forgotten key starts again with a full bucket).
// Time is injected.

export interface BucketLimit {
  /** Tokens a full bucket holds: the largest burst accepted at once. */
  readonly burst: number;
  /** Tokens added per second: the sustained rate. */
  readonly perSecond: number;
}

export interface RateLimitOptions {
  /** hello and heartbeat, per device id (well-formed messages only). */
  readonly device?: BucketLimit;
  /** Owner requests, per signing key. */
  readonly owner?: BucketLimit;
  /** Authority requests, per signing key (a flag-batch of 500 IMEIs is one request). */
  readonly authority?: BucketLimit;
}

/**
 * Defaults a genuine device, owner or authority never reaches: a device says hello once per
 * connection and heartbeats every 60 s; an owner sends a handful of requests a day; an
 * authority's mass block is a flag-batch, and even 1,000 single flags in a row fit its burst.
 */
export const DEFAULT_RATE_LIMITS: Required<RateLimitOptions> = {
  device: { burst: 20, perSecond: 0.2 },
  owner: { burst: 30, perSecond: 0.5 },
  authority: { burst: 2000, perSecond: 50 },
};

const MAX_KEYS = 100_000;

export class TokenBuckets {
  readonly limit: BucketLimit;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, { tokens: number; at: number; empty: boolean }>();

  constructor(limit: BucketLimit, now: () => number, maxKeys = MAX_KEYS) {
    if (!(limit.burst >= 1) || !(limit.perSecond >= 0)) throw new RangeError("a rate limit needs burst >= 1 and perSecond >= 0");
    this.limit = limit;
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /**
   * Takes one token from `key`'s bucket: "ok", or "refused" when it is empty - "refused-first"
   * for the first refusal since the bucket last had a token (the one worth logging).
   */
  take(key: string): "ok" | "refused" | "refused-first" {
    if (this.limit.burst === Infinity) return "ok";
    const now = this.#now();
    const b = this.#buckets.get(key);
    const wasEmpty = b?.empty ?? false;
    let tokens = this.limit.burst;
    if (b) {
      tokens = Math.min(this.limit.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.limit.perSecond);
      this.#buckets.delete(key); // re-inserted below: the Map's order is least recently used first
    } else if (this.#buckets.size >= this.#maxKeys) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    const ok = tokens >= 1;
    this.#buckets.set(key, { tokens: ok ? tokens - 1 : tokens, at: now, empty: !ok });
    return ok ? "ok" : wasEmpty ? "refused" : "refused-first";
  }
}

/** The registry's three limiters. */
export interface RateLimiters {
  readonly device: TokenBuckets;
  readonly owner: TokenBuckets;
  readonly authority: TokenBuckets;
}

export function rateLimiters(o: RateLimitOptions | undefined, now: () => number): RateLimiters {
  return {
    device: new TokenBuckets(o?.device ?? DEFAULT_RATE_LIMITS.device, now),
    owner: new TokenBuckets(o?.owner ?? DEFAULT_RATE_LIMITS.owner, now),
    authority: new TokenBuckets(o?.authority ?? DEFAULT_RATE_LIMITS.authority, now),
  };
}
