/**
 * A fleet rollout: waves of per-instance upgrades run as child workflows with
 * the instances' own workflow IDs (so the one-at-a-time guard still holds), at
 * most maxParallel at once, baking or awaiting approval between waves, pausing
 * when failures exceed the budget. Large fleets continue-as-new between waves.
 */
import {
  condition,
  continueAsNew,
  ParentClosePolicy,
  patched,
  setHandler,
  sleep,
  startChild,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { TypedSearchAttributes, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type {
  FleetRolloutInput,
  RolloutInstance,
  RolloutInstanceStatus,
  RolloutStatus,
  RolloutView,
  UpgradeResult,
} from '../core/types.js';
import {
  abortSignal,
  approveNextWaveSignal,
  childParkedSignal,
  pauseSignal,
  resumeSignal,
  rolloutQuery,
  SEARCH,
  upgradeWorkflowId,
  WORKFLOW_TYPE,
} from './surface.js';
import { describeFailure } from './upgrade-run.js';
import { appendLog, budgetExceeded, countStatus, rolloutView, signalSender } from '../core/rollout.js';
import { db } from './activities.js';

/** Continue-as-new well before the 51,200-event limit, at a wave boundary. */
const HISTORY_EVENTS_BEFORE_CONTINUE = 20_000;

export async function fleetRollout(input: FleetRolloutInput): Promise<RolloutView> {
  const instances: RolloutInstance[] = input.instances.map((i) => ({ ...i }));
  const log = [...(input.state?.log ?? [])];
  let status: RolloutStatus = input.state?.status ?? 'running';
  let paused = status === 'paused';
  // What the rollout was doing when it paused (awaiting approval, baking), so resume puts it back.
  let beforePause: RolloutStatus = 'running';
  let aborted = false;
  let approved = false;
  let currentWave = input.state?.nextWave ?? 0;
  const parked = new Map<string, string>();
  let settled = 0;

  const note = (line: string) => appendLog(log, `${new Date().toISOString()} ${line}`);
  const count = (s: RolloutInstanceStatus) => countStatus(instances, s);
  const view = (): RolloutView => rolloutView(input, { status, currentWave, instances, log });
  // Notifications (paused, awaiting approval, finished): recorded in the outbox one after another, so a
  // receiver sees them in the order they happened, and never in the way of the rollout.
  let notices: Promise<void> = Promise.resolve();
  const notify = (event: 'paused' | 'awaiting-approval' | 'finished', key: string) => {
    if (!patched('notify-rollout-events')) return;
    const counts = { updated: count('updated'), failed: count('failed'), skipped: count('skipped'), pending: count('pending') };
    const notice = { rolloutId: input.rolloutId, event, key, status, wave: currentWave + 1, waves: input.waveSizes.length, counts, lastLog: log.at(-1) ?? null };
    notices = notices.then(() => db.notifyRollout(notice).catch(() => undefined));
  };
  const noticesSent = () => notices;

  setHandler(rolloutQuery, view);
  setHandler(pauseSignal, (s) => {
    if (!aborted && !paused) {
      pause();
      note(`paused by ${signalSender(s)}`);
    }
  });
  setHandler(resumeSignal, (s) => {
    if (!aborted && paused) {
      paused = false;
      status = beforePause;
      note(`resumed by ${signalSender(s)}`);
    }
  });
  setHandler(approveNextWaveSignal, (s) => {
    approved = true;
    if (s?.by) note(`next wave approved by ${signalSender(s)}`);
  });
  setHandler(abortSignal, (s) => {
    if (!aborted) {
      aborted = true;
      note(`aborted by ${signalSender(s)}: no new instance starts; running ones finish or park`);
    }
  });
  setHandler(childParkedSignal, ({ workflowId, step, error }) => void parked.set(workflowId, `parked at ${step}: ${error}`));

  function pause() {
    paused = true;
    beforePause = status === 'paused' ? 'running' : status;
    status = 'paused';
  }

  function finish(inst: RolloutInstance, s: RolloutInstanceStatus, reason?: string) {
    inst.status = s;
    if (reason) inst.reason = reason;
    settled++;
    note(`${inst.target.slug}: ${s}${reason ? ` (${reason})` : ''}`);
    // Over budget with nothing left to start, there is nothing to pause: the rollout ends failed.
    if (s === 'failed' && !paused && !aborted && count('pending') > 0 && budgetExceeded(instances, input.failureBudget)) {
      pause();
      note(`paused: ${count('failed')} failure(s) exceed the failure budget; resume or abort`);
      notify('paused', `paused:${count('failed')}`);
    }
  }

  // One timer watches the deadlines of all running instances, where each once had its own timer, started
  // and cancelled: 2,000 history events and 1,000 timer tasks fewer at 1,000 instances. Deadlines all have
  // the same length and are set in start order, so the first in the map is always the earliest.
  const oneDeadlineTimer = patched('one-deadline-timer');
  const deadlines = new Map<string, number>();
  const overdue = new Set<string>();
  let watchingDeadlines = false;
  async function watchDeadlines() {
    watchingDeadlines = true;
    for (let first = deadlines.values().next(); !first.done; first = deadlines.values().next()) {
      await sleep(Math.max(1, first.value - Date.now()));
      for (const [workflowId, at] of deadlines) {
        if (at > Date.now()) break;
        deadlines.delete(workflowId);
        overdue.add(workflowId);
      }
    }
    watchingDeadlines = false;
  }

  async function upgradeOne(inst: RolloutInstance): Promise<void> {
    inst.status = 'running';
    inst.upgradeId = uuid4();
    const workflowId = upgradeWorkflowId(inst.target.slug);
    const common = {
      upgradeId: inst.upgradeId,
      target: inst.target,
      imageTag: inst.imageTag,
      ...(inst.releaseVersion ? { releaseVersion: inst.releaseVersion } : {}),
      requestedBy: `rollout ${input.rolloutId}${input.requestedBy ? ` by ${input.requestedBy}` : ''}`,
      verifyDeadlineMs: input.verifyDeadlineMs,
    };
    const args = input.mode === 'image-only' ? [{ ...common, persistImageTag: false }] : [common];
    let child;
    try {
      child = await startChild(WORKFLOW_TYPE[input.mode], {
        workflowId,
        args,
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: new TypedSearchAttributes([
          { key: SEARCH.slug, value: inst.target.slug },
          { key: SEARCH.mode, value: input.mode },
          { key: SEARCH.tag, value: inst.imageTag },
          { key: SEARCH.status, value: 'running' },
        ]),
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        inst.upgradeId = undefined;
        return finish(inst, 'skipped', 'busy: an upgrade of this instance is already running');
      }
      return finish(inst, 'failed', describeFailure(err));
    }
    let outcome: { status: RolloutInstanceStatus; reason?: string } | undefined;
    child.result().then(
      (r: UpgradeResult) => (outcome = r.status === 'succeeded' ? { status: 'updated' } : { status: 'failed', reason: `rolled back: ${r.error ?? ''}` }),
      (err: { cause?: unknown }) => (outcome = { status: 'failed', reason: describeFailure(err.cause ?? err) }),
    );
    let done: boolean;
    if (oneDeadlineTimer) {
      deadlines.set(workflowId, Date.now() + input.perInstanceTimeoutMs);
      if (!watchingDeadlines) void watchDeadlines();
      await condition(() => outcome !== undefined || parked.has(workflowId) || overdue.has(workflowId));
      deadlines.delete(workflowId);
      done = !overdue.delete(workflowId);
    } else {
      done = await condition(() => outcome !== undefined || parked.has(workflowId), input.perInstanceTimeoutMs);
    }
    if (outcome) return finish(inst, outcome.status, outcome.reason);
    if (done) return finish(inst, 'failed', parked.get(workflowId));
    const waited = `${Math.round(input.perInstanceTimeoutMs / 1000)}s`;
    finish(
      inst,
      'failed',
      inst.target.isRemote
        ? `offline: its agent gave no result within ${waited}; the instance's own upgrade goes on and retries`
        : `no result within ${waited}; the instance's own upgrade goes on`,
    );
  }

  async function runWave(wave: number) {
    const queue = instances.filter((i) => i.wave === wave && i.status === 'pending');
    let inFlight = 0;
    note(`wave ${wave + 1}/${input.waveSizes.length}: ${queue.length} instance(s)`);
    for (;;) {
      while (!aborted && !paused && inFlight < input.maxParallel && queue.length > 0) {
        const inst = queue.shift()!;
        inFlight++;
        void upgradeOne(inst).finally(() => inFlight--);
      }
      if (inFlight === 0 && (queue.length === 0 || aborted)) return;
      const seen = settled;
      await condition(() => settled !== seen || aborted || (!paused && inFlight < input.maxParallel && queue.length > 0));
    }
  }

  for (; currentWave < input.waveSizes.length && !aborted; currentWave++) {
    await runWave(currentWave);
    if (aborted || currentWave === input.waveSizes.length - 1) continue;
    if (input.bake === 'approval') {
      status = 'awaiting-approval';
      note(`wave ${currentWave + 1} done: waiting for approval of the next wave`);
      notify('awaiting-approval', `awaiting-approval:${currentWave + 1}`);
      approved = false;
      await condition(() => approved || aborted);
    } else if (input.bake > 0) {
      status = 'baking';
      await condition(() => aborted, input.bake);
    }
    if (paused) await condition(() => !paused || aborted);
    status = paused ? 'paused' : 'running';
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > (input.continueAsNewAfterEvents ?? HISTORY_EVENTS_BEFORE_CONTINUE)) {
      note('continuing as new to keep the history small');
      await noticesSent();
      await continueAsNew<typeof fleetRollout>({
        ...input,
        instances,
        state: { nextWave: currentWave + 1, status, log },
      });
    }
  }

  status = aborted ? 'aborted' : count('failed') > 0 ? 'failed' : 'succeeded';
  note(`rollout ${status}: ${count('updated')} updated, ${count('failed')} failed, ${count('skipped')} skipped`);
  notify('finished', 'finished');
  await noticesSent();
  return view();
}
