/**
 * What every upgrade workflow shares: step bookkeeping (the same progress
 * shape in the upgrade row, the `progress` query and the console), parking a
 * failed step for an operator, retry / rollback / abort through an update,
 * cancellation, and the UpgradeStatus search attribute.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyLocalActivities,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { OperatorAction, ProgressRide, StartedUpgrade, StepProgress, UpgradeResult, UpgradeStatus } from '../core/types.js';
import { carryingProgress, db, type StepActivities } from './activities.js';
import { BOOKKEEPING, DEFAULT_PARK_TIMEOUT_MS } from './policies.js';
import { childParkedSignal, operatorActionUpdate, progressQuery, SEARCH, type ProgressView } from './surface.js';

const { recordUpgradeProgress } = proxyLocalActivities<Activities>(BOOKKEEPING);

/**
 * Since this patch a step's "running" record rides on the step's activity
 * (see carryingProgress) instead of a local activity of its own before it:
 * one round through the worker fewer per step. Parking and the end are still
 * written by their own local activity, so the row's last word is durable.
 */
const PROGRESS_RIDES_PATCH = 'progress-rides-on-activity';

/**
 * Since this patch the upgrade's row is created by its first progress record
 * (ProgressRide.started) instead of a markUpgradeRunning activity before the
 * first step: one activity and one workflow task fewer per upgrade.
 */
const MARK_RUNNING_RIDES_PATCH = 'mark-running-rides';

/**
 * Since this patch one marker stands for the five patches of the upgrade
 * workflows before it (FIRST_FOLD): an upgrade recorded it alone, where each
 * of them recorded a marker and an update of the TemporalChangeVersion search
 * attribute (a visibility write) of its own. Histories without it decide each
 * of the five from its own marker, as before. It does not answer for a patch
 * added after it.
 */
const EARLIER_PATCHES_FOLDED = 'earlier-upgrade-patches-folded';
const FIRST_FOLD = [
  MARK_RUNNING_RIDES_PATCH,
  PROGRESS_RIDES_PATCH,
  'snapshot-files-sealed',
  'operator-on-parked-step',
  'full-upgrade-persists-release',
] as const;

/**
 * Since this patch the steps that only write drydock's database (the tag,
 * the release, the tag's rollback) run as local activities (workflows/activities.ts
 * localDb) instead of activities.
 */
const DATABASE_STEPS_LOCAL_PATCH = 'database-steps-local';

/**
 * Since this patch one marker stands for the fold above and every patch
 * after it, so an upgrade still records a single marker. Histories with only
 * the first fold decide the patches since it from their own markers; older
 * ones decide every patch so.
 */
const PATCHES_FOLDED_AGAIN = 'upgrade-patches-folded-2';

/**
 * Since this patch steps that only read (the checks and snapshots before an
 * upgrade changes anything) run at once where a workflow groups them
 * (UpgradeRun.together): each is still its own activity, with its own
 * retries, heartbeat and entry in the progress, but the upgrade waits for
 * the slowest of them instead of for their sum and one round through
 * Temporal per group instead of per step.
 */
const READ_STEPS_TOGETHER_PATCH = 'read-steps-together';

/**
 * Since this patch one marker stands for every patch before it, as
 * PATCHES_FOLDED_AGAIN did before it. Histories with the second fold decide
 * the patches since it from their own markers, and so on back.
 */
const PATCHES_FOLDED_THIRD = 'upgrade-patches-folded-3';
export type FoldedPatch = (typeof FIRST_FOLD)[number] | typeof DATABASE_STEPS_LOCAL_PATCH | typeof READ_STEPS_TOGETHER_PATCH;

/** A step of a group run by UpgradeRun.together: its name and how it runs. */
export type GroupStep<T> = readonly [name: string, run: () => Promise<T>];

/** Thrown out of a step when the operator chose to roll back or abort. */
class OperatorStop extends Error {
  constructor(readonly action: 'rollback' | 'abort', readonly reason: string) {
    super(reason);
  }
}

export interface StepOptions {
  /** When retries are used up: wait for an operator (default), or roll back at once. */
  onExhausted?: 'park' | 'rollback';
}

export class UpgradeRun {
  private view: ProgressView = { status: 'running', currentStep: null, steps: [], error: null, actions: [] };
  private decision: OperatorAction | undefined;
  private decidedBy: string | undefined;
  private rollbackSteps: (() => Promise<void>) | undefined;
  private rollingBack = false;
  private rides: boolean | undefined;
  private folded: boolean | undefined;
  private foldedAgain: boolean | undefined;
  private foldedThird: boolean | undefined;
  private ride: ProgressRide | undefined;
  /**
   * The row to create, carried by every progress record until a step has
   * succeeded: only then is it sure that a worker wrote it (an activity whose
   * scope was cancelled before it was scheduled never ran).
   */
  private unstarted: StartedUpgrade | undefined;
  private startRode = false;
  /** While a group's steps call their activities (together): each carries the group's record. */
  private rideShared = false;
  /** The activity proxies workflows call steps with: the first call of a step carries its progress. */
  readonly activities: StepActivities = carryingProgress(() => {
    const r = this.ride && this.unstarted ? { ...this.ride, started: this.unstarted } : this.ride;
    if (r?.started) this.startRode = true;
    if (!this.rideShared) this.ride = undefined;
    return r;
  });

  constructor(
    private readonly upgradeId: string,
    private readonly parkTimeoutMs = DEFAULT_PARK_TIMEOUT_MS,
  ) {
    setHandler(progressQuery, () => this.view);
    setHandler(
      operatorActionUpdate,
      async (action, by?: string) => {
        this.decision = action;
        this.decidedBy = typeof by === 'string' ? by.slice(0, 320) : undefined;
        await condition(() => this.decision === undefined);
        return this.view;
      },
      { validator: (action, _by?: string) => this.validate(action) },
    );
  }

  /** The upgrade's row, running: created by the first step's activity, or (older histories) by an activity of its own now. */
  async begin(started: StartedUpgrade): Promise<void> {
    if (this.patched(MARK_RUNNING_RIDES_PATCH)) this.unstarted = started;
    else await db.markUpgradeRunning(started);
  }

  /** patched(id) for a patch a fold stands for; begin() asks first, so the folds are decided at the start. */
  patched(id: FoldedPatch): boolean {
    if ((this.foldedThird ??= patched(PATCHES_FOLDED_THIRD))) return true;
    if (id !== READ_STEPS_TOGETHER_PATCH && (this.foldedAgain ??= patched(PATCHES_FOLDED_AGAIN))) return true;
    const inFirstFold = (FIRST_FOLD as readonly string[]).includes(id);
    return (inFirstFold && (this.folded ??= patched(EARLIER_PATCHES_FOLDED))) || patched(id);
  }

  /** The proxies for a step that only writes drydock's database: local activities since DATABASE_STEPS_LOCAL_PATCH. */
  databaseStep(): StepActivities['db'] {
    return this.patched(DATABASE_STEPS_LOCAL_PATCH) ? this.activities.localDb : this.activities.db;
  }

  /** From here on a rollback can undo what the upgrade changed. */
  enableRollback(steps: () => Promise<void>) {
    this.rollbackSteps = steps;
  }

  /** Runs one step; when it fails for good, parks until the operator decides. */
  async step<T>(name: string, run: () => Promise<T>, opts: StepOptions = {}): Promise<T> {
    for (;;) {
      const [entry] = await this.beginSteps([name]);
      try {
        const result = await run();
        this.ride = undefined;
        if (this.startRode) this.unstarted = undefined;
        this.endStep(entry!, 'succeeded');
        return result;
      } catch (err) {
        this.ride = undefined;
        await this.stepFailed(entry!, err, opts);
      }
    }
  }

  /**
   * Runs steps that only read, and need nothing from each other, at once.
   * Each step's activity carries the same progress record, showing them all
   * running, so the row says so before any of them touches the tenant (each
   * must call its activity at once, not after an await). A step that fails
   * for good parks once the others have ended, and only it runs again on
   * retry. Histories from before READ_STEPS_TOGETHER_PATCH run the steps one
   * after the other, as they did.
   */
  async together<T extends readonly unknown[]>(steps: { readonly [K in keyof T]: GroupStep<T[K]> }): Promise<T> {
    const group = steps as readonly GroupStep<unknown>[];
    const results: unknown[] = [];
    if (!this.patched(READ_STEPS_TOGETHER_PATCH)) {
      for (const [name, run] of group) results.push(await this.step(name, run));
      return results as unknown as T;
    }
    const entries = await this.beginSteps(group.map(([name]) => name));
    this.rideShared = true;
    // Each entry ends when its own step does, so the progress shows each step's own time.
    const running = group.map(async ([, run], i) => {
      try {
        const result = await run();
        this.endStep(entries[i]!, 'succeeded');
        return result;
      } catch (err) {
        this.endStep(entries[i]!, 'failed', isCancellation(err) ? 'cancelled' : describeFailure(err));
        throw err;
      }
    });
    this.rideShared = false;
    this.ride = undefined;
    const settled = await Promise.allSettled(running);
    // A step that succeeded wrote the record it carried, and the row with it.
    if (this.startRode && settled.some((s) => s.status === 'fulfilled')) this.unstarted = undefined;
    const cancelled = settled.find((s) => s.status === 'rejected' && isCancellation(s.reason));
    if (cancelled) throw (cancelled as PromiseRejectedResult).reason;
    const unparkable = settled.find((s) => s.status === 'rejected' && isUnparkable(s.reason));
    if (unparkable) throw (unparkable as PromiseRejectedResult).reason;
    for (const [i, s] of settled.entries()) {
      if (s.status === 'fulfilled') {
        results.push(s.value);
        continue;
      }
      const [name, run] = group[i]!;
      await this.parkFailed(name, describeFailure(s.reason));
      results.push(await this.step(name, run));
    }
    return results as unknown as T;
  }

  /** New running entries for these steps, and the progress record the next activity call carries. */
  private async beginSteps(names: readonly string[]): Promise<StepProgress[]> {
    const startedAt = new Date().toISOString();
    const entries: StepProgress[] = names.map((name) => ({ name, status: 'running', startedAt }));
    this.update({ status: this.rollingBack ? 'rolling-back' : 'running', currentStep: names[0]!, steps: [...this.view.steps, ...entries], error: null, actions: [] });
    if ((this.rides ??= this.patched(PROGRESS_RIDES_PATCH))) {
      const { status, currentStep, steps, error } = this.view;
      this.ride = { rideAlong: 'upgrade-progress', upgradeId: this.upgradeId, progress: { status, currentStep, steps, error } };
    } else await this.save();
    return entries;
  }

  /** Ends a failed step's entry; throws when the upgrade cannot go on with it, returns when the operator chose to retry it. */
  private async stepFailed(entry: StepProgress, err: unknown, opts: StepOptions): Promise<void> {
    if (isCancellation(err)) {
      this.endStep(entry, 'failed', 'cancelled');
      throw err;
    }
    const error = describeFailure(err);
    this.endStep(entry, 'failed', error);
    if (isUnparkable(err)) throw err;
    if (opts.onExhausted === 'rollback' && this.rollbackSteps && !this.rollingBack) {
      throw new OperatorStop('rollback', `${entry.name} failed, rolled back automatically: ${error}`);
    }
    await this.parkFailed(entry.name, error);
  }

  /** Waits for the operator on a failed step; returns when they chose to retry it. */
  private async parkFailed(name: string, error: string): Promise<void> {
    const { action, reason } = await this.park(name, error);
    if (action !== 'retry') throw new OperatorStop(action, `${name} failed: ${reason}`);
  }

  /** Runs the steps and records how the upgrade ended; failures also fail the workflow, so the console shows them. */
  async run(steps: () => Promise<void>): Promise<UpgradeResult> {
    try {
      await steps();
      return { status: 'succeeded', steps: (await this.finish('succeeded')).steps };
    } catch (err) {
      if (isCancellation(err)) {
        await CancellationScope.nonCancellable(() => this.finish('cancelled', 'cancelled by an operator'));
        throw err;
      }
      if (err instanceof OperatorStop && err.action === 'rollback' && this.rollbackSteps) {
        this.rollingBack = true;
        try {
          await this.rollbackSteps();
        } catch (rbErr) {
          if (isCancellation(rbErr)) {
            await CancellationScope.nonCancellable(() => this.finish('cancelled', 'cancelled by an operator during rollback'));
            throw rbErr;
          }
          const message = `rollback failed: ${rbErr instanceof OperatorStop ? rbErr.reason : describeFailure(rbErr)} (after ${err.reason})`;
          await this.finish('failed', message);
          throw ApplicationFailure.nonRetryable(message, 'RollbackFailed');
        }
        return { status: 'rolled-back', error: err.reason, steps: (await this.finish('rolled-back', err.reason)).steps };
      }
      const message = err instanceof OperatorStop ? err.reason : describeFailure(err);
      const final = err instanceof OperatorStop ? `${message} (aborted)` : message;
      await this.finish('failed', final);
      throw ApplicationFailure.nonRetryable(final, 'UpgradeFailed');
    }
  }

  /** The operator's decision, or abort when none came in time (the reason then says so). */
  private async park(step: string, error: string): Promise<{ action: OperatorAction; reason: string }> {
    const actions: OperatorAction[] = this.rollbackSteps && !this.rollingBack ? ['retry', 'rollback', 'abort'] : ['retry', 'abort'];
    this.update({ ...this.view, status: 'needs-attention', currentStep: step, error, actions });
    await this.save();
    const parent = workflowInfo().parent;
    if (parent) {
      await getExternalWorkflowHandle(parent.workflowId)
        .signal(childParkedSignal, { workflowId: workflowInfo().workflowId, step, error })
        .catch(() => undefined); // a finished rollout no longer listens; the upgrade still waits for its operator
    }
    const decided = await condition(() => this.decision !== undefined, this.parkTimeoutMs);
    const action: OperatorAction = decided ? this.decision! : 'abort';
    const reason = decided ? error : `${error} (no operator decision within ${Math.round(this.parkTimeoutMs / 60_000)} min)`;
    if (decided && this.patched('operator-on-parked-step')) this.noteDecision(step, action, this.decidedBy);
    this.decision = undefined;
    this.decidedBy = undefined;
    return { action, reason };
  }

  /** The parked step shows what was decided and by whom (saved with the next progress). */
  private noteDecision(step: string, decision: OperatorAction, by: string | undefined) {
    const i = this.view.steps.map((s) => s.name).lastIndexOf(step);
    if (i < 0) return;
    const steps = [...this.view.steps];
    steps[i] = { ...steps[i]!, decision, ...(by ? { decidedBy: by } : {}) };
    this.view = { ...this.view, steps };
  }

  private validate(action: OperatorAction) {
    if (this.view.status !== 'needs-attention') {
      throw new Error(`the upgrade is ${this.view.status}, not waiting for an operator: nothing to ${action}`);
    }
    if (!this.view.actions.includes(action)) {
      throw new Error(`${action} is not possible now: ${action === 'rollback' ? 'nothing has been changed that a rollback could undo' : 'not offered'}`);
    }
  }

  private async finish(status: UpgradeStatus, error?: string): Promise<ProgressView> {
    this.update({ ...this.view, status, error: error ?? null, actions: [] });
    await this.save(true);
    return this.view;
  }

  private update(view: ProgressView) {
    if (view.status !== this.view.status) upsertSearchAttributes([{ key: SEARCH.status, value: view.status }]);
    this.view = view;
  }

  private endStep(entry: StepProgress, status: 'succeeded' | 'failed', error?: string) {
    const done: StepProgress = { ...entry, status, finishedAt: new Date().toISOString(), ...(error ? { error } : {}) };
    this.view = { ...this.view, steps: this.view.steps.map((s) => (s === entry ? done : s)) };
  }

  private save(finished = false) {
    const { status, currentStep, steps, error } = this.view;
    const started = this.unstarted ? [this.unstarted] : [];
    return recordUpgradeProgress(this.upgradeId, { status, currentStep, steps, error, finished }, ...started);
  }
}

/** Failures no retry can cure: the upgrade ends at once instead of parking. */
const UNPARKABLE = ['stale-plan', 'instance-missing'];

function isUnparkable(err: unknown): boolean {
  const type = failureType(err);
  return type !== undefined && UNPARKABLE.includes(type);
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
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
