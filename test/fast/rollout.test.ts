/**
 * Fleet rollout behaviour in seconds: the failure budget pauses, resume goes
 * on, approval gates the next wave, continue-as-new carries the state — on
 * the time-skipping test server with in-memory tenants (faked; Temporal, the
 * activities and PostgreSQL are real).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { targetOf } from '../../api/upgrade-service.js';
import { approveNextWaveSignal, pauseSignal, resumeSignal, ROLLOUT_WORKFLOW_TYPE, rolloutQuery, rolloutWorkflowId } from '../../workflows/surface.js';
import { ENDED_ROLLOUT_STATUSES, type FleetRolloutInput, type RolloutView } from '../../core/types.js';
import type { InstanceRecord } from '../../prisma/repositories.js';
import { startFastEnv, type FastEnv } from './workflow-env.js';
import type { FakeTenant } from './fake-tenant.js';

// A test server each: after a rollout whose instance parked, the shared test
// server stopped skipping time for later tests (cause not found), so no test
// may depend on what an earlier one left behind.
let fx: FastEnv;
beforeEach(async () => {
  fx = await startFastEnv();
});
afterEach(async () => {
  await fx?.stop();
});

async function fleet(n: number) {
  const out: { instance: InstanceRecord; tenant: FakeTenant }[] = [];
  for (let i = 0; i < n; i++) out.push(await fx.addInstance());
  return out;
}

function startRollout(instances: InstanceRecord[], waveSizes: number[], opts: Partial<FleetRolloutInput> = {}) {
  let next = 0;
  const input: FleetRolloutInput = {
    rolloutId: randomUUID(),
    mode: 'image-only',
    instances: waveSizes.flatMap((size, wave) =>
      instances.slice(next, (next += size)).map((i) => ({ target: targetOf(i), imageTag: '4.0.0', wave, status: 'pending' as const })),
    ),
    waveSizes,
    maxParallel: 2,
    failureBudget: { count: 0 },
    bake: 0,
    perInstanceTimeoutMs: 10 * 60_000,
    verifyDeadlineMs: 500,
    ...opts,
  };
  return fx.env.client.workflow.start(ROLLOUT_WORKFLOW_TYPE, { taskQueue: fx.taskQueue, workflowId: rolloutWorkflowId(input.rolloutId), args: [input] });
}

async function viewWhen(handle: Awaited<ReturnType<typeof startRollout>>, what: string, ok: (v: RolloutView) => boolean): Promise<RolloutView> {
  for (let i = 0; i < 600; i++) {
    const v = await handle.query(rolloutQuery);
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the rollout never got to: ${what}`);
}

/** Leaves no workflow task behind for the next test's worker. */
async function ended(workflowId: string) {
  for (let i = 0; i < 600; i++) {
    if ((await fx.env.client.workflow.getHandle(workflowId).describe()).status.name !== 'RUNNING') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${workflowId} did not end`);
}

/** Cancels an instance's own upgrade that is still going (a stuck one), waits for it to end, and says what it was before. */
async function cancelOwnUpgrade(upgradeId: string): Promise<string> {
  const own = (await fx.upgradeRow(upgradeId))!;
  await fx.upgrades.cancel(own);
  await ended(own.workflowId);
  return own.status;
}

describe('fleet rollouts with fake tenants (fast layer, tenants faked in memory)', () => {
  it('a failure over the budget pauses the rollout before the next wave; resume finishes it and reports each instance', async () => {
    const [a, b, c] = await fleet(3);
    a!.tenant.fail('pull', 1, 'image-not-found', 'no such tag');
    await fx.withWorker(async () => {
      const handle = await startRollout([a!.instance, b!.instance, c!.instance], [1, 2]);
      const paused = await viewWhen(handle, 'paused', (v) => v.status === 'paused');
      expect(paused.counts).toMatchObject({ failed: 1, pending: 2, updated: 0 });
      expect(paused.instances[0]!.reason).toMatch(/parked at pull: no such tag/);
      expect(paused.log.join('\n')).toMatch(/exceed the failure budget/);
      await handle.signal(resumeSignal);
      // Queried, not awaited: awaiting a result lets the test server skip time, and the parked upgrade's own 24 h wait would pass.
      const end = await viewWhen(handle, 'its end', (v) => ENDED_ROLLOUT_STATUSES.has(v.status));
      expect(end.status).toBe('failed');
      expect(end.instances.map((i: RolloutView['instances'][number]) => i.status)).toEqual(['failed', 'updated', 'updated']);
      // The parked instance's own upgrade still waits for its operator (the rollout does not decide for it).
      const own = (await fx.upgradeRow(end.instances[0]!.upgradeId!))!;
      expect(own.status).toBe('needs-attention');
      await fx.upgrades.act(own, 'abort');
      await ended(own.workflowId);
    });
    expect([b!.tenant.tagOf('api'), c!.tenant.tagOf('api')]).toEqual(['4.0.0', '4.0.0']);
  });

  it('waits for approval between waves, and a pause while waiting resumes to awaiting approval', async () => {
    const group = await fleet(2);
    await fx.withWorker(async () => {
      const handle = await startRollout(group.map((g) => g.instance), [1, 1], { bake: 'approval' });
      await viewWhen(handle, 'awaiting approval', (v) => v.status === 'awaiting-approval');
      expect(group[1]!.tenant.calls).toEqual([]);
      await handle.signal(pauseSignal);
      await viewWhen(handle, 'paused', (v) => v.status === 'paused');
      await handle.signal(resumeSignal);
      await viewWhen(handle, 'awaiting approval again', (v) => v.status === 'awaiting-approval');
      await handle.signal(approveNextWaveSignal);
      const end = await handle.result();
      expect(end.status).toBe('succeeded');
      expect(end.counts.updated).toBe(2);
    });
  });

  it('a day of bake between waves passes without anyone waiting for it', async () => {
    const group = await fleet(2);
    await fx.withWorker(async () => {
      const handle = await startRollout(group.map((g) => g.instance), [1, 1], { bake: 24 * 60 * 60_000 });
      const end = await handle.result();
      expect(end.status).toBe('succeeded');
      expect(end.instances.map((i: RolloutView['instances'][number]) => i.status)).toEqual(['updated', 'updated']);
    });
  });

  it('continues as new between waves and carries the instances, the wave and the log', async () => {
    const group = await fleet(3);
    await fx.withWorker(async () => {
      const handle = await startRollout(group.map((g) => g.instance), [1, 1, 1], { continueAsNewAfterEvents: 1 });
      const end = await handle.result();
      expect(end.status).toBe('succeeded');
      expect(end.counts.updated).toBe(3);
      expect(end.log.filter((l: string) => l.includes('continuing as new'))).toHaveLength(2);
      const latest = await fx.env.client.workflow.getHandle(handle.workflowId).describe();
      expect(latest.runId).not.toBe(handle.firstExecutionRunId);
    });
  });

  it('reports the instances that pass their deadline, with one timer for the whole wave rather than one per instance', async () => {
    const group = await fleet(5);
    for (const g of [group[1]!, group[3]!]) g.tenant.hang('pull');
    await fx.withWorker(async () => {
      const handle = await startRollout(group.map((g) => g.instance), [5], { maxParallel: 5, perInstanceTimeoutMs: 3_000 });
      // Queried, not awaited, so no time is skipped: the deadline passes in real time, well before a hung step's own timeouts.
      const end = await viewWhen(handle, 'its end', (v) => ENDED_ROLLOUT_STATUSES.has(v.status));
      expect(end.instances.map((i: RolloutView['instances'][number]) => `${i.status}${i.reason ? `: ${i.reason}` : ''}`)).toEqual([
        'updated',
        "failed: no result within 3s; the instance's own upgrade goes on",
        'updated',
        "failed: no result within 3s; the instance's own upgrade goes on",
        'updated',
      ]);
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.timerStartedEventAttributes)).toHaveLength(1);
      for (const i of [end.instances[1]!, end.instances[3]!]) expect(await cancelOwnUpgrade(i.upgradeId!)).toBe('running');
    });
  });

  it('after an instance finishes in time, the one timer waits on for the deadline of the next', async () => {
    const [quick, stuck] = await fleet(2);
    stuck!.tenant.hang('pull');
    await fx.withWorker(async () => {
      const handle = await startRollout([quick!.instance, stuck!.instance], [2], { maxParallel: 1, perInstanceTimeoutMs: 3_000 });
      const end = await viewWhen(handle, 'its end', (v) => ENDED_ROLLOUT_STATUSES.has(v.status));
      expect(end.instances.map((i: RolloutView['instances'][number]) => i.status)).toEqual(['updated', 'failed']);
      // The first timer was for the quick instance's deadline; when it fired, the stuck one, started later, had time left.
      const timers = ((await handle.fetchHistory()).events ?? []).flatMap((e) => (e.timerStartedEventAttributes ? [e.timerStartedEventAttributes] : []));
      const ms = timers.map((t) => Number(t.startToFireTimeout!.seconds ?? 0) * 1000 + Math.round((t.startToFireTimeout!.nanos ?? 0) / 1e6));
      expect(ms).toHaveLength(2);
      expect(ms[0]).toBe(3_000);
      expect(ms[1]).toBeGreaterThan(0);
      expect(ms[1]).toBeLessThan(3_000);
      await cancelOwnUpgrade(end.instances[1]!.upgradeId!);
    });
  });

  it('an instance already being upgraded is skipped as busy, and the rollout goes on', async () => {
    const [busy, free] = await fleet(2);
    busy!.tenant.hang('pull');
    await fx.withWorker(async () => {
      const own = await fx.upgrades.startImageUpgrade(busy!.instance, { imageTag: '3.9.9' });
      const handle = await startRollout([busy!.instance, free!.instance], [2]);
      const end = await handle.result();
      expect(end.instances.map((i: RolloutView['instances'][number]) => `${i.status}${i.reason ? `: ${i.reason}` : ''}`)).toEqual([
        'skipped: busy: an upgrade of this instance is already running',
        'updated',
      ]);
      await cancelOwnUpgrade(own.upgradeId);
    });
  });
});
