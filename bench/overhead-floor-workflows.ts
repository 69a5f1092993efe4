/**
 * The raw-Temporal floor of the overhead benchmark (bench/overhead.ts): an
 * upgrade's shape with nothing inside it. Quick and Release Upgrades both run
 * six step activities and one step as a local activity (the tag's, a
 * database write), set the status search attribute when they start and when
 * they end, and record the end with one local activity; so does this, with
 * activities that do nothing.
 */
import { proxyActivities, proxyLocalActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { SEARCH } from '../workflows/surface.js';

export interface FloorActivities {
  noop(step: string): Promise<void>;
}

const activity = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '10 seconds' });

export const FLOOR_STEPS = ['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6'] as const;

export async function upgradeFloor(): Promise<string> {
  upsertSearchAttributes([{ key: SEARCH.status, value: 'running' }]);
  for (const step of FLOOR_STEPS) await activity.noop(step);
  await local.noop('step-7');
  upsertSearchAttributes([{ key: SEARCH.status, value: 'succeeded' }]);
  await local.noop('record the end');
  return 'succeeded';
}
