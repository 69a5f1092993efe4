/**
 * The raw-Temporal baseline of the fleet benchmark (bench/fleet.ts): the same
 * shape of work as a release rollout, with activities that do nothing.
 *
 * - `baselineUpgrade` mirrors `releaseUpgrade` as it was when issue 18
 *   defined the baseline: one activity to mark the upgrade running, then per
 *   step (plan, snapshot, persist-image-tag, write, pull, up, verify) a local
 *   activity (our progress save) and an activity, then a final local
 *   activity: 8 activities and 8 local activities. The issue counts fewer
 *   round trips per upgrade as drydock's gain, so the baseline keeps that
 *   shape (drydock now runs 6 activities and 2 local activities).
 * - `baselineFleet` mirrors `fleetRollout`: children started with startChild,
 *   at most maxParallel at once, over the same waves.
 *
 * Bundled on its own (bench/fleet.ts); no import beyond Temporal's packages.
 */
import { condition, ParentClosePolicy, proxyActivities, proxyLocalActivities, startChild } from '@temporalio/workflow';

export interface BaselineActivities {
  noop(step: string): Promise<void>;
}

const activity = proxyActivities<BaselineActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<BaselineActivities>({ startToCloseTimeout: '10 seconds' });

export const BASELINE_STEPS = ['plan', 'snapshot', 'persist-image-tag', 'write', 'pull', 'up', 'verify'] as const;

export async function baselineUpgrade(): Promise<string> {
  await activity.noop('mark-running');
  for (const step of BASELINE_STEPS) {
    await local.noop(`save ${step}`);
    await activity.noop(step);
  }
  await local.noop('save finished');
  return 'succeeded';
}

export interface BaselineFleetInput {
  /** Workflow IDs of the children, wave by wave. */
  waves: string[][];
  maxParallel: number;
}

export async function baselineFleet(input: BaselineFleetInput): Promise<{ succeeded: number; failed: number }> {
  let succeeded = 0;
  let failed = 0;
  for (const wave of input.waves) {
    const queue = [...wave];
    let inFlight = 0;
    while (queue.length > 0 || inFlight > 0) {
      while (inFlight < input.maxParallel && queue.length > 0) {
        const workflowId = queue.shift()!;
        inFlight++;
        void (async () => {
          try {
            const child = await startChild(baselineUpgrade, { workflowId, parentClosePolicy: ParentClosePolicy.ABANDON });
            await child.result();
            succeeded++;
          } catch {
            failed++;
          } finally {
            inFlight--;
          }
        })();
      }
      const seen = succeeded + failed;
      await condition(() => succeeded + failed !== seen);
    }
  }
  return { succeeded, failed };
}
