/**
 * Upgrade Now and recovery on a real tenant: park at pull and retry once the
 * image exists, roll back after a failed verify, cancel a pull that hangs,
 * and find finished upgrades by search attribute with the Temporal CLI.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleasePlanner } from '../core/release-plan.js';
import type { ExecutionDriver } from '../core/driver.js';
import type { RenderDefaults } from '../core/render.js';
import { loadTemplateSet } from '../templates/load.js';
import { findTemporalCli } from '../platform/temporal-server.js';
import { buildAndPushImage } from './harness/images.js';
import {
  checksums as treeChecksums,
  createReleaseTenant,
  pushReleaseImages,
  releaseDefaults,
  RELEASE_SERVICES as SERVICES,
  RELEASES as FIXTURES,
  type ReleaseTenant,
} from './harness/release-tenant.js';
import {
  recordHistory,
  startTestControlPlane,
  uniqueName,
  waitFor,
  waitForUpgradeEnd,
  waitForUpgradeEndAfterRetry,
  waitForUpgradeStatus,
  type TestControlPlane,
} from './support.js';

const run = promisify(execFile);
const MANAGED = ['docker-compose.yml', '.env', 'nginx/conf.d/default.conf', 'drydock/search.conf'];

/** A registry address that accepts connections and never answers: a pull that hangs. */
async function stallingRegistry() {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => sockets.add(s.on('error', () => {})));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

const checksums = (dir: string, paths: string[]) => treeChecksums(dir, paths);

describe('Upgrade Now and recovery on a real Docker Compose tenant', () => {
  let cp: TestControlPlane;
  let tenant: ReleaseTenant;
  let dir: string;
  let slug: string;
  let driver: ExecutionDriver;
  let instanceId: string;
  let defaults: RenderDefaults;
  let prefix: string;
  let templatesDir = path.join(FIXTURES, 'n1');
  let images: Record<string, Record<string, string>>;
  const push = async (svc: string, tag: string) => {
    images[tag]![svc] = (await buildAndPushImage(`${defaults.registry}/${prefix}/${svc}:${tag}`, `${svc} ${tag} ${prefix}`)).id;
  };

  beforeAll(async () => {
    slug = uniqueName('full');
    defaults = releaseDefaults(slug);
    prefix = defaults.imagePrefix;
    const core = ['api', 'admin', 'media-api', 'nginx'];
    // search:1.1.0 is pushed by the first test, after the upgrade has parked for want of it.
    images = await pushReleaseImages(defaults, { '1.0.0': core, '1.1.0': core, '1.2.0': SERVICES });

    // Templates and defaults are read on every plan, so the test can switch releases and registries.
    const planner: ReleasePlanner = { get defaults() { return defaults; }, templates: () => loadTemplateSet(templatesDir) };
    cp = await startTestControlPlane({ planner, frontDoor: { service: 'nginx', port: 8080, path: '/' }, verifyDeadlineMs: 4_000 });
    tenant = await createReleaseTenant({ slug, defaults, release: 'n', imageTag: '1.0.0' });
    ({ dir, driver } = tenant);

    const created = await cp.api('POST', '/api/instances', { slug, name: 'Full upgrade tenant', composeDir: dir, imageTag: '1.0.0' });
    expect(created.status).toBe(201);
    instanceId = created.body.id;
  });

  afterAll(async () => {
    await tenant?.down();
    await cp?.stop();
  });

  it('parks at pull when an image is missing, and retry completes it once the image is pushed', async () => {
    expect((await cp.api('PATCH', `/api/instances/${instanceId}`, { imageTag: '1.1.0' })).body.imageTag).toBe('1.1.0');
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade`, { reason: 'release 1.1.0' });
    expect(started.status).toBe(202);

    const parked = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(parked.status).toBe('needs-attention');
    expect(parked.currentStep).toBe('pull');
    expect(parked.error).toContain(`${prefix}/search:1.1.0`);
    const again = await cp.api('POST', `/api/instances/${instanceId}/upgrade`, {});
    expect(again.status).toBe(409);

    await push('search', '1.1.0');
    const retried = await cp.api('POST', `/api/upgrades/${started.body.upgradeId}/retry`);
    expect(retried.status).toBe(202);
    const end = await waitForUpgradeEndAfterRetry(cp, parked);
    expect(end.error).toBeNull();
    expect(end.status).toBe('succeeded');
    expect(end.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'preflight:succeeded', 'snapshot:succeeded', 'render:succeeded', 'write:succeeded',
      'pull:failed', 'pull:succeeded', 'up:succeeded', 'verify:succeeded', 'probe-front-door:succeeded',
    ]);
    for (const s of await driver.containerStates(SERVICES)) expect(s.imageId, s.service).toBe(images['1.1.0']![s.service]);
    await recordHistory(cp, started.body.workflowId, started.body.runId, 'full-upgrade-park-retry');

    const late = await cp.api('POST', `/api/upgrades/${started.body.upgradeId}/retry`);
    expect(late.status).toBe(409);
    expect(late.body.error).toMatch(/has ended/);
  });

  it('finds the finished upgrade by its search attributes with the Temporal CLI', async () => {
    const cli = await findTemporalCli();
    const query = `InstanceSlug='${slug}' AND UpgradeMode='full' AND ImageTag='1.1.0' AND UpgradeStatus='succeeded'`;
    const found = await waitFor('the visibility store to index the upgrade', async () => {
      const { stdout } = await run(cli, ['workflow', 'list', '--address', cp.temporalAddress, '--query', query, '--output', 'json']);
      const rows = stdout.trim() ? JSON.parse(stdout) : [];
      return rows.length > 0 ? rows : undefined;
    }, 20_000, 500);
    expect(found[0].execution.workflowId).toBe(`upgrade-${slug}`);
  });

  it('rolls back after a failed verify: managed files and .env byte for byte, the tag, and the previous images', async () => {
    const before = await checksums(dir, MANAGED);
    templatesDir = path.join(FIXTURES, 'n2');
    await cp.api('PATCH', `/api/instances/${instanceId}`, { imageTag: '1.2.0' });
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade`, {});
    const parked = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(parked.status).toBe('needs-attention');
    expect(parked.currentStep).toBe('verify');
    expect(parked.error).toMatch(/api: running \(unhealthy|starting\)/);
    expect(await checksums(dir, MANAGED)).not.toEqual(before);

    expect((await cp.api('POST', `/api/upgrades/${started.body.upgradeId}/rollback`)).status).toBe(202);
    const end = await waitForUpgradeStatus(cp, started.body.upgradeId, ['rolled-back', 'failed']);
    expect(end.status).toBe('rolled-back');
    expect(await checksums(dir, MANAGED)).toEqual(before);
    // The tag as it was when this upgrade started (set to 1.2.0 just before it); the images as they ran.
    expect((await cp.api('GET', `/api/instances/${instanceId}`)).body.imageTag).toBe('1.2.0');
    for (const s of await driver.containerStates(SERVICES)) {
      expect(s.imageId, s.service).toBe(images['1.1.0']![s.service]);
      expect(s.state, s.service).toBe('running');
    }
    await recordHistory(cp, started.body.workflowId, started.body.runId, 'full-upgrade-rollback');
    templatesDir = path.join(FIXTURES, 'n1');
  });

  it('rolls back by itself when verify fails and the request asked for it, and records so', async () => {
    const before = await checksums(dir, MANAGED);
    templatesDir = path.join(FIXTURES, 'n2');
    try {
      const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade`, { autoRollback: true, reason: 'auto' });
      const end = await waitForUpgradeStatus(cp, started.body.upgradeId, ['rolled-back', 'failed', 'needs-attention']);
      expect(end.status).toBe('rolled-back');
      expect(end.error).toMatch(/verify failed, rolled back automatically/);
      expect(end.steps.map((s: { name: string }) => s.name)).toContain('rollback-verify');
      expect(await checksums(dir, MANAGED)).toEqual(before);
      } finally {
      templatesDir = path.join(FIXTURES, 'n1');
    }
  });

  it('cancels a pull that hangs, leaving no compose process behind', async () => {
    const stall = await stallingRegistry();
    const saved = defaults;
    defaults = { ...defaults, registry: stall.address };
    try {
      const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade`, {});
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      // Stops waiting as soon as the upgrade is at pull, or has parked or ended before it (then says where).
      let last: unknown;
      const underway = await waitFor('the pull to be under way', async () => {
        const { body } = await cp.api('GET', `/api/upgrades/${started.body.upgradeId}`);
        last = body;
        return (body.currentStep === 'pull' && body.status === 'running') || !['queued', 'running'].includes(body.status) ? body : undefined;
      }).catch((err: Error) => {
        throw new Error(`${err.message}; the upgrade was last ${JSON.stringify(last)}`);
      });
      expect(underway, JSON.stringify(underway)).toMatchObject({ currentStep: 'pull', status: 'running' });
      await new Promise((r) => setTimeout(r, 1_500));
      const composeRunning = async () =>
        (await run('pgrep', ['-f', '--', `--project-name ${slug} pull`]).then((r) => r.stdout.trim(), () => '')) !== '';
      expect(await composeRunning()).toBe(true);

      expect((await cp.api('POST', `/api/upgrades/${started.body.upgradeId}/cancel`)).status).toBe(202);
      const end = await waitForUpgradeStatus(cp, started.body.upgradeId, ['cancelled'], 30_000);
      expect(end.error).toMatch(/cancelled/);
      expect(end.steps.find((s: { name: string }) => s.name === 'pull').status).toBe('failed');
      expect(await composeRunning()).toBe(false);
      await recordHistory(cp, started.body.workflowId, started.body.runId, 'full-upgrade-cancel');
    } finally {
      defaults = saved;
      await stall.close();
    }
  });
});
