/**
 * Step bookkeeping shared by every upgrade workflow: the same progress shape
 * in the upgrade row, in the `progress` query and in the Temporal console.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  proxyLocalActivities,
  setHandler,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { StepProgress, UpgradeResult, UpgradeStatus } from '../core/types.js';
import { BOOKKEEPING } from './policies.js';

export interface ProgressView {
  status: UpgradeStatus;
  currentStep: string | null;
  steps: StepProgress[];
  error: string | null;
}

export const progressQuery = defineQuery<ProgressView>('progress');

const { recordUpgradeProgress } = proxyLocalActivities<Activities>(BOOKKEEPING);

export class StepTracker {
  private view: ProgressView = { status: 'running', currentStep: null, steps: [], error: null };

  constructor(private readonly upgradeId: string) {
    setHandler(progressQuery, () => this.view);
  }

  /** Runs one step, recording its start, end and error. */
  async step<T>(name: string, run: () => Promise<T>): Promise<T> {
    const entry: StepProgress = { name, status: 'running', startedAt: new Date().toISOString() };
    this.view = { ...this.view, currentStep: name, steps: [...this.view.steps, entry] };
    await this.save();
    try {
      const result = await run();
      this.endStep(entry, 'succeeded');
      return result;
    } catch (err) {
      this.endStep(entry, 'failed', describeFailure(err));
      throw err;
    }
  }

  /**
   * Runs the upgrade's steps and records how it ended. A failure ends the
   * workflow as failed too, so the console shows it, with the step and error.
   */
  async run(steps: () => Promise<void>): Promise<UpgradeResult> {
    try {
      await steps();
      const done = await this.finish('succeeded');
      return { status: 'succeeded', steps: done.steps };
    } catch (err) {
      if (isCancellation(err)) {
        await CancellationScope.nonCancellable(() => this.finish('cancelled', 'cancelled by an operator'));
        throw err;
      }
      const failed = this.failedStep;
      const message = failed?.error ?? describeFailure(err);
      await this.finish('failed', message);
      throw ApplicationFailure.nonRetryable(`${failed?.name ?? 'upgrade'} failed: ${message}`, 'UpgradeFailed');
    }
  }

  async finish(status: 'succeeded' | 'failed' | 'cancelled', error?: string): Promise<ProgressView> {
    this.view = { ...this.view, status, error: error ?? null };
    await this.save(true);
    return this.view;
  }

  get failedStep(): StepProgress | undefined {
    return this.view.steps.find((s) => s.status === 'failed');
  }

  private endStep(entry: StepProgress, status: 'succeeded' | 'failed', error?: string) {
    const done: StepProgress = { ...entry, status, finishedAt: new Date().toISOString(), ...(error ? { error } : {}) };
    this.view = { ...this.view, steps: this.view.steps.map((s) => (s === entry ? done : s)) };
  }

  private save(finished = false) {
    return recordUpgradeProgress(this.upgradeId, { ...this.view, finished });
  }
}

/** The message an operator needs: the activity's own error, not Temporal's wrapper. */
export function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    if (cause instanceof TimeoutFailure) return `timed out (${cause.timeoutType}) in ${err.activityType}`;
    if (cause instanceof ApplicationFailure || cause instanceof Error) return cause.message;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
