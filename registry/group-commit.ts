// Group commit: units of work queued in the same turn of the event loop run in ONE
// transaction, each inside its own savepoint, and are answered after that transaction commits.
// With synchronous=FULL every commit is an fsync (~0.5 ms here); batching lets a burst of
// messages share one, so a mass lock or a fleet enrolling is bounded by verification, not by
// the disk. A unit that throws rolls back only its own savepoint: a refused request changes
// nothing, and its neighbours still commit. Nothing is answered (no HTTP response, no publish)
// before the state it depends on is durable.
import type { Store } from "./store.js";

interface Unit {
  readonly work: () => unknown;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

export type Scheduler = (fn: () => void) => void;

export class GroupCommit {
  readonly #store: Store;
  readonly #schedule: Scheduler;
  #queue: Unit[] = [];
  #scheduled = false;

  constructor(store: Store, schedule: Scheduler = (fn) => void setImmediate(fn)) {
    this.#store = store;
    this.#schedule = schedule;
  }

  /** Runs `work` (synchronous, database only) in the next batch; settles once the batch commits. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        this.#schedule(() => this.flush());
      }
    });
  }

  /** Units waiting for the next batch. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Runs and commits everything queued so far, now. */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.#store.tx(() => {
        for (const u of batch) {
          try {
            outcomes.push({ ok: true, value: this.#store.tx(u.work) }); // a savepoint
          } catch (e) {
            outcomes.push({ ok: false, value: e });
          }
        }
      });
    } catch (e) {
      // The commit itself failed (disk full, database closed): nothing of the batch is durable.
      for (const u of batch) u.reject(e);
      return;
    }
    batch.forEach((u, i) => (outcomes[i]!.ok ? u.resolve(outcomes[i]!.value) : u.reject(outcomes[i]!.value)));
  }
}
