/**
 * A fleet rollout's pure rules: counting instances by status, the failure
 * budget, the rollout's view (its query answer), the wave preview the API
 * shows before a start, and the bounded log. The workflow
 * (workflows/fleet-rollout.ts) only orchestrates around these.
 */
import type { FailureBudget, FleetRolloutInput, RolloutInstance, RolloutInstanceStatus, RolloutStatus, RolloutView } from './types.js';

/** How many log lines a rollout keeps (the oldest go first). */
export const ROLLOUT_LOG_LINES = 200;

/** Instances with status `s`, in one wave or in all. */
export function countStatus(instances: readonly RolloutInstance[], s: RolloutInstanceStatus, wave?: number): number {
  return instances.filter((i) => i.status === s && (wave === undefined || i.wave === wave)).length;
}

/**
 * Over budget: more failures than the count allows, or a failed share of the
 * attempted (failed + updated) above the percentage.
 */
export function budgetExceeded(instances: readonly RolloutInstance[], budget: FailureBudget): boolean {
  const failed = countStatus(instances, 'failed');
  const attempted = failed + countStatus(instances, 'updated');
  const { count: maxCount, percent } = budget;
  if (maxCount !== undefined && failed > maxCount) return true;
  if (percent !== undefined && attempted > 0 && (failed / attempted) * 100 > percent) return true;
  return false;
}

/** What the rollout query answers: per-wave and overall counts, each instance, the log. */
export function rolloutView(
  input: Pick<FleetRolloutInput, 'rolloutId' | 'mode' | 'waveSizes'>,
  state: { status: RolloutStatus; currentWave: number; instances: readonly RolloutInstance[]; log: string[] },
): RolloutView {
  const { instances } = state;
  const count = (s: RolloutInstanceStatus, wave?: number) => countStatus(instances, s, wave);
  return {
    rolloutId: input.rolloutId,
    mode: input.mode,
    status: state.status,
    currentWave: state.currentWave,
    waves: input.waveSizes.map((size, index) => ({
      index,
      size,
      updated: count('updated', index),
      failed: count('failed', index),
      skipped: count('skipped', index),
      running: count('running', index),
      pending: count('pending', index),
    })),
    instances: instances.map((i) => ({
      instanceId: i.target.instanceId,
      slug: i.target.slug,
      wave: i.wave,
      status: i.status,
      ...(i.reason ? { reason: i.reason } : {}),
      ...(i.upgradeId ? { upgradeId: i.upgradeId } : {}),
    })),
    counts: { pending: count('pending'), running: count('running'), updated: count('updated'), failed: count('failed'), skipped: count('skipped') },
    log: state.log,
  };
}

/** Appends a line, dropping the oldest beyond `limit`. */
export function appendLog(log: string[], line: string, limit = ROLLOUT_LOG_LINES): void {
  log.push(line);
  if (log.length > limit) log.splice(0, log.length - limit);
}

/** Who sent an operator signal, as the log names them (bounded; signals recorded before carry nothing). */
export function signalSender(s?: { by?: unknown }): string {
  return typeof s?.by === 'string' && s.by ? s.by.slice(0, 320) : 'an operator';
}

/** Which slice of the (ordered) targets each wave takes: [start, end) per wave. */
export function waveSlices(sizes: readonly number[]): { wave: number; start: number; end: number }[] {
  let next = 0;
  return sizes.map((size, wave) => {
    const slice = { wave, start: next, end: next + size };
    next += size;
    return slice;
  });
}

/** The waves a rollout would run, as the preview and the start answer show them. */
export function wavesPreview(sizes: readonly number[], instances: readonly Pick<RolloutInstance, 'target' | 'wave'>[]) {
  return sizes.map((size, index) => ({
    index,
    size,
    instances: instances.filter((i) => i.wave === index).map((i) => ({ id: i.target.instanceId, slug: i.target.slug })),
  }));
}
