// Time, injected (STYLE.md 9): the agent, its backoff and its heartbeat never call the global
// timers directly, so tests drive them with a ManualClock and fleets can share one clock.

/** An opaque timer handle. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the epoch (or any fixed origin, for a manual clock). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock. Timers are unref'd: a pending reconnect or heartbeat never holds the process open. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface Pending {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/**
 * A clock that moves only when told to (`advance`), for tests with fake time. Timers fire in
 * due order, ties in creation order; a timer scheduled by a firing timer fires in the same
 * `advance` if it falls due within it.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #pending: Pending[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.#seq;
    this.#pending.push({ id, at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#pending = this.#pending.filter((p) => p.id !== handle);
  }

  /** Number of timers not yet fired. */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Milliseconds until the next timer is due, or undefined when none is pending. */
  nextDelay(): number | undefined {
    const next = this.#earliest();
    return next && next.at - this.#now;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const next = this.#earliest();
      if (!next || next.at > end) break;
      this.#pending = this.#pending.filter((p) => p !== next);
      this.#now = next.at;
      next.fn();
    }
    this.#now = end;
  }

  #earliest(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.#pending) if (!best || p.at < best.at || (p.at === best.at && p.id < best.id)) best = p;
    return best;
  }
}
