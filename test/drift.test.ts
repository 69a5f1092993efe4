/**
 * Drift detection on a real Docker Compose tenant: a hand edit of the managed
 * compose file and `.env`, and a re-tagged image, found by the driftCheck
 * workflow on the real Temporal dev server and named in the report (`.env`
 * masked); nothing written by the check; reconcile (Upgrade to Release of the
 * release it runs, previewed) brings it back in sync; instances that cannot
 * be reached are `unknown` with the reason; the schedule keeps a pause.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScheduleNotFoundError } from '@temporalio/client';
import type { RenderDefaults } from '../core/render.js';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { createInstanceRepo } from '../prisma/repositories.js';
import { createPlanner } from '../worker/planner.js';
import { ensureDriftSchedule } from '../platform/drift-schedule.js';
import { driftScheduleId, type DriftCheckResult } from '../workflows/surface.js';
import { createReleaseTenant, pushReleaseImages, releaseDefaults, RELEASE_SERVICES, RELEASES, treeChecksums, type ReleaseTenant } from './harness/release-tenant.js';
import { recordHistory, startTestControlPlane, uniqueName, waitForUpgradeEnd, type TestControlPlane } from './support.js';

const N = '1.0.0';
const N1 = '1.1.0';
const SECRET = 'pg-secret-Zx81';
const API_SECRET = 'api-secret-Qm42';
/** A value typed into the tenant's .env by hand: the report must not show it. */
const HAND_VALUE = 'typed-on-the-host-Vb77';
const docker = (...args: string[]) => promisify(execFile)('docker', args);

describe('drift detection on a real tenant', () => {
  let cp: TestControlPlane;
  let tenant: ReleaseTenant;
  let defaults: RenderDefaults;
  let images: Record<string, Record<string, string>>;
  let instanceId: string;
  let goneId: string;
  let remoteId: string;

  /** Runs a check through the API and waits for the workflow's result. */
  async function check(body: object = {}): Promise<{ result: DriftCheckResult; workflowId: string; runId: string }> {
    const started = await cp.api('POST', '/api/drift/check', body);
    expect(started.status).toBe(202);
    const result = await cp.temporal.workflow.getHandle(started.body.workflowId).result();
    return { result, workflowId: started.body.workflowId, runId: started.body.runId };
  }
  const listed = async (id: string) => (await cp.api('GET', '/api/instances')).body.find((i: { id: string }) => i.id === id);

  beforeAll(async () => {
    const slug = uniqueName('drf');
    defaults = releaseDefaults(slug);
    images = await pushReleaseImages(defaults, { [N]: RELEASE_SERVICES, [N1]: ['api'] });
    cp = await startTestControlPlane({ planner: createPlanner(defaults, path.join(RELEASES, 'n')), driftIntervalMs: 3_600_000 });
    tenant = await createReleaseTenant({ slug, defaults, release: 'n', imageTag: N, secrets: { postgresPassword: SECRET, apiSecret: API_SECRET } });
    const created = await cp.api('POST', '/api/instances', { slug, name: 'Drift tenant', composeDir: tenant.dir, imageTag: N, labels: ['eu'] });
    expect(created.status).toBe(201);
    instanceId = created.body.id;
    // A tenant whose directory is gone from the host, and a registered one whose agent was never approved.
    const repo = createInstanceRepo(cp.db.prisma);
    goneId = (await repo.create({ slug: uniqueName('gone'), name: 'Gone', composeDir: `/nonexistent/${uniqueName('dir')}`, composeProjectName: 'gone', coreServices: ['api'], imageTag: N, labels: [], releaseVersion: null }))!.id;
    remoteId = (await repo.create({
      slug: uniqueName('far'),
      name: 'Far away',
      composeDir: '/srv/far',
      composeProjectName: 'far',
      coreServices: ['api'],
      imageTag: N,
      labels: [],
      releaseVersion: null,
      isRemote: true,
      isRegistered: true,
      agentUrl: 'https://127.0.0.1:9/',
    } as never))!.id;
  });

  afterAll(async () => {
    await cp?.temporal.schedule.getHandle(driftScheduleId(cp.taskQueue)).delete().catch((err) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
    await tenant?.down();
    await cp?.stop();
  });

  it('finds a tenant as its release left it in sync, and the unreachable ones unknown with the reason', async () => {
    expect((await listed(instanceId)).drift).toBeNull();
    const { result } = await check();
    expect(result).toEqual({ checked: 3, inSync: 1, drifted: 0, unknown: 2 });
    expect((await listed(instanceId)).drift).toMatchObject({ status: 'in-sync', files: 0, images: 0 });
    const gone = (await listed(goneId)).drift;
    expect(gone.status).toBe('unknown');
    expect(gone.reason).toMatch(/nonexistent|ENOENT|no such file/i);
    const far = await cp.api('GET', `/api/instances/${remoteId}/drift`);
    expect(far.body).toMatchObject({ status: 'unknown', files: [], images: [] });
    expect(far.body.reason).toMatch(/no approved agent/);
  });

  it('names a hand-edited compose file, an added .env value (masked) and a re-tagged image, and writes nothing', async () => {
    const dir = tenant.dir;
    const compose = await readFile(path.join(dir, 'docker-compose.yml'), 'utf8');
    await writeFile(path.join(dir, 'docker-compose.yml'), compose.replace('interval: 1s', 'interval: 7s'));
    await writeFile(path.join(dir, '.env'), `${await readFile(path.join(dir, '.env'), 'utf8')}HAND_TUNED=${HAND_VALUE}\n`);
    const apiRef = `${defaults.registry}/${defaults.imagePrefix}/api:${N}`;
    // The release's reference now names another image than the api container runs.
    await docker('tag', images[N1]!.api!, apiRef);

    const before = await treeChecksums(dir);
    // Which container runs which image (health comes and goes with the healthchecks on a busy machine).
    const containers = async () => (await tenant.driver.containerStates(RELEASE_SERVICES)).map((c) => ({ service: c.service, id: c.containerId, imageId: c.imageId, imageRef: c.imageRef }));
    const containersBefore = await containers();
    const { result, workflowId, runId } = await check({ instanceIds: [instanceId] });
    expect(result).toEqual({ checked: 1, inSync: 0, drifted: 1, unknown: 0 });
    // Read-only: the same bytes, the same containers, and the re-tag left as it was.
    expect(await treeChecksums(dir)).toEqual(before);
    expect(await containers()).toEqual(containersBefore);
    expect((await tenant.driver.imageIds([apiRef]))[apiRef]).toBe(images[N1]!.api);

    const res = await cp.api('GET', `/api/instances/${instanceId}/drift`);
    expect(res.status).toBe(200);
    const report = res.body;
    expect(report.status).toBe('drifted');
    expect(report.files.map((f: { path: string; status: string }) => [f.path, f.status])).toEqual([
      ['docker-compose.yml', 'modified'],
      ['.env', 'modified'],
    ]);
    const composeDiff = report.files[0].diff as string;
    expect(composeDiff).toContain('-      interval: 1s');
    expect(composeDiff).toContain('+      interval: 7s');
    const envDiff = report.files[1].diff as string;
    expect(envDiff).toContain('+HAND_TUNED=********');
    expect(report.images).toEqual([
      { service: 'api', expected: apiRef, running: apiRef, runningImageId: images[N]!.api, expectedImageId: images[N1]!.api, problem: 'image-changed' },
    ]);
    expect(report.reconcile).toEqual({ release: null, imageTag: N });
    // Kept for the record (artifacts/ is git-ignored, kept by CI).
    await mkdir(path.join(REPO_ROOT, 'artifacts'), { recursive: true });
    await writeFile(path.join(REPO_ROOT, 'artifacts', 'drift-report.json'), `${JSON.stringify(report, null, 2)}\n`);
    const text = JSON.stringify(report);
    for (const s of [SECRET, API_SECRET, HAND_VALUE]) expect(text).not.toContain(s);
    expect(JSON.stringify((await cp.api('GET', '/api/instances')).body)).not.toContain(HAND_VALUE);
    expect((await listed(instanceId)).drift).toMatchObject({ status: 'drifted', files: 2, images: 1 });
    // The history holds no .env value in plain text or otherwise unsealed.
    await recordHistory(cp, workflowId, runId, 'drift-check');
  });

  it('reconciles through the usual preview and apply, after which the instance is in sync again', async () => {
    const { reconcile } = (await cp.api('GET', `/api/instances/${instanceId}/drift`)).body;
    const preview = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release/preview`, { imageTag: reconcile.imageTag });
    expect(preview.status).toBe(200);
    const changed = preview.body.files.filter((f: { status: string }) => f.status !== 'unchanged').map((f: { path: string }) => f.path);
    expect(changed).toEqual(['docker-compose.yml', '.env']);
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release`, { imageTag: reconcile.imageTag, planHash: preview.body.planHash });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(end.error).toBeNull();
    expect(end.status).toBe('succeeded');

    const { result } = await check({ instanceIds: [instanceId] });
    expect(result).toEqual({ checked: 1, inSync: 1, drifted: 0, unknown: 0 });
    const report = (await cp.api('GET', `/api/instances/${instanceId}/drift`)).body;
    expect(report).toMatchObject({ status: 'in-sync', files: [], images: [], driftedSince: null });
    expect((await tenant.driver.containerStates(['api']))[0]!.imageId).toBe(images[N]!.api);
  });

  it('refuses a check of an instance that does not exist and a viewer asking for a check', async () => {
    const missing = await cp.api('POST', '/api/drift/check', { instanceIds: ['no-such-instance'] });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/no-such-instance/);
    const bad = await cp.api('POST', '/api/drift/check', { instanceIds: 'all' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/instanceIds/);
    const viewer = await cp.createOperator(undefined, undefined, 'viewer');
    const refused = await cp.request('POST', '/api/drift/check', { body: {}, headers: { authorization: `Bearer ${viewer.token}` } });
    expect(refused.status).toBe(403);
  });

  it('runs on a schedule of its own that keeps a pause from the console when the interval changes', async () => {
    const handle = cp.temporal.schedule.getHandle(driftScheduleId(cp.taskQueue));
    const first = await handle.describe();
    expect(first.spec.intervals?.[0]?.every).toBe(3_600_000);
    expect(first.action).toMatchObject({ type: 'startWorkflow', workflowType: 'driftCheck', taskQueue: cp.taskQueue });
    await handle.pause('paused by an operator in the console');
    await ensureDriftSchedule(cp.temporal, { intervalMs: 3_600_000, taskQueue: cp.taskQueue });
    expect((await handle.describe()).state.paused).toBe(true);
    await ensureDriftSchedule(cp.temporal, { intervalMs: 600_000, taskQueue: cp.taskQueue });
    const after = await handle.describe();
    expect(after.spec.intervals?.[0]?.every).toBe(600_000);
    expect(after.state.paused).toBe(true);
  });
});
