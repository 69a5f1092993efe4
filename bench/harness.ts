/**
 * What every benchmark in bench/ shares: timing with warm-up and repetitions,
 * memory deltas, and the result shape bench/run.ts writes to bench/results/.
 *
 * Timings are wall-clock (performance.now) and belong here, not in unit
 * tests: unit tests check that what is timed is correct, benchmarks say how
 * fast it is.
 */
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';

/** One measured operation. */
export interface Measurement {
  label: string;
  reps: number;
  warmup: number;
  /** Wall time per repetition, in milliseconds. */
  medianMs: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
  /**
   * The largest growth of heapUsed over one repetition, in bytes: a full GC
   * runs before each repetition (outside the timing), none is forced after,
   * so this is what one run leaves on the heap, garbage included.
   */
  heapDeltaBytes: number;
  /** The same for the process's RSS. */
  rssDeltaBytes: number;
}

export interface Ratio {
  label: string;
  /** numerator / denominator, both medians. */
  value: number;
}

export interface BenchResult {
  name: string;
  title: string;
  /** What was measured and on what input, for the reader of the results. */
  params: Record<string, unknown>;
  measurements: Measurement[];
  ratios: Ratio[];
  /** Extra machine-readable figures (e.g. per-file breakdowns). */
  details?: Record<string, unknown>;
  notes: string[];
}

export interface Benchmark {
  name: string;
  run: () => Promise<BenchResult>;
}

let gcFn: (() => void) | undefined | null = null;

/** A full GC when it can be had without a command-line flag; a no-op otherwise. */
export function collectGarbage(): void {
  if (gcFn === null) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    } catch {
      gcFn = undefined;
    }
  }
  gcFn?.();
}

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) throw new Error('percentile of nothing');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(sorted: number[]): number {
  if (sorted.length === 0) throw new Error('median of nothing');
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface MeasureOptions {
  warmup: number;
  reps: number;
}

/**
 * Runs `fn` `warmup` times unmeasured, then `reps` times measured, one after
 * the other, with a full GC (when available) before each measured one.
 * `onRep` gets the repetition's return value (e.g. per-item times).
 */
export async function measure<T>(
  label: string,
  opts: MeasureOptions,
  fn: () => T | Promise<T>,
  onRep?: (value: T) => void,
): Promise<Measurement> {
  for (let i = 0; i < opts.warmup; i++) await fn();
  const times: number[] = [];
  let heapDelta = 0;
  let rssDelta = 0;
  for (let i = 0; i < opts.reps; i++) {
    collectGarbage();
    const before = process.memoryUsage();
    const t0 = performance.now();
    const value = await fn();
    times.push(performance.now() - t0);
    const after = process.memoryUsage();
    heapDelta = Math.max(heapDelta, after.heapUsed - before.heapUsed);
    rssDelta = Math.max(rssDelta, after.rss - before.rss);
    onRep?.(value);
  }
  times.sort((a, b) => a - b);
  return {
    label,
    reps: opts.reps,
    warmup: opts.warmup,
    medianMs: median(times),
    p95Ms: percentile(times, 95),
    minMs: times[0]!,
    maxMs: times[times.length - 1]!,
    heapDeltaBytes: heapDelta,
    rssDeltaBytes: rssDelta,
  };
}

/** Repetition counts, overridable with BENCH_WARMUP / BENCH_REPS. */
export function repsFromEnv(defaults: MeasureOptions): MeasureOptions {
  const read = (name: string, fallback: number, min: number) => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  return { warmup: read('BENCH_WARMUP', defaults.warmup, 0), reps: read('BENCH_REPS', defaults.reps, 1) };
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const mib = (b: number) => `${b < 0 ? '-' : ''}${(Math.abs(b) / 1024 / 1024).toFixed(1)}`;

/** The result as a markdown table (also readable as plain text on a terminal). */
export function formatMarkdown(r: BenchResult): string {
  const lines = [
    `| measurement | median ms | p95 ms | min ms | reps | heap Δ MiB | RSS Δ MiB |`,
    `|---|---:|---:|---:|---:|---:|---:|`,
    ...r.measurements.map(
      (m) =>
        `| ${m.label} | ${ms(m.medianMs)} | ${ms(m.p95Ms)} | ${ms(m.minMs)} | ${m.reps} | ${mib(m.heapDeltaBytes)} | ${mib(m.rssDeltaBytes)} |`,
    ),
  ];
  if (r.ratios.length > 0) {
    lines.push('', '| ratio (medians) | value |', '|---|---:|', ...r.ratios.map((x) => `| ${x.label} | ${x.value.toFixed(2)}× |`));
  }
  return lines.join('\n');
}
