/**
 * Upgrade to Release end to end: a real tenant at release N on the Docker
 * engine, release N+1 templates that add a service, an nginx route, an env
 * variable and a file; preview, apply, preview again, and a stale plan.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderRelease } from '../activities/release-plan.js';
import type { RenderDefaults } from '../core/render.js';
import { createPlanner } from '../worker/planner.js';
import {
  checksums as treeChecksums,
  createReleaseTenant,
  pushReleaseImages,
  releaseDefaults,
  RELEASE_SERVICES,
  RELEASES as FIXTURES,
  type ReleaseTenant,
} from './harness/release-tenant.js';
import { recordHistory, startTestControlPlane, uniqueName, waitForUpgradeEnd, type TestControlPlane } from './support.js';

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
