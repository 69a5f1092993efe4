/**
 * The fleet's drift check: every instance (or the ones named) compared with
 * the release it runs, at most DRIFT_PARALLELISM at once. Each instance's
 * result is recorded by its activity; an instance whose check fails or times
 * out is recorded `unknown` and the others go on. Writes nothing to tenants.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { DATABASE_WRITE, DRIFT_INSPECT, DRIFT_PARALLELISM } from './policies.js';
import type { DriftCheckInput, DriftCheckResult } from './surface.js';

const db = proxyActivities<Activities>(DATABASE_WRITE);
const { checkDrift } = proxyActivities<Activities>(DRIFT_INSPECT);

export async function driftCheck(input: DriftCheckInput = {}): Promise<DriftCheckResult> {
  const ids = input.instanceIds ?? (await db.driftTargets());
  const result: DriftCheckResult = { checked: ids.length, inSync: 0, drifted: 0, unknown: 0 };
  let next = 0;
  async function lane() {
    while (next < ids.length) {
      const id = ids[next++]!;
      let status;
      try {
        status = await checkDrift(id);
      } catch (err) {
        status = 'unknown' as const;
        const cause = (err as { cause?: { message?: string } }).cause?.message;
        await db.recordDriftUnknown(id, `the check did not finish: ${cause ?? (err as Error).message}`);
      }
      if (status === 'in-sync') result.inSync++;
      else if (status === 'drifted') result.drifted++;
      else result.unknown++;
    }
  }
  await Promise.all(Array.from({ length: Math.min(DRIFT_PARALLELISM, ids.length) }, lane));
  return result;
}
