// Exponential backoff with full jitter for reconnecting (MQTT.js reconnects at a fixed period;
// a fleet that lost its broker must not come back in lock step).
// "Full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015):
//   delay(n) = random_between(0, min(cap, base * factor^n)),  n = failures since the last success.
// Random source and timer are injected, so tests run on fake time.
import type { Clock, TimerHandle } from "./clock.js";
import { systemClock } from "./clock.js";

export interface BackoffOptions {
  /** Ceiling of the first delay, ms (default 500). */
  readonly baseMs?: number;
  /** Largest ceiling, ms (default 30 000). */
  readonly capMs?: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
  /** Uniform random in [0, 1) (default Math.random). */
  readonly random?: () => number;
  /** Timer source (default the system clock). */
  readonly clock?: Clock;
}

export class Backoff {
  readonly baseMs: number;
  readonly capMs: number;
  readonly factor: number;
  readonly #random: () => number;
  readonly #clock: Clock;
  #attempt = 0;
  #timer: TimerHandle | undefined;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = positive(options.baseMs ?? 500, "baseMs");
    this.capMs = positive(options.capMs ?? 30_000, "capMs");
    this.factor = positive(options.factor ?? 2, "factor");
    if (this.factor < 1) throw new RangeError(`factor must be >= 1, got ${this.factor}`);
    if (this.capMs < this.baseMs) throw new RangeError(`capMs (${this.capMs}) must be >= baseMs (${this.baseMs})`);
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? systemClock;
  }

  /** Failures since the last `reset`. */
  get attempt(): number {
    return this.#attempt;
  }

  /** True while a `schedule`d call is waiting. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** The upper bound of the next delay, whole ms: floor(min(cap, base * factor^attempt)). */
  ceiling(): number {
    // Once the product passes the cap it stays there; an overflow to Infinity is capped too.
    return Math.floor(Math.min(this.capMs, this.baseMs * this.factor ** this.#attempt));
  }

  /** The next delay in ms (an integer in [0, ceiling]), counting one more failure. */
  next(): number {
    let r = Number(this.#random());
    if (!(r >= 0)) r = 0; // NaN or negative from a broken source: no wait rather than a hang
    if (r >= 1) r = 1 - Number.EPSILON;
    const ceiling = this.ceiling();
    this.#attempt++;
    // Uniform over the integers 0..ceiling (floating-point rounding can never push it past).
    return Math.min(ceiling, Math.floor(r * (ceiling + 1)));
  }

  /** Runs `fn` after the next delay (replacing a call already waiting). Returns the delay. */
  schedule(fn: () => void): number {
    this.cancel();
    const delay = this.next();
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      fn();
    }, delay);
    return delay;
  }

  /** Cancels a waiting call, if any. */
  cancel(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** After a success: the next failure starts from `baseMs` again. */
  reset(): void {
    this.#attempt = 0;
  }
}

function positive(v: number, name: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number, got ${String(v)}`);
  return v;
}
