// The per-member budget of `get` answers (docs/LEDGER.md §6.1): a token bucket per requester, in
// published messages. Answering a get costs one message (the head) plus one per entry; a request
// beyond the budget is answered with the entries the budget still allows, or not at all. Time is
// injected (the registry's clock).

export interface GetLimit {
  /** Messages (entries + one head per answer) a member may cause per `perMs`. Default 2048. */
  readonly messages: number;
  /** The refill period in ms. Default 60,000. */
  readonly perMs: number;
}

export const DEFAULT_GET_LIMIT: GetLimit = { messages: 2048, perMs: 60_000 };

export class GetLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(readonly limit: GetLimit = DEFAULT_GET_LIMIT) {
    if (!(limit.messages >= 1) || !(limit.perMs >= 1)) throw new RangeError("a get limit needs messages >= 1 and perMs >= 1");
  }

  /** How many of `entries` requested by `who` may be answered now (-1: none, not even the head). */
  take(who: string, entries: number, now: number): number {
    const { messages, perMs } = this.limit;
    const b = this.#buckets.get(who) ?? { tokens: messages, at: now };
    b.tokens = Math.min(messages, b.tokens + (Math.max(0, now - b.at) * messages) / perMs);
    b.at = now;
    this.#buckets.set(who, b);
    if (b.tokens < 1) return -1;
    const granted = Math.min(entries, Math.floor(b.tokens) - 1);
    b.tokens -= granted + 1;
    return granted;
  }
}
