/**
 * Fleet rollouts over real Docker Compose tenants: waves, the failure budget,
 * pause and resume, approval between waves, abort, and the busy guard.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetRolloutInput, RolloutView } from '../core/types.js';
import { ROLLOUT_WORKFLOW_TYPE, rolloutWorkflowId } from '../workflows/surface.js';
import { createAuditLog } from '../api/audit.js';
import { buildAndPushImage, registryAddress, type BuiltImage } from './harness/images.js';
import { APP_SERVICES, createTenant, type Tenant } from './harness/tenant.js';
import { recordHistory, startTestControlPlane, uniqueName, waitFor, waitForUpgradeStatus, type TestControlPlane } from './support.js';

describe('fleet rollouts on real tenants', () => {
  let cp: TestControlPlane;
  const tenants: Tenant[] = [];
  const ids: string[] = [];
  let ghostId: string;
  let appRepo: string;
  let tag: string;
  let second: BuiltImage;

  const rollout = async (body: object) => {
    const res = await cp.api('POST', '/api/rollouts', body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.rolloutId as string;
  };
  const waitRollout = (id: string, statuses: string[], timeoutMs = 120_000) =>
    waitFor(`rollout ${id} to be ${statuses.join('/')}`, async () => {
      const { status, body } = await cp.api('GET', `/api/rollouts/${id}`);
      return status === 200 && statuses.includes(body.status) ? body : undefined;
    }, timeoutMs, 300);
  const recordRollout = async (id: string, name: string) => {
    const { runId } = await cp.temporal.workflow.getHandle(rolloutWorkflowId(id)).describe();
    await recordHistory(cp, rolloutWorkflowId(id), runId, name);
  };

  beforeAll(async () => {
    appRepo = `${registryAddress()}/drydock/rollout-app`;
    tag = uniqueName('t');
    const infraImage = `${registryAddress()}/drydock/rollout-infra:${uniqueName('i')}`;
    [cp] = await Promise.all([startTestControlPlane(), buildAndPushImage(`${appRepo}:${tag}`, 'one'), buildAndPushImage(infraImage, 'infra')]);
    for (let n = 0; n < 3; n++) {
      const tenant = await createTenant({ project: uniqueName(`fleet${n}-`), imageTag: tag, appImage: appRepo, infraImage });
      await tenant.up();
      tenants.push(tenant);
      const res = await cp.api('POST', '/api/instances', {
        slug: tenant.project, name: `Fleet ${n}`, composeDir: tenant.dir, imageTag: tag, labels: ['fleet'],
      });
      ids.push(res.body.id);
    }
    // An instance whose core services name one its compose file lacks: its upgrade parks at preflight.
    const ghost = await cp.api('POST', '/api/instances', {
      // Its own project name: a second instance of the same directory and project is refused (409) since issue 12.
      slug: uniqueName('ghost-'), name: 'Ghost', composeDir: tenants[0]!.dir, composeProjectName: `${tenants[0]!.project}-ghost`,
      coreServices: ['api', 'ghost'], imageTag: tag,
    });
    ghostId = ghost.body.id;
    second = await buildAndPushImage(`${appRepo}:${tag}`, 'two');
  });

  afterAll(async () => {
    for (const t of tenants) await t.down();
    await cp?.stop();
  });

  it('previews which instances fall into each wave', async () => {
    const res = await cp.api('POST', '/api/rollouts/preview', { mode: 'image-only', target: { label: 'fleet' }, waves: [1, '100%'] });
    expect(res.status).toBe(200);
    expect(res.body.waves.map((w: { size: number }) => w.size)).toEqual([1, 2]);
  });

  it('upgrades three tenants in two waves', async () => {
    const id = await rollout({ mode: 'image-only', target: { instanceIds: ids }, waves: [1, '100%'], maxParallel: 2, bake: 0 });
    const end = await waitRollout(id, ['succeeded', 'failed', 'aborted']);
    expect(end.status).toBe('succeeded');
    expect(end.counts).toMatchObject({ updated: 3, failed: 0, skipped: 0 });
    expect(end.waves.map((w: { size: number; updated: number }) => [w.size, w.updated])).toEqual([[1, 1], [2, 2]]);
    // Who started it is the signed-in operator, in the rollout, its list entry and its instances' upgrades.
    expect(end.requestedBy).toBe(cp.operator.email);
    await waitFor('the rollout to be listed as completed', async () => {
      const listed = (await cp.api('GET', '/api/rollouts')).body.find((r: { rolloutId: string }) => r.rolloutId === id);
      return listed?.execution === 'COMPLETED' ? listed : undefined;
    }).then((listed) => expect(listed).toMatchObject({ mode: 'image-only', requestedBy: cp.operator.email }));
    const child = end.instances[0];
    expect((await cp.api('GET', `/api/upgrades/${child.upgradeId}`)).body.requestedBy).toBe(`rollout ${id} by ${cp.operator.email}`);
    await recordRollout(id, 'fleet-rollout-success');
    for (const t of tenants) {
      const c = await t.containers();
      for (const s of APP_SERVICES) expect(c[s]!.imageId, `${t.project}/${s}`).toBe(second.id);
    }
  });

  it('pauses after the first failure with a budget of zero, and resume carries on', async () => {
    const id = await rollout({
      mode: 'image-only', target: { instanceIds: [ghostId, ids[0], ids[1]] }, waves: [1, '100%'], failureBudget: { count: 0 },
    });
    const paused = await waitRollout(id, ['paused']);
    const ghost = paused.instances.find((i: any) => i.instanceId === ghostId);
    expect(ghost.status).toBe('failed');
    expect(ghost.reason).toMatch(/parked at preflight: service ghost not in the compose file/);
    expect(paused.counts).toMatchObject({ pending: 2, updated: 0 });

    expect((await cp.api('POST', `/api/rollouts/${id}/resume`)).status).toBe(202);
    const end = await waitRollout(id, ['succeeded', 'failed', 'aborted']);
    expect(end.status).toBe('failed');
    expect(end.counts).toMatchObject({ updated: 2, failed: 1, pending: 0 });
    await recordRollout(id, 'fleet-rollout-pause-resume');
  });

  it('skips an instance already upgrading as busy, waits for approval between waves, and abort stops new starts', async () => {
    const id = await rollout({
      mode: 'image-only', target: { instanceIds: [ghostId, ids[0], ids[1], ids[2]] }, waves: [1, 1, '100%'], bake: 'approval',
    });
    const waiting = await waitRollout(id, ['awaiting-approval']);
    const ghost = waiting.instances.find((i: any) => i.instanceId === ghostId);
    expect(ghost).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/busy/) });

    // Paused while it awaits approval, resume puts it back to awaiting approval (not running).
    expect((await cp.api('POST', `/api/rollouts/${id}/pause`)).status).toBe(202);
    await waitRollout(id, ['paused']);
    expect((await cp.api('POST', `/api/rollouts/${id}/resume`)).status).toBe(202);
    expect((await waitRollout(id, ['awaiting-approval', 'running'])).status).toBe('awaiting-approval');

    expect((await cp.api('POST', `/api/rollouts/${id}/approve`)).status).toBe(202);
    await waitFor('wave 2 to finish', async () => {
      const { body } = await cp.api('GET', `/api/rollouts/${id}`);
      return body.status === 'awaiting-approval' && body.currentWave === 1 ? body : undefined;
    });
    expect((await cp.api('POST', `/api/rollouts/${id}/abort`)).status).toBe(202);
    const end = await waitRollout(id, ['aborted']);
    expect(end.counts).toMatchObject({ updated: 1, skipped: 1, pending: 2, running: 0 });
    expect((await cp.api('POST', `/api/rollouts/${id}/resume`)).status).toBe(409);
    // Who did each: the rollout's own log (the operator travels with the signal) and the audit log.
    const who = cp.operator.email;
    for (const line of [`paused by ${who}`, `resumed by ${who}`, `next wave approved by ${who}`, `aborted by ${who}`]) {
      expect(end.log.some((l: string) => l.includes(line)), line).toBe(true);
    }
    const { entries } = await createAuditLog(cp.db.prisma).list({ targetKind: 'rollout', targetId: id });
    expect(entries.reverse().map((e) => `${e.action} ${e.outcome} ${e.actorName}`)).toEqual([
      `rollout.start accepted ${who}`,
      `rollout.pause accepted ${who}`,
      `rollout.resume accepted ${who}`,
      `rollout.approve accepted ${who}`,
      `rollout.abort accepted ${who}`,
      `rollout.resume refused ${who}`,
    ]);

    // The ghost's own upgrade is still parked from the previous rollout: end it.
    const history = await cp.api('GET', `/api/instances/${ghostId}/upgrades`);
    const parkedUpgrade = history.body.find((u: { status: string }) => u.status === 'needs-attention');
    expect((await cp.api('POST', `/api/upgrades/${parkedUpgrade.id}/abort`)).status).toBe(202);
    await waitForUpgradeStatus(cp, parkedUpgrade.id, ['failed']);
  });

  it('continues as new between waves, carrying every instance state across runs', async () => {
    const ghosts = [];
    for (let n = 0; n < 3; n++) {
      const res = await cp.api('POST', '/api/instances', {
        // One project each: two instances of one directory and project are refused since issue 12.
        slug: uniqueName(`can${n}-`), name: 'Ghost', composeDir: tenants[0]!.dir, composeProjectName: `${tenants[0]!.project}-can${n}`,
        coreServices: ['ghost'], imageTag: tag,
      });
      ghosts.push(res.body);
    }
    const rolloutId = randomUUID();
    const input: FleetRolloutInput = {
      rolloutId,
      mode: 'image-only',
      instances: ghosts.map((g, wave) => ({
        target: { instanceId: g.id, slug: g.slug, composeProjectName: g.composeProjectName, composeDir: g.composeDir, coreServices: g.coreServices, isRemote: false, agentUrl: null },
        imageTag: tag,
        wave,
        status: 'pending',
      })),
      waveSizes: [1, 1, 1],
      maxParallel: 1,
      failureBudget: { percent: 100 },
      bake: 0,
      perInstanceTimeoutMs: 60_000,
      continueAsNewAfterEvents: 1,
    };
    const handle = await cp.temporal.workflow.start(ROLLOUT_WORKFLOW_TYPE, { taskQueue: cp.taskQueue, workflowId: rolloutWorkflowId(rolloutId), args: [input] });
    const end: RolloutView = await handle.result();
    expect(end.counts).toMatchObject({ failed: 3, pending: 0 });
    expect(end.log.filter((l) => l.includes('continuing as new'))).toHaveLength(2);
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
    for (const g of ghosts) {
      const parked = (await cp.api('GET', `/api/instances/${g.id}/upgrades`)).body[0];
      expect(parked.status).toBe('needs-attention');
      await cp.api('POST', `/api/upgrades/${parked.id}/abort`);
    }
  });

  it('refuses a rollout that names an unknown instance or bad waves, saying which', async () => {
    const unknown = await cp.api('POST', '/api/rollouts', { mode: 'image-only', target: { instanceIds: ['nope'] }, waves: [1] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatch(/no instance with id nope/);
    const waves = await cp.api('POST', '/api/rollouts', { mode: 'image-only', target: { all: true }, waves: ['150%'] });
    expect(waves.status).toBe(400);
    expect(waves.body.error).toMatch(/percentage/);
    const release = await cp.api('POST', '/api/rollouts', { mode: 'release', target: { all: true }, waves: [1] });
    expect(release.body.error).toMatch(/imageTag: a release rollout needs imageTag/);
  });
});
