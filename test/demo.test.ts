/**
 * `npm run demo` against a real control plane (PostgreSQL, the Temporal dev
 * server, the worker) and the real Docker engine and loopback registry: the
 * script lays out the demo tenant, publishes its two releases and registers
 * it through the API; a Quick Upgrade of it then succeeds. Without a Docker
 * engine it says so, and how to get one, without a stack trace.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { DEMO_RELEASES, DEMO_TAGS } from '../scripts/demo.js';
import { composeDown } from './harness/release-tenant.js';
import { startTestControlPlane, uniqueName, waitForUpgradeEnd, type TestControlPlane } from './support.js';

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const DEMO = path.join(REPO_ROOT, 'scripts', 'demo.ts');

function runDemo(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TSX, [DEMO], { env: { ...process.env, ...env }, timeout: 600_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('npm run demo', () => {
  let cp: TestControlPlane;
  let work: string;
  let dir: string;
  let slug: string;

  beforeAll(async () => {
    slug = uniqueName('demo-');
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-demo-'));
    dir = path.join(work, slug);
    cp = await startTestControlPlane();
  });

  afterAll(async () => {
    if (dir) {
      await composeDown(slug, dir);
    }
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('lays out the demo tenant, publishes two releases, registers the instance, and a Quick Upgrade of it succeeds', { timeout: 900_000 }, async () => {
    const env = { DRYDOCK_URL: cp.url, DRYDOCK_TOKEN: cp.operator.token, DRYDOCK_DEMO_DIR: dir, DRYDOCK_DEMO_SLUG: slug };
    const out = await runDemo(env);
    expect(out.code, `${out.stdout}\n${out.stderr}`).toBe(0);
    expect(out.stdout).toContain(`instance ${slug} registered`);

    const releases = await cp.api('GET', '/api/releases');
    expect(releases.body.map((r: { version: string }) => r.version)).toEqual(expect.arrayContaining([DEMO_RELEASES.first, DEMO_RELEASES.second]));
    const diff = await cp.api('GET', `/api/releases/${DEMO_RELEASES.first}/diff/${DEMO_RELEASES.second}`);
    expect(diff.status).toBe(200);
    expect(diff.body.imageOnly).toBe(false);
    expect(diff.body.files.find((f: { path: string }) => f.path === 'app/conf.d/motd.txt')?.status).toBe('created');

    const instance = (await cp.api('GET', '/api/instances')).body.find((i: { slug: string }) => i.slug === slug);
    expect(instance).toMatchObject({ composeDir: dir, releaseVersion: DEMO_RELEASES.first, effectiveImageTag: DEMO_TAGS.first, coreServices: ['web', 'jobs', 'gateway'] });

    // The secret the demo made is the tenant's and sealed in drydock: never in the API's answers or the script's output.
    const secret = /^NOTES_SIGNING_TOKEN=(.+)$/m.exec(await readFile(path.join(dir, '.env'), 'utf8'))?.[1];
    expect(secret).toBeTruthy();
    const values = await cp.api('GET', `/api/instances/${instance.id}/values`);
    expect(values.body.secrets).toEqual({ signingToken: 'set' });
    expect(JSON.stringify(values.body) + JSON.stringify(instance) + out.stdout + out.stderr).not.toContain(secret!);

    const started = await cp.api('POST', `/api/instances/${instance.id}/upgrade-images`, { imageTag: DEMO_TAGS.quick });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const done = await waitForUpgradeEnd(cp, started.body.upgradeId, 300_000);
    expect(done.status, done.error ?? '').toBe('succeeded');

    // Run again: everything is there already, nothing breaks.
    const again = await runDemo(env);
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
    expect(again.stdout).toContain(`instance ${slug} exists already`);
  });

  it('without a Docker engine says so and how to get one, with no stack trace', async () => {
    const out = await runDemo({ DOCKER_HOST: 'unix:///nonexistent/docker.sock', DRYDOCK_URL: cp.url, DRYDOCK_TOKEN: cp.operator.token });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('no Docker engine is reachable');
    expect(out.stderr).toContain('scripts/infra.sh');
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });
});
