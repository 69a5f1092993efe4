/**
 * Times every activity attempt the worker runs, for the step-duration
 * histogram (platform/metrics.ts): the step is the activity type, the mode
 * the upgrade path of the workflow that ran it.
 */
import { CancelledFailure, type Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { Metrics, StepMode } from '../platform/metrics.js';
import { WORKFLOW_TYPE } from '../workflows/surface.js';

const MODE_OF_WORKFLOW = new Map<string, StepMode>(Object.entries(WORKFLOW_TYPE).map(([mode, type]) => [type, mode as StepMode]));

export function stepMetrics(metrics: Metrics): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const { activityType, workflowType } = ctx.info;
        const mode = MODE_OF_WORKFLOW.get(workflowType ?? '') ?? 'other';
        const t0 = process.hrtime.bigint();
        const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;
        try {
          const result = await next(input);
          metrics.observeStep(activityType, mode, 'succeeded', seconds());
          return result;
        } catch (err) {
          const cancelled = err instanceof CancelledFailure || ctx.cancellationSignal.aborted;
          metrics.observeStep(activityType, mode, cancelled ? 'cancelled' : 'failed', seconds());
          throw err;
        }
      },
    },
  });
}
