// Group commit: units of work queued in the same turn of the event loop run in ONE
// transaction, each inside its own savepoint, and are answered after that transaction commits.
// With synchronous=FULL every commit is an fsync (~0.5 ms here); batching lets a burst of
// messages share one, so a mass lock or a fleet enrolling is bounded by verification, not by
// the disk. A unit that throws rolls back only its own savepoint: a refused request changes
// nothing, and its neighbours still commit. Nothing is answered (no HTTP response, no publish)
// before the state it depends on is durable.
// Batches start on the next turn of the event loop, but no sooner than `minIntervalMs` after
// the previous commit: under load, messages gather for a few milliseconds and share one fsync;
// when idle, a unit commits at once. Informational writes nobody waits for (last seen, receipt,
// "sent") go through `later`: they ride along with the next batch, or commit within
// `lazyDelayMs` on their own, so they never cost a commit of their own under load.
// The batch's transaction begins IMMEDIATE (Store.tx): with several registry workers on one
// database, batches of different workers take the write lock in turn (waiting up to
// busy_timeout), and each unit reads what the batches before it committed.
import type { Store } from "./store.js";

interface Unit {
  readonly work: () => unknown;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

/** Runs `fn` after `delayMs` (0: on the next turn of the event loop). */
export type Scheduler = (fn: () => void, delayMs: number) => void;

const defaultScheduler: Scheduler = (fn, delayMs) => void (delayMs > 0 ? setTimeout(fn, delayMs) : setImmediate(fn));

export interface GroupCommitOptions {
  readonly schedule?: Scheduler;
  /** Least time between two commits (default 8 ms). */
  readonly minIntervalMs?: number;
  /** Longest wait of a `later` unit (default 50 ms). */
  readonly lazyDelayMs?: number;
  readonly now?: () => number;
}

export class GroupCommit {
  readonly #store: Store;
  readonly #schedule: Scheduler;
  readonly #minInterval: number;
  readonly #lazyDelay: number;
  readonly #now: () => number;
  #queue: Unit[] = [];
  /** When the earliest scheduled flush runs (Infinity: none scheduled). */
  #deadline = Infinity;
  #lastCommit = -Infinity;
  /** Batches committed and units run so far (for benchmarks). */
  batches = 0;
  units = 0;

  constructor(store: Store, o: GroupCommitOptions = {}) {
    this.#store = store;
    this.#schedule = o.schedule ?? defaultScheduler;
    this.#minInterval = o.minIntervalMs ?? 8;
    this.#lazyDelay = o.lazyDelayMs ?? 50;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Runs `work` (synchronous, database only) in the next batch; settles once the batch commits. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      this.#flushAt(Math.max(this.#now(), this.#lastCommit + this.#minInterval));
    });
  }

  /**
   * Queues `work` no answer depends on: it commits with the next batch, or within lazyDelayMs.
   * The promise settles after that commit and never rejects (a failure goes to `onError`).
   */
  later(work: () => unknown, onError: (e: unknown) => void = () => {}): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#queue.push({ work, resolve: () => resolve(), reject: (e) => (onError(e), resolve()) });
      this.#flushAt(this.#now() + this.#lazyDelay);
    });
  }

  #flushAt(at: number): void {
    if (at >= this.#deadline) return; // an earlier flush is already scheduled
    this.#deadline = at;
    this.#schedule(() => {
      if (this.#deadline === at) this.flush(); // else a sooner flush replaced this one
    }, Math.max(0, Math.ceil(at - this.#now())));
  }

  /** Units waiting for the next batch. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Runs and commits everything queued so far, now. */
  flush(): void {
    this.#deadline = Infinity;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    this.batches++;
    this.units += batch.length;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.#store.tx(() => {
        outcomes.length = 0; // PostgreSQL may run the transaction again after a serialization failure
        for (const u of batch) {
          try {
            outcomes.push({ ok: true, value: this.#store.tx(u.work) }); // a savepoint
          } catch (e) {
            outcomes.push({ ok: false, value: e });
          }
        }
      });
      this.#lastCommit = this.#now();
    } catch (e) {
      this.#lastCommit = this.#now();
      // The commit itself failed (disk full, database closed): nothing of the batch is durable.
      for (const u of batch) u.reject(e);
      return;
    }
    batch.forEach((u, i) => (outcomes[i]!.ok ? u.resolve(outcomes[i]!.value) : u.reject(outcomes[i]!.value)));
  }
}
