/**
 * The Temporal Schedule that runs the fleet's drift check: one per control
 * plane (per task queue), created at start, or brought to the configured
 * interval when it exists. Whatever an operator did to it in the web console
 * (pause, a note) is kept: only the interval and the task queue are set here.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import { DEFAULT_DRIFT_INTERVAL } from '../workflows/policies.js';
import { DRIFT_CHECK_WORKFLOW_TYPE, driftCheckWorkflowId, driftScheduleId, TASK_QUEUE, type DriftCheckInput } from '../workflows/surface.js';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MIN_INTERVAL_MS = 60_000;

/**
 * DRYDOCK_DRIFT_INTERVAL: `<n>s|m|h|d` (at least a minute), or `off` for no
 * schedule; unset: DEFAULT_DRIFT_INTERVAL. Returns milliseconds or null (off).
 */
export function driftIntervalFromEnv(value = process.env.DRYDOCK_DRIFT_INTERVAL): number | null {
  const v = (value ?? '').trim() || DEFAULT_DRIFT_INTERVAL;
  if (v === 'off') return null;
  const m = /^(\d+)([smhd])$/.exec(v);
  if (!m) throw new Error(`DRYDOCK_DRIFT_INTERVAL=${JSON.stringify(v)} is not an interval: write e.g. 15m, 1h or 1d (or off for no drift schedule)`);
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms < MIN_INTERVAL_MS) throw new Error(`DRYDOCK_DRIFT_INTERVAL=${v} is shorter than a minute`);
  return ms;
}

export async function ensureDriftSchedule(
  client: Client,
  opts: { intervalMs: number; taskQueue?: string; log?: (m: string) => void },
): Promise<string> {
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  const scheduleId = driftScheduleId(taskQueue);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: DRIFT_CHECK_WORKFLOW_TYPE,
    args: [{} satisfies DriftCheckInput],
    taskQueue,
    workflowId: driftCheckWorkflowId(taskQueue),
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: opts.intervalMs }] },
      action,
      // A check still running when the next is due: skip the next one.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      state: { note: 'drydock drift check: compares every instance with the release it runs; pause it here to stop the checks' },
    });
    opts.log?.(`drift check: schedule ${scheduleId} every ${opts.intervalMs / 1000}s`);
    return scheduleId;
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(scheduleId);
  const current = await handle.describe();
  if (!needsUpdate(current, opts.intervalMs, taskQueue)) {
    opts.log?.(`drift check: schedule ${scheduleId}${current.state.paused ? ' (paused in the console)' : ''}`);
    return scheduleId;
  }
  await handle.update((prev) => ({ ...prev, spec: { intervals: [{ every: opts.intervalMs }] }, action: { ...prev.action, ...action } }));
  opts.log?.(`drift check: schedule ${scheduleId} now every ${opts.intervalMs / 1000}s`);
  return scheduleId;
}

function needsUpdate(d: ScheduleDescription, intervalMs: number, taskQueue: string): boolean {
  const every = d.spec.intervals?.[0]?.every;
  const everyMs = typeof every === 'number' ? every : undefined;
  const queue = d.action.type === 'startWorkflow' ? d.action.taskQueue : undefined;
  return everyMs !== intervalMs || d.spec.intervals?.length !== 1 || queue !== taskQueue;
}
