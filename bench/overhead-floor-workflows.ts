/**
 * The raw-Temporal floor of the overhead benchmark (bench/overhead.ts): an
 * upgrade's shape with nothing inside it. Quick and Release Upgrades each run
 * six step activities, some of them two at a time (UpgradeRun.together), and
 * one step as a local activity (the tag's, a database write); they set the
 * status search attribute when they start and when they end, and record the
 * end with one local activity. So does this, with activities that do nothing.
 */
import { proxyActivities, proxyLocalActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { SEARCH } from '../workflows/surface.js';

export interface FloorActivities {
  noop(step: string): Promise<void>;
}

const activity = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '10 seconds' });

/** In order: how many step activities run together, or the step that is a local activity. */
export type FloorShape = readonly (1 | 2 | 'local')[];

export const FLOOR_SHAPES = {
  // preflight with snapshot-content, pull, recreate, verify with check-content, the tag
  quick: [2, 1, 1, 2, 'local'],
  // plan with snapshot, the tag, write, pull, up, verify
  release: [2, 'local', 1, 1, 1, 1],
} as const satisfies Record<string, FloorShape>;

export async function upgradeFloor(shape: FloorShape): Promise<string> {
  upsertSearchAttributes([{ key: SEARCH.status, value: 'running' }]);
  for (const [i, part] of shape.entries()) {
    const step = `step-${i + 1}`;
    if (part === 'local') await local.noop(step);
    else await Promise.all(Array.from({ length: part }, (_, j) => activity.noop(`${step}.${j + 1}`)));
  }
  upsertSearchAttributes([{ key: SEARCH.status, value: 'succeeded' }]);
  await local.noop('record the end');
  return 'succeeded';
}
