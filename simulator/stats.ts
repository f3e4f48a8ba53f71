// Summaries of measured values for reports: count, min, percentiles (nearest rank), max, mean.

export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** The p-th percentile (0 < p <= 100) of ascending `sorted` values, nearest-rank method. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError("percentile of no values");
  if (!(p > 0 && p <= 100)) throw new RangeError("p must be in (0, 100]");
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function summarize(values: readonly number[]): Summary | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: v.length,
    min: r(v[0]!),
    p50: r(percentile(v, 50)),
    p90: r(percentile(v, 90)),
    p99: r(percentile(v, 99)),
    max: r(v[v.length - 1]!),
    mean: r(v.reduce((a, b) => a + b, 0) / v.length),
  };
}

/** "p50 12.3 / p90 20.1 / p99 31.0 ms (n=40)" */
export function formatSummary(s: Summary, unit = "ms"): string {
  return `p50 ${s.p50} / p90 ${s.p90} / p99 ${s.p99} / max ${s.max} ${unit} (n=${s.n})`;
}
