/**
 * Rollout planning, pure: wave sizes from counts and percentages, and bake
 * durations from the strings operators type.
 */
export type WaveSpec = number | `${number}%`;

/**
 * A count is the size of that wave; a percentage is the share of the fleet
 * done by the end of that wave ([1, "10%", "50%", "100%"]: one canary, then up
 * to 10 %, half, all). Whatever the specs leave over joins the last wave.
 */
export function resolveWaves(total: number, specs: readonly WaveSpec[]): number[] {
  if (specs.length === 0) throw new Error('waves: give at least one wave');
  const sizes: number[] = [];
  let done = 0;
  for (const spec of specs) {
    if (done >= total) break;
    let size: number;
    if (typeof spec === 'number') {
      if (!Number.isInteger(spec) || spec < 1) throw new Error(`waves: ${spec} is not a positive whole number`);
      size = spec;
    } else {
      const pct = Number(spec.slice(0, -1));
      if (!(pct > 0 && pct <= 100)) throw new Error(`waves: ${spec} is not a percentage between 0 and 100`);
      size = Math.max(1, Math.ceil((total * pct) / 100) - done);
    }
    size = Math.min(size, total - done);
    sizes.push(size);
    done += size;
  }
  if (done < total) sizes[sizes.length - 1]! += total - done;
  return sizes;
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Bounds of a rollout's durations: a bake of 0 means none; otherwise at least a second, at most a week. */
export const BAKE_BOUNDS = { minMs: 1_000, maxMs: 7 * 86_400_000, min: '1s', max: '7 days' } as const;
/** How long an instance's upgrade may take in a rollout: at least a second, at most a day. */
export const PER_INSTANCE_TIMEOUT_BOUNDS = { minMs: 1_000, maxMs: 86_400_000, min: '1s', max: '24h' } as const;

/**
 * Why a duration is outside its bounds, or undefined when it is fine. `zeroMeans`
 * names what 0 means where 0 is allowed (bake: none).
 */
export function durationProblem(value: string | number, b: { minMs: number; maxMs: number; min: string; max: string }, zeroMeans?: string): string | undefined {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (err) {
    return (err as Error).message;
  }
  if (ms === 0 && zeroMeans && value === 0) return undefined;
  if (ms < b.minMs) return `must be at least ${b.min}${zeroMeans ? ` (or the number 0 for ${zeroMeans})` : ''}, not ${JSON.stringify(value)}`;
  if (ms > b.maxMs) return `must be at most ${b.max}, not ${JSON.stringify(value)}`;
  return undefined;
}

/** "90s", "5m", "1h", "250ms" or a number of milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`duration ${value} must be a non-negative number of milliseconds`);
    return value;
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  if (!m) throw new Error(`duration "${value}" must look like 250ms, 90s, 5m or 1h`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}
