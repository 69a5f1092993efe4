/**
 * Quick Upgrade end to end: the real control plane (Express API, Temporal
 * worker), a real Temporal dev server, real PostgreSQL, and a real Docker
 * Compose tenant whose images come from a registry on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndPushImage, registryAddress, type BuiltImage } from './harness/images.js';
import { APP_SERVICES, createTenant, type Tenant } from './harness/tenant.js';
import {
  recordHistory,
  startTestControlPlane,
  uniqueName,
  waitForUpgradeEnd,
  waitForUpgradeStatus,
  type TestControlPlane,
} from './support.js';

const CORE = [...APP_SERVICES];

describe('Quick Upgrade on a real Docker Compose tenant', () => {
  let cp: TestControlPlane;
  let tenant: Tenant;
  let instanceId: string;
  let appRepo: string;
  let tag: string;
  let firstBuild: BuiltImage;

  beforeAll(async () => {
    appRepo = `${registryAddress()}/drydock/quick-app`;
    tag = uniqueName('t');
    const infraImage = `${registryAddress()}/drydock/quick-infra:${uniqueName('i')}`;
    [cp, firstBuild] = await Promise.all([
      startTestControlPlane(),
      buildAndPushImage(`${appRepo}:${tag}`, 'build one'),
      buildAndPushImage(infraImage, 'infra'),
    ]);
    tenant = await createTenant({ project: uniqueName('quick'), imageTag: tag, appImage: appRepo, infraImage });
    await tenant.up();
    const created = await cp.api('POST', '/api/instances', {
      slug: tenant.project,
      name: 'Quick upgrade tenant',
      composeDir: tenant.dir,
      composeProjectName: tenant.project,
      imageTag: tag,
    });
    expect(created.status).toBe(201);
    instanceId = created.body.id;
  });

  afterAll(async () => {
    await tenant?.down();
    await cp?.stop();
  });

  it('parks at the pull step naming the missing image, and abort ends it with nothing else changed', async () => {
    const before = await tenant.containers();
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, { imageTag: 'does-not-exist' });
    expect(started.status).toBe(202);

    const parked = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(parked.status).toBe('needs-attention');
    expect(parked.currentStep).toBe('pull');
    expect(parked.error).toContain(`${appRepo}:does-not-exist`);
    const rollback = await cp.api('POST', `/api/upgrades/${started.body.upgradeId}/rollback`);
    expect(rollback.status).toBe(409);
    expect(rollback.body.error).toMatch(/rollback is not possible now/);
    expect((await cp.api('POST', `/api/upgrades/${started.body.upgradeId}/abort`)).status).toBe(202);

    const end = await waitForUpgradeStatus(cp, started.body.upgradeId, ['failed']);
    expect(end.error).toContain(`${appRepo}:does-not-exist`);
    expect(end.error).toMatch(/aborted/);
    await recordHistory(cp, started.body.workflowId, started.body.runId, 'image-upgrade-park-abort');
    expect(end.steps.find((s: { name: string }) => s.name === 'pull')).toMatchObject({ status: 'failed' });
    expect(end.steps.map((s: { name: string }) => s.name)).not.toContain('recreate');

    const after = await tenant.containers();
    for (const service of Object.keys(before)) expect(after[service]!.id).toBe(before[service]!.id);
    const instance = await cp.api('GET', `/api/instances/${instanceId}`);
    expect(instance.body.imageTag).toBe(tag);
  });

  it('recreates the core services on the new build, leaving infra and tenant content alone', async () => {
    const contentBefore = await tenant.checksums('mkdocs');
    const before = await tenant.containers();
    expect(before.api!.imageId).toBe(firstBuild.id);
    const secondBuild = await buildAndPushImage(`${appRepo}:${tag}`, 'build two');
    expect(secondBuild.id).not.toBe(firstBuild.id);

    const t0 = Date.now();
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, {});
    expect(started.status).toBe(202);
    expect(started.body.workflowId).toBe(`upgrade-${tenant.project}`);
    const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
    const wallMs = Date.now() - t0;

    expect(end.error).toBeNull();
    expect(end.status).toBe('succeeded');
    await recordHistory(cp, started.body.workflowId, started.body.runId, 'image-upgrade-success');
    expect(end.steps.map((s: { name: string }) => s.name)).toEqual([
      'preflight', 'snapshot-content', 'pull', 'recreate', 'verify', 'check-content',
    ]);

    const after = await tenant.containers();
    for (const service of CORE) {
      expect(after[service]!.imageId, service).toBe(secondBuild.id);
      expect(after[service]!.id, service).not.toBe(before[service]!.id);
    }
    expect(after.redis!.id).toBe(before.redis!.id);
    expect(after.redis!.startedAt).toBe(before.redis!.startedAt);
    expect(await tenant.checksums('mkdocs')).toEqual(contentBefore);
    expect(Object.keys(contentBefore).length).toBeGreaterThan(0);

    const stepMs = (name: string) => {
      const s = end.steps.find((x: { name: string }) => x.name === name);
      return Date.parse(s.finishedAt) - Date.parse(s.startedAt);
    };
    const composeMs = stepMs('pull') + stepMs('recreate');
    console.log(
      `quick upgrade wall time ${wallMs} ms (API to succeeded row); compose pull ${stepMs('pull')} ms + up ${stepMs('recreate')} ms = ${composeMs} ms; ` +
        `verify ${stepMs('verify')} ms; preflight ${stepMs('preflight')} ms`,
    );
  });

  it('accepts exactly one of two upgrades started at once and refuses the other with 409', async () => {
    const [a, b] = await Promise.all([
      cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, {}),
      cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, {}),
    ]);
    expect([a.status, b.status].sort()).toEqual([202, 409]);
    const accepted = a.status === 202 ? a : b;
    const refused = a.status === 202 ? b : a;
    expect(refused.body.error).toMatch(/already running/);
    expect(refused.body.workflowId).toBe(accepted.body.workflowId);
    const history = await cp.api('GET', `/api/instances/${instanceId}/upgrades`);
    expect(history.body.filter((u: { status: string }) => u.status === 'queued' || u.status === 'running')).toHaveLength(1);
    expect((await waitForUpgradeEnd(cp, accepted.body.upgradeId)).status).toBe('succeeded');
  });

  it('lists the history of upgrades newest first with a link to each workflow', async () => {
    const history = await cp.api('GET', `/api/instances/${instanceId}/upgrades`);
    expect(history.status).toBe(200);
    expect(history.body.length).toBe(3);
    const times = history.body.map((u: { startedAt: string }) => Date.parse(u.startedAt));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    expect(history.body[0].temporalUrl).toContain(`/workflows/upgrade-${tenant.project}/`);
  });
});
