/**
 * The Docker engine stopped while a Quick Upgrade pulls: a clear failure
 * naming the engine, the upgrade parked, and Retry completing it once the
 * engine is back. The tenant runs on a Docker engine of this test's own (a
 * second dockerd with its own data root and socket), driven by `npm run
 * worker` with DOCKER_HOST pointing at it; its images come through a
 * throttled proxy of the loopback registry, so the pull is still running
 * when the engine goes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_PULL } from '../../workflows/policies.js';
import { buildAndPushImage, registryAddress } from '../harness/images.js';
import { startTestControlPlane, uniqueName, waitFor, waitForUpgradeEndAfterRetry, waitForUpgradeStatus, type TestControlPlane } from '../support.js';
import { composeDown, slowRegistryProxy, startThrowawayDocker, startWorker, waitForStep, type Proc, type ThrowawayDocker } from './support.js';

const run = promisify(execFile);
const CORE = ['api', 'admin', 'media-api', 'nginx'];

const COMPOSE = `version: '2.4'
services:
${CORE.map((s) => `  ${s}:\n    image: \${APP_IMAGE}:\${IMAGE_TAG}\n    command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]\n    init: true\n`).join('')}`;

describe('the Docker engine stopped during a pull', () => {
  let engine: ThrowawayDocker;
  let proxy: Awaited<ReturnType<typeof slowRegistryProxy>>;
  let cp: TestControlPlane;
  let worker: Proc;
  let work: string;
  let project: string;
  let instanceId: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const repo = `drydock/${uniqueName('engine-app')}`;
    for (const tag of ['1.0.0', '1.1.0']) ids[tag] = (await buildAndPushImage(`${registryAddress()}/${repo}:${tag}`, `engine ${tag} ${repo}`)).id;
    [engine, proxy] = await Promise.all([startThrowawayDocker(), slowRegistryProxy(48 * 1024)]);
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-engine-'));
    project = uniqueName('eng');
    await writeFile(path.join(work, 'docker-compose.yml'), COMPOSE);
    await writeFile(path.join(work, '.env'), `APP_IMAGE=${proxy.address}/${repo}\nIMAGE_TAG=1.0.0\n`);
    await run('docker-compose', ['-p', project, 'up', '-d'], { cwd: work, env: { ...process.env, DOCKER_HOST: engine.host } });

    cp = await startTestControlPlane({ runWorker: false });
    worker = await startWorker({ databaseUrl: cp.db.url, temporalAddress: cp.temporalAddress, taskQueue: cp.taskQueue, caDir: path.join(work, '.ca'), dockerHost: engine.host });
    const created = await cp.api('POST', '/api/instances', { slug: project, name: 'Engine fault', composeDir: work, imageTag: '1.0.0' });
    expect(created.status).toBe(201);
    instanceId = created.body.id;
  });

  afterAll(async () => {
    await worker?.kill('SIGKILL');
    if (engine) {
      await engine.start().catch(() => {});
      await composeDown(project, work, { DOCKER_HOST: engine.host });
      await engine.close();
    }
    await proxy?.close();
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('parks with a failure naming the engine, and Retry completes the upgrade once the engine is back', async () => {
    proxy.setSlow(true);
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, { imageTag: '1.1.0' });
    expect(started.status).toBe(202);
    const { upgradeId } = started.body;
    await waitForStep(cp, upgradeId, 'pull');
    // Bytes of the new image are flowing: the pull is under way.
    const before = proxy.bytes;
    await waitFor('the pull to download', async () => (proxy.bytes - before > 64 * 1024 ? true : undefined), 60_000, 100);
    const t0 = Date.now();
    await engine.stop();
    const stoppedAfter = proxy.bytes - before;

    const parked = await waitForUpgradeStatus(cp, upgradeId, ['needs-attention', 'failed', 'succeeded'], 300_000);
    const parkedAfter = (Date.now() - t0) / 1000;
    console.log(
      `[fault] dockerd stopped ${(stoppedAfter / 1024).toFixed(0)} KiB into a pull: upgrade ${parked.status} at ${parked.currentStep} after ${parkedAfter.toFixed(1)} s ` +
        `(${IMAGE_PULL.retry?.maximumAttempts} attempts): ${JSON.stringify(parked.error)}`,
    );
    expect(parked.status).toBe('needs-attention');
    expect(parked.currentStep).toBe('pull');
    expect(parked.error).toMatch(/the Docker engine is unreachable/);

    await engine.start();
    proxy.setSlow(false);
    const retried = await cp.api('POST', `/api/upgrades/${upgradeId}/retry`);
    expect(retried.status).toBe(202);
    const end = await waitForUpgradeEndAfterRetry(cp, parked, 300_000);
    console.log(`[fault] … dockerd started again and an operator retried: upgrade ${end.status} ${((Date.now() - t0) / 1000).toFixed(1)} s after the engine stopped`);
    expect(end.status).toBe('succeeded');
    expect(end.steps.filter((s: { name: string }) => s.name === 'pull').map((s: { status: string }) => s.status)).toEqual(['failed', 'succeeded']);
    for (const s of CORE) {
      const [c] = await engine.docker.listContainers({ filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${s}`] } });
      expect(c?.State, s).toBe('running');
      expect(c?.ImageID, s).toBe(ids['1.1.0']);
    }
  });
});
