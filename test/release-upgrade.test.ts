/**
 * Upgrade to Release end to end: a real tenant at release N on the Docker
 * engine, release N+1 templates that add a service, an nginx route, an env
 * variable and a file; preview, apply, preview again, and a stale plan.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderRelease } from '../core/release-plan.js';
import type { RenderDefaults } from '../core/render.js';
import { createPlanner } from '../worker/planner.js';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { createAuditLog } from '../api/audit.js';
import {
  checksums as treeChecksums,
  createReleaseTenant,
  pushReleaseImages,
  releaseDefaults,
  RELEASE_SERVICES,
  RELEASES as FIXTURES,
  type ReleaseTenant,
} from './harness/release-tenant.js';
import {
  recordHistory,
  sessionOf,
  startTestControlPlane,
  uniqueName,
  waitForUpgradeEnd,
  waitForUpgradeEndAfterRetry,
  type TestControlPlane,
} from './support.js';

const N = '1.0.0';
const N1 = '1.1.0';
const SECRET = 'pg-secret-Zx81';
const API_SECRET = 'api-secret-Qm42';

describe('Upgrade to Release on a real Docker Compose tenant', () => {
  let cp: TestControlPlane;
  let tenant: ReleaseTenant;
  let dir: string;
  let slug: string;
  let instanceId: string;
  let defaults: RenderDefaults;
  let images: Record<string, Record<string, string>>;
  let firstPreview: any;

  beforeAll(async () => {
    slug = uniqueName('rel');
    defaults = releaseDefaults(slug);
    images = await pushReleaseImages(defaults, { [N]: RELEASE_SERVICES, [N1]: RELEASE_SERVICES });
    cp = await startTestControlPlane({ planner: createPlanner(defaults, path.join(FIXTURES, 'n1')) });
    tenant = await createReleaseTenant({ slug, defaults, release: 'n', imageTag: N, secrets: { postgresPassword: SECRET, apiSecret: API_SECRET } });
    dir = tenant.dir;
    const created = await cp.api('POST', '/api/instances', { slug, name: 'Release tenant', composeDir: dir, imageTag: N });
    expect(created.status).toBe(201);
    instanceId = created.body.id;
  });

  afterAll(async () => {
    await tenant?.down();
    await cp?.stop();
  });

  it('previews exactly what N+1 changes, with env coverage, masked values and nothing written', async () => {
    const before = await treeChecksums(dir);
    const res = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release/preview`, { imageTag: N1 });
    expect(res.status).toBe(200);
    firstPreview = res.body;
    const status = Object.fromEntries(res.body.files.map((f: { path: string; status: string }) => [f.path, f.status]));
    expect(status).toEqual({
      'docker-compose.yml': 'modified',
      '.env': 'modified',
      'nginx/conf.d/default.conf': 'modified',
      'drydock/search.conf': 'created',
    });
    const nginx = res.body.files.find((f: { path: string }) => f.path === 'nginx/conf.d/default.conf');
    expect(nginx.diff).toContain('+    location /search/ { proxy_pass http://search:8080/; }');
    expect(res.body.envCoverage.missingInTenantEnv).toEqual(['SEARCH_API_KEY']);
    expect(res.body.planHash).toMatch(/^[0-9a-f]{64}$/);
    const body = JSON.stringify(res.body);
    expect(body).not.toContain(SECRET);
    expect(body).not.toContain(API_SECRET);

    expect(await treeChecksums(dir)).toEqual(before);
    expect((await cp.api('GET', `/api/instances/${instanceId}`)).body.imageTag).toBe(N);
  });

  it('applies the previewed plan: every service on N+1, tenant content untouched, a second preview all unchanged', async () => {
    const mkdocsBefore = Object.entries(await treeChecksums(dir)).filter(([p]) => p.startsWith('mkdocs/'));
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release`, { imageTag: N1, planHash: firstPreview.planHash });
    expect(started.status).toBe(202);
    const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(end.error).toBeNull();
    expect(end.status).toBe('succeeded');
    expect(end.steps.map((s: { name: string }) => s.name)).toEqual(['plan', 'snapshot', 'persist-image-tag', 'write', 'pull', 'up', 'verify']);
    await recordHistory(cp, started.body.workflowId, started.body.runId, 'release-upgrade-success');

    const states = await tenant.driver.containerStates(RELEASE_SERVICES);
    for (const s of states) {
      expect(s.state, s.service).toBe('running');
      expect(s.imageId, s.service).toBe(images[N1]![s.service]);
    }
    expect(Object.entries(await treeChecksums(dir)).filter(([p]) => p.startsWith('mkdocs/'))).toEqual(mkdocsBefore);
    expect((await cp.api('GET', `/api/instances/${instanceId}`)).body.imageTag).toBe(N1);

    const again = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release/preview`, { imageTag: N1 });
    expect(again.body.files.map((f: { status: string }) => f.status)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
  });

  it('refuses a stale plan before writing anything', async () => {
    const before = await treeChecksums(dir);
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release`, { imageTag: N1, planHash: firstPreview.planHash });
    expect(started.status).toBe(202);
    const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(end.status).toBe('failed');
    expect(end.currentStep).toBe('plan');
    expect(end.error).toMatch(/plan is stale/);
    expect(await treeChecksums(dir)).toEqual(before);
  });

  it('parks a Release Upgrade at pull, is retried by one operator and rolled back by another; the steps and the audit log name each of them', async () => {
    const retrier = await cp.createOperator(`retrier-${uniqueName('')}@drydock.test`, uniqueName('pw-'), 'operator');
    const roller = await cp.createOperator(`roller-${uniqueName('')}@drydock.test`, uniqueName('pw-'), 'operator');
    const viewer = await cp.createOperator(`viewer-${uniqueName('')}@drydock.test`, uniqueName('pw-'), 'viewer');
    const before = await treeChecksums(dir);
    // No image was ever pushed with this tag: pull fails for good and the upgrade parks.
    const MISSING = '1.9.0';
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release`, { imageTag: MISSING, reason: 'audit trail' });
    expect(started.status).toBe(202);
    const upgradeId = started.body.upgradeId;
    const parked = await waitForUpgradeEnd(cp, upgradeId, 240_000);
    expect(parked).toMatchObject({ status: 'needs-attention', currentStep: 'pull' });

    const as = (op: { token: string }) => ({ authorization: `Bearer ${op.token}` });
    const notAllowed = await cp.request('POST', `/api/upgrades/${upgradeId}/rollback`, { headers: as(viewer) });
    expect(notAllowed.status).toBe(403);
    expect((await cp.request('POST', `/api/upgrades/${upgradeId}/retry`, { headers: as(retrier) })).status).toBe(202);
    // The row may still read needs-attention from before the retry: wait for the retried step's own entry.
    const parkedAgain = await waitForUpgradeEndAfterRetry(cp, parked, 240_000);
    expect(parkedAgain).toMatchObject({ status: 'needs-attention', currentStep: 'pull' });
    const rolledBack = await cp.request('POST', `/api/upgrades/${upgradeId}/rollback`, { headers: await sessionOf(cp, roller) });
    expect(rolledBack.status).toBe(202);
    const end = await waitForUpgradeEnd(cp, upgradeId, 240_000);
    expect(end.status).toBe('rolled-back');
    expect(await treeChecksums(dir)).toEqual(before);
    expect((await cp.api('GET', `/api/instances/${instanceId}`)).body.imageTag).toBe(N1);

    // The workflow recorded who decided on each parked step.
    const decided = end.steps.filter((s: { decision?: string }) => s.decision).map((s: { name: string; decision: string; decidedBy: string }) => `${s.name}: ${s.decision} by ${s.decidedBy}`);
    expect(decided).toEqual([`pull: retry by ${retrier.email}`, `pull: rollback by ${roller.email}`]);

    // The audit log, oldest first: start, the viewer refused, retry, rollback.
    const { entries } = await createAuditLog(cp.db.prisma).list({ targetKind: 'upgrade', targetId: upgradeId });
    const trail = [...entries].reverse();
    expect(trail.map((e) => [e.action, e.outcome, e.actorKind, e.actorName])).toEqual([
      ['upgrade.start', 'accepted', 'token', cp.operator.email],
      ['upgrade.rollback', 'refused', 'token', viewer.email],
      ['upgrade.retry', 'accepted', 'token', retrier.email],
      ['upgrade.rollback', 'accepted', 'operator', roller.email],
    ]);
    expect(trail[0]!.after).toEqual({ mode: 'release', imageTag: MISSING });
    expect(trail[1]!.reason).toMatch(/needs the operator role/);
    for (const e of trail) expect(e.clientAddress).toMatch(/127\.0\.0\.1/);
    const history = await cp.api('GET', `/api/instances/${instanceId}/upgrades`);
    expect(history.body.find((u: { id: string }) => u.id === upgradeId).actions.map((a: { action: string; by: string }) => `${a.action} by ${a.by}`)).toEqual([
      `start by ${cp.operator.email}`,
      `retry by ${retrier.email}`,
      `rollback by ${roller.email}`,
    ]);
    // For the record (the issue asks for it): the entries of this upgrade as NDJSON.
    const ndjson = trail.map((e) => JSON.stringify(e)).join('\n');
    console.log(`audit entries of Release Upgrade ${upgradeId} (parked, retried, rolled back):\n${ndjson}`);
    await mkdir(path.join(REPO_ROOT, 'artifacts'), { recursive: true });
    await writeFile(path.join(REPO_ROOT, 'artifacts', 'audit-release-park-retry-rollback.ndjson'), `${ndjson}\n`);
  });

  it('refuses a template manifest that tries to escape the tenant directory', async () => {
    const evil = await mkdtemp(path.join(os.tmpdir(), 'drydock-evil-'));
    await writeFile(
      path.join(evil, 'manifest.json'),
      JSON.stringify({ managed: [{ path: '../outside.txt', template: 'x.eta', kind: 'config' }] }),
    );
    await writeFile(path.join(evil, 'x.eta'), 'pwned\n');
    const planner = createPlanner(defaults, evil);
    const instance = { slug, name: 'x', composeProjectName: slug, isRegistered: false };
    await expect(renderRelease(planner, tenant.driver, instance, N1)).rejects.toThrow(/\.\.\/outside\.txt/);
    await expect(readFile(path.join(dir, '..', 'outside.txt'))).rejects.toThrow(/ENOENT/);
    await rm(evil, { recursive: true, force: true });
  });
});
