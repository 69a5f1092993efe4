/**
 * The second bundle (examples/notes: web, jobs and gateway, no postgres or
 * redis, a secret of its own, a nested config file) through every path on a
 * real Docker Compose tenant: Quick Upgrade to an image-only release, Upgrade
 * to Release to a release with a new value and file, Upgrade Now after a
 * change of values; after each, a plain `docker-compose up -d` in the tenant
 * directory keeps the upgraded images. Then a registered tenant of the same
 * bundle through a real agent process. The secret is looked for in every
 * answer and, in plain text, in the workflow histories (inputs carry the
 * release version only). The snapshot step still records the tenant's
 * `.env` bytes, base64-encoded, for a rollback: taking file bytes out of the
 * history is issue 13's.
 */
import type { Payload } from '@temporalio/common';
import { KeyringCodec } from '../worker/data-converter.js';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantDriver, detectComposeVariant } from '../tenant/tenant.js';
import type { ComposeVariant } from '../core/compose.js';
import type { ExecutionDriver } from '../core/driver.js';
import { renderBundle } from '../core/release-render.js';
import type { RenderDefaults } from '../core/render.js';
import { loadBundleDir } from '../templates/load.js';
import { createPlanner } from '../worker/planner.js';
import { spawnAgentProcess, type AgentProcess } from './harness/agent-process.js';
import { buildAndPushImage } from './harness/images.js';
import { releaseDefaultsForPrefix } from './harness/release-tenant.js';
import { startTestControlPlane, uniqueName, waitForUpgradeEnd, type TestControlPlane } from './support.js';

const run = promisify(execFile);
const EXAMPLES = path.join(import.meta.dirname, '..', 'examples', 'notes');
const SERVICES = ['web', 'jobs', 'gateway'];
const TAGS = ['1.0.0', '1.0.1', '1.1.0'];
const TOKEN = 'notes-token-Kx93-secret';
const REMOTE_TOKEN = 'remote-token-Pq27-secret';

/** Every string in a workflow history, payloads decoded. */
async function historyText(cp: TestControlPlane, workflowId: string, runId: string): Promise<string> {
  const history = await cp.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  const parts: string[] = [];
  const payloads: Payload[] = [];
  const walk = (v: unknown) => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      if ('data' in v && 'metadata' in v && (v as Payload).data instanceof Uint8Array) payloads.push(v as Payload);
      Object.values(v).forEach(walk);
    }
  };
  walk(history);
  // Payloads are encrypted in Temporal: read them as an operator would, through the codec.
  for (const p of await new KeyringCodec(cp.keyring).decode(payloads)) if (p.data) parts.push(Buffer.from(p.data).toString('utf8'));
  return parts.join('\n');
}

describe('the notes bundle through every path on a real Docker Compose tenant', () => {
  let cp: TestControlPlane;
  let defaults: RenderDefaults;
  let work: string;
  let dir: string;
  let slug: string;
  let id: string;
  let variant: ComposeVariant;
  let driver: ExecutionDriver;
  const ids: Record<string, Record<string, string>> = {};

  const composeArgs = () => (variant === 'v2' ? ['docker', ['compose']] : ['docker-compose', []]) as [string, string[]];
  /** What a person on the tenant host runs: no IMAGE_TAG, nothing from the control plane. */
  async function plainUp(project: string, cwd: string) {
    const [file, head] = composeArgs();
    await run(file, [...head, '-p', project, 'up', '-d'], { cwd, env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir() } });
  }
  async function imagesRunning(d: ExecutionDriver) {
    return Object.fromEntries((await d.containerStates(SERVICES)).map((s) => [s.service, s.imageId]));
  }
  const expectOn = async (d: ExecutionDriver, tag: string) => {
    for (const [svc, imageId] of Object.entries(await imagesRunning(d))) expect(imageId, `${svc} on ${tag}`).toBe(ids[tag]![svc]);
  };
  async function expectNoSecretIn(upgrade: { workflowId: string; runId: string; upgradeId: string; release?: string }, secret: string) {
    const text = await historyText(cp, upgrade.workflowId, upgrade.runId);
    // Decoded through the codec: the release the input names is there, as a reference.
    expect(text).toContain(`"releaseVersion":"${upgrade.release}"`);
    expect(text).not.toContain(secret);
    expect(JSON.stringify((await cp.api('GET', `/api/upgrades/${upgrade.upgradeId}`)).body)).not.toContain(secret);
  }

  beforeAll(async () => {
    slug = uniqueName('notes');
    defaults = releaseDefaultsForPrefix(`drydock-${slug}`);
    for (const tag of TAGS) {
      ids[tag] = {};
      for (const svc of SERVICES) ids[tag]![svc] = (await buildAndPushImage(`${defaults.registry}/${defaults.imagePrefix}/${svc}:${tag}`, `${svc} ${tag} ${slug}`)).id;
    }
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-notes-'));
    cp = await startTestControlPlane({ releasesDir: EXAMPLES, planner: createPlanner(defaults, path.join(EXAMPLES, '1.0.0')), caDir: path.join(work, 'ca'), verifyDeadlineMs: 60_000 });
    variant = await detectComposeVariant();

    // The tenant as notes-1.0.0 left it, with content of its own.
    dir = path.join(work, 'tenant');
    await mkdir(path.join(dir, 'mkdocs'), { recursive: true });
    await writeFile(path.join(dir, 'mkdocs', 'index.md'), '# Our notes\n');
    const created = await cp.api('POST', '/api/instances', {
      slug, name: 'Notes tenant', composeDir: dir, release: 'notes-1.0.0', values: { title: 'Acme notes' }, secrets: { signingToken: TOKEN },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    id = created.body.id;
    driver = createTenantDriver({ compose: variant }, { projectName: slug, dir });
    const bundle = await loadBundleDir(path.join(EXAMPLES, '1.0.0'));
    const { rendered } = renderBundle(bundle, { slug, name: 'Notes tenant', imageTag: null, composeProjectName: slug }, defaults, {
      values: { title: 'Acme notes' }, secrets: { signingToken: TOKEN },
    });
    await driver.writeFiles(rendered.map((f) => f.path), rendered);
    await driver.upAll({ IMAGE_TAG: '1.0.0' });
  });

  afterAll(async () => {
    const [file, head] = composeArgs();
    if (dir) await run(file, [...head, '-p', slug, 'down', '-v'], { cwd: dir }).catch(() => {});
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('Quick Upgrade to the image-only release notes-1.0.1 recreates the core services, and a plain up -d keeps them', async () => {
    const diff = await cp.api('GET', '/api/releases/notes-1.0.0/diff/notes-1.0.1');
    expect(diff.body.imageOnly).toBe(true);
    const started = await cp.api('POST', `/api/instances/${id}/upgrade-images`, { release: 'notes-1.0.1' });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ imageTag: '1.0.1', release: 'notes-1.0.1' });
    const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(end.error).toBeNull();
    expect(end.steps.map((s: { name: string }) => s.name)).toEqual(['preflight', 'snapshot-content', 'pull', 'recreate', 'verify', 'check-content', 'persist-image-tag']);
    await expectOn(driver, '1.0.1');
    expect((await cp.api('GET', `/api/instances/${id}`)).body).toMatchObject({ imageTag: '1.0.1', releaseVersion: 'notes-1.0.1' });
    // The tenant's .env still says IMAGE_TAG=1.0.0: without the pin this would revert.
    expect(await readFile(path.join(dir, '.env'), 'utf8')).toContain('IMAGE_TAG=1.0.0');
    expect(await readFile(path.join(dir, 'docker-compose.override.yml'), 'utf8')).toContain(`image: ${defaults.registry}/${defaults.imagePrefix}/web:1.0.1`);
    await plainUp(slug, dir);
    await expectOn(driver, '1.0.1');
    // The pin is what holds: without it the same plain up goes back to the .env's tag.
    const pinPath = path.join(dir, 'docker-compose.override.yml');
    const pin = await readFile(pinPath, 'utf8');
    await rm(pinPath);
    await plainUp(slug, dir);
    await expectOn(driver, '1.0.0');
    await writeFile(pinPath, pin);
    await plainUp(slug, dir);
    await expectOn(driver, '1.0.1');
    await expectNoSecretIn(started.body, TOKEN);
  });

  it('Upgrade to Release notes-1.1.0: previews the new value and file, applies the plan, and a plain up -d keeps 1.1.0', async () => {
    const preview = await cp.api('POST', `/api/instances/${id}/upgrade-release/preview`, { release: 'notes-1.1.0' });
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(preview.body).toMatchObject({ imageTag: '1.1.0', release: { name: 'notes', version: 'notes-1.1.0' } });
    expect(Object.fromEntries(preview.body.files.map((f: { path: string; status: string }) => [f.path, f.status]))).toEqual({
      'docker-compose.yml': 'modified', '.env': 'modified', 'app/conf.d/notes.ini': 'modified', 'app/conf.d/motd.txt': 'created',
    });
    expect(preview.body.envCoverage.missingInTenantEnv).toEqual([]);
    expect(JSON.stringify(preview.body)).not.toContain(TOKEN);

    const started = await cp.api('POST', `/api/instances/${id}/upgrade-release`, { release: 'notes-1.1.0', planHash: preview.body.planHash });
    expect(started.status).toBe(202);
    const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(end.error).toBeNull();
    expect(end.steps.map((s: { name: string }) => s.name)).toEqual(['plan', 'snapshot', 'persist-image-tag', 'write', 'pull', 'up', 'verify']);
    await expectOn(driver, '1.1.0');
    expect(await readFile(path.join(dir, 'app/conf.d/notes.ini'), 'utf8')).toContain('title = Acme notes');
    expect(await readFile(path.join(dir, 'app/conf.d/motd.txt'), 'utf8')).toBe('Welcome to notes.\n');
    expect(await readFile(path.join(dir, 'mkdocs/index.md'), 'utf8')).toBe('# Our notes\n');
    expect((await cp.api('GET', `/api/instances/${id}`)).body).toMatchObject({ imageTag: '1.1.0', releaseVersion: 'notes-1.1.0' });
    await plainUp(slug, dir);
    await expectOn(driver, '1.1.0');
    await expectNoSecretIn(started.body, TOKEN);
  });

  it('Upgrade Now after new values re-renders the nested config and probes the release’s own front door', async () => {
    const put = await cp.api('PUT', `/api/instances/${id}/values`, { values: { title: 'Renamed notes', workers: 4, motd: 'Hello' } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const started = await cp.api('POST', `/api/instances/${id}/upgrade`, { release: 'notes-1.1.0' });
    expect(started.status).toBe(202);
    const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(end.error).toBeNull();
    expect(end.steps.map((s: { name: string }) => s.name)).toEqual(['preflight', 'snapshot', 'render', 'write', 'pull', 'up', 'verify', 'probe-front-door', 'persist-release']);
    const ini = await readFile(path.join(dir, 'app/conf.d/notes.ini'), 'utf8');
    expect(ini).toContain('title = Renamed notes');
    expect(ini).toContain('workers = 4');
    expect(await readFile(path.join(dir, 'app/conf.d/motd.txt'), 'utf8')).toBe('Hello\n');
    await expectOn(driver, '1.1.0');
    await plainUp(slug, dir);
    await expectOn(driver, '1.1.0');
    await expectNoSecretIn(started.body, TOKEN);
  });

  describe('a registered tenant of the notes bundle through a real agent', () => {
    let agent: AgentProcess;
    let rdir: string;
    let rslug: string;
    let rdriver: ExecutionDriver;
    let rid: string;

    beforeAll(async () => {
      rslug = uniqueName('rnotes');
      rdir = path.join(work, 'remote-tenant');
      await mkdir(rdir, { recursive: true });
      // Its own .env, which drydock never writes: the secret and an old tag.
      await writeFile(path.join(rdir, '.env'), `NOTES_SIGNING_TOKEN=${REMOTE_TOKEN}\nIMAGE_TAG=1.0.0\n`);
      rdriver = createTenantDriver({ compose: variant }, { projectName: rslug, dir: rdir });
      const bundle = await loadBundleDir(path.join(EXAMPLES, '1.0.0'));
      const { rendered } = renderBundle(bundle, { slug: rslug, name: 'Remote notes', imageTag: null, composeProjectName: rslug }, defaults, { values: {}, secrets: null });
      await rdriver.writeFiles(rendered.map((f) => f.path), rendered);
      await rdriver.upAll({});
      const invite = await cp.api('POST', '/api/agents/invites', { expiresInMinutes: 30, slug: rslug });
      agent = spawnAgentProcess([
        '--ccp-url', cp.url, '--insecure-http', '--invite-code', invite.body.code, '--slug', rslug, '--dir', rdir, '--name', 'Remote notes',
        '--listen', '127.0.0.1:0', '--state-dir', path.join(work, 'agent-state'), '--ca-fingerprint', invite.body.caFingerprint256,
        '--poll-ms', '100', '--backoff-ms', '100,200,400,1000',
        '--managed', 'docker-compose.yml,docker-compose.override.yml,.env,app/',
      ]);
      const registrationId = (await agent.waitForLine(/registered \(registration ([0-9a-f-]{36})\)/))[1]!;
      const approved = await cp.api('POST', `/api/agents/registrations/${registrationId}/approve`, { coreServices: SERVICES });
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
      rid = approved.body.instance.id;
      await agent.waitForLine(/approved; serving/);
    });

    afterAll(async () => {
      await agent?.stop();
      const [file, head] = composeArgs();
      if (rdir) await run(file, [...head, '-p', rslug, 'down', '-v'], { cwd: rdir }).catch(() => {});
    });

    it('Quick Upgrade and Upgrade to Release run through the agent, the .env stays the tenant’s, and a plain up -d keeps the new images', async () => {
      const envBefore = await readFile(path.join(rdir, '.env'), 'utf8');
      const quick = await cp.api('POST', `/api/instances/${rid}/upgrade-images`, { release: 'notes-1.0.1' });
      expect(quick.status).toBe(202);
      const q = await waitForUpgradeEnd(cp, quick.body.upgradeId);
      expect(q.error).toBeNull();
      await expectOn(rdriver, '1.0.1');
      await plainUp(rslug, rdir);
      await expectOn(rdriver, '1.0.1');

      // Env coverage tells what the tenant's own .env lacks.
      await writeFile(path.join(rdir, '.env'), 'IMAGE_TAG=1.0.1\n');
      const lacking = await cp.api('POST', `/api/instances/${rid}/upgrade-release/preview`, { release: 'notes-1.1.0' });
      expect(lacking.body.envCoverage.missingInTenantEnv).toEqual(['NOTES_SIGNING_TOKEN']);
      await writeFile(path.join(rdir, '.env'), envBefore);

      const preview = await cp.api('POST', `/api/instances/${rid}/upgrade-release/preview`, { release: 'notes-1.1.0' });
      expect(preview.status, JSON.stringify(preview.body)).toBe(200);
      // A registered tenant keeps its own .env: not rendered, and its coverage is told.
      expect(preview.body.files.map((f: { path: string }) => f.path)).toEqual(['docker-compose.yml', 'app/conf.d/notes.ini', 'app/conf.d/motd.txt']);
      expect(preview.body.envCoverage.missingInTenantEnv).toEqual([]);
      const started = await cp.api('POST', `/api/instances/${rid}/upgrade-release`, { release: 'notes-1.1.0', planHash: preview.body.planHash });
      const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
      expect(end.error).toBeNull();
      await expectOn(rdriver, '1.1.0');
      expect(await readFile(path.join(rdir, '.env'), 'utf8')).toBe(envBefore);
      await plainUp(rslug, rdir);
      await expectOn(rdriver, '1.1.0');
      await expectNoSecretIn(started.body, REMOTE_TOKEN);
      expect(agent.lines.join('\n')).not.toContain(REMOTE_TOKEN);
    });
  });
});
