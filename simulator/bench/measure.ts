// Throughput measurement for the benchmark (not a test): warm up, then run the operation in
// batches for a fixed wall-clock time and report operations per second.

export interface MeasureOptions {
  /** Measured time per figure, in seconds. */
  seconds: number;
  /** Warm-up time before measuring (JIT, wasm tier-up, lazy tables), in seconds. */
  warmup: number;
}

export const DEFAULT_MEASURE: MeasureOptions = { seconds: 1, warmup: 0.25 };

/** A positive integer from the environment variable `name`, or `fallback` when unset. */
export function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`);
  return n;
}

function runFor(op: () => unknown, seconds: number): { ops: number; elapsed: number } {
  const end = performance.now() + seconds * 1000;
  let ops = 0;
  let batch = 1;
  const start = performance.now();
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) op();
    ops += batch;
    const t1 = performance.now();
    if (t1 >= end) return { ops, elapsed: (t1 - start) / 1000 };
    // aim for batches of ~10 ms so the clock is read rarely
    if (t1 - t0 < 10) batch *= 2;
  }
}

/** Operations per second of `op`, after a warm-up. */
export function opsPerSecond(op: () => unknown, opts: MeasureOptions = DEFAULT_MEASURE): number {
  runFor(op, opts.warmup);
  const { ops, elapsed } = runFor(op, opts.seconds);
  return ops / elapsed;
}

/**
 * Operations per second of several operations measured in interleaved rounds (a, b, c, a, b,
 * c, ...; each gets `seconds` in total), reporting each one's best round. Interleaving and
 * best-of keep a burst of load from another process from skewing one figure against another.
 */
export function compareOpsPerSecond(ops: Record<string, () => unknown>, opts: MeasureOptions = DEFAULT_MEASURE, rounds = 5): Record<string, number> {
  for (const op of Object.values(ops)) runFor(op, opts.warmup);
  const best: Record<string, number> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, op] of Object.entries(ops)) {
      const { ops: n, elapsed } = runFor(op, opts.seconds / rounds);
      best[name] = Math.max(best[name] ?? 0, n / elapsed);
    }
  }
  return best;
}
