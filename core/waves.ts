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
