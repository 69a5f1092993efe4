/**
 * Rollout and upgrade events reach the outbox from the real workflows and
 * activities: a rollout pausing over its failure budget, waiting for
 * approval, finishing; the parked child. Time-skipping test server, tenants
 * faked in memory, real PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { targetOf } from '../../api/upgrade-service.js';
import type { FleetRolloutInput } from '../../core/types.js';
import { approveNextWaveSignal, resumeSignal, ROLLOUT_WORKFLOW_TYPE, rolloutQuery, rolloutWorkflowId } from '../../workflows/surface.js';
import { startFastEnv, type FastEnv } from './workflow-env.js';

let fx: FastEnv;
beforeEach(async () => {
  fx = await startFastEnv();
});
afterEach(async () => {
  await fx?.stop();
});

const events = async () =>
  (await fx.db.prisma.notificationEvent.findMany({ orderBy: { id: 'asc' } })).map((e) => ({ key: e.key, type: e.type, details: e.details as Record<string, unknown>, links: e.links as Record<string, string> }));

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

describe('rollout notifications (fast layer, tenants faked in memory)', () => {
  it('records a pause over budget, the wait for approval, the parked child and the end, once each, in order', async () => {
    const [a, b] = [await fx.addInstance(), await fx.addInstance()];
    a.tenant.fail('pull', 1, 'image-not-found', 'no such tag');
    const rolloutId = randomUUID();
    const input: FleetRolloutInput = {
      rolloutId,
      mode: 'image-only',
      instances: [a, b].map((x, wave) => ({ target: targetOf(x.instance), imageTag: '4.0.0', wave, status: 'pending' as const })),
      waveSizes: [1, 1],
      maxParallel: 1,
      failureBudget: { count: 0 },
      bake: 'approval',
      perInstanceTimeoutMs: 10 * 60_000,
      verifyDeadlineMs: 500,
    };
    await fx.withWorker(async () => {
      const handle = await fx.env.client.workflow.start(ROLLOUT_WORKFLOW_TYPE, { taskQueue: fx.taskQueue, workflowId: rolloutWorkflowId(rolloutId), args: [input] });
      await until('paused and awaiting approval', async () => ((await events()).some((e) => e.type === 'rollout.awaiting-approval') ? true : undefined));
      await handle.signal(resumeSignal);
      await handle.signal(approveNextWaveSignal);
      const view = await handle.result();
      expect(view.status).toBe('failed');
      expect((await handle.query(rolloutQuery)).counts).toMatchObject({ updated: 1, failed: 1 });
    });
    const recorded = await events();
    const rollout = recorded.filter((e) => e.type.startsWith('rollout.'));
    expect(rollout.map((e) => [e.type, e.key])).toEqual([
      ['rollout.paused', `rollout:${rolloutId}:paused:1`],
      ['rollout.awaiting-approval', `rollout:${rolloutId}:awaiting-approval:1`],
      ['rollout.finished', `rollout:${rolloutId}:finished`],
    ]);
    expect(rollout[0]!.details).toMatchObject({ rolloutId, failed: 1, pending: 1, wave: 1, waves: 2 });
    expect(rollout[2]!.details).toMatchObject({ status: 'failed', updated: 1, failed: 1 });
    expect(rollout[2]!.links.ui).toBe(`http://drydock.test/rollouts/${rolloutId}`);
    const parked = recorded.find((e) => e.type === 'upgrade.parked')!;
    expect(parked.details).toMatchObject({ step: 'pull', error: expect.stringMatching(/no such tag/) });
    expect(recorded.filter((e) => e.type === 'upgrade.succeeded')).toHaveLength(1);
    // The parked child is reported before the pause it caused.
    expect(recorded.indexOf(parked)).toBeLessThan(recorded.indexOf(recorded.find((e) => e.type === 'rollout.paused')!));
  });
});
