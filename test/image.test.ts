/**
 * The deployable image: built here by scripts/build-image.sh (the base from
 * Debian's packages, since Docker Hub cannot be reached; cached, so a second
 * run only rebuilds what changed), then the API run from it with `docker run
 * --network host` against a fresh database on the test PostgreSQL and the
 * test Temporal dev server: healthy, not root, the built UI served, sign in,
 * create an instance, no secret in its log; a worker from the same image
 * polling. The preview the deployment runs: of a tenant served by a real
 * agent process on this host, which the API in the container reaches over
 * mutual TLS. The preview of a local tenant is refused with the reason: the
 * image has no Docker Compose (docs/DEPLOY-image.md, "Limits").
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT } from '../platform/temporal-server.js';
import { spawnAgentProcess, type AgentProcess } from './harness/agent-process.js';
import { callApi, createTestDatabase, uniqueName, waitFor } from './support.js';

const run = promisify(execFile);
const IMAGE = process.env.DRYDOCK_IMAGE ?? 'drydock:local';
/** The image's user (Dockerfile: USER 10001:10001). */
const IMAGE_UID = 10001;
const RESTARTS = 3;
/** Both tenants' compose file before the upgrade: one service on an older tag. */
const OLD_COMPOSE = 'services:\n  api:\n    image: registry.example.com/drydock/api:0.9.0\n';
const docker = async (...args: string[]) => (await run('docker', args, { maxBuffer: 32 << 20 })).stdout.trim();

describe('the drydock image, run against the test PostgreSQL and Temporal', () => {
  const email = 'admin@image.test';
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const secretKey = randomBytes(32).toString('base64');
  const tenantSecret = `tenant-secret-${randomBytes(6).toString('hex')}`;
  const apiSecret = `api-secret-${randomBytes(6).toString('hex')}`;
  const container = uniqueName('drydock-image-test-');
  const workerContainer = `${container}-worker`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let tenantDir: string;
  let agentTenantDir: string;
  let agent: AgentProcess | undefined;
  let url: string;

  async function signIn(): Promise<Record<string, string>> {
    const login = await callApi(`${url}/api/auth/login`, 'POST', { email, password }, {});
    expect(login.status).toBe(200);
    return { cookie: (login.headers.get('set-cookie') ?? '').split(';')[0]!, 'x-drydock-request': 'ui' };
  }

  beforeAll(async () => {
    // Builds (or, with everything cached, only checks) the image of this checkout.
    const started = Date.now();
    const built = await run('bash', [path.join(REPO_ROOT, 'scripts/build-image.sh')], {
      env: { ...process.env, DRYDOCK_IMAGE: IMAGE },
      timeout: 1_800_000,
      maxBuffer: 16 << 20,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`scripts/build-image.sh could not build ${IMAGE}:\n${err.stdout ?? ''}${err.stderr || err.message}`);
    });
    console.log(`${built.stdout.trim()} (${Math.round((Date.now() - started) / 1000)} s in this test)`);

    database = await createTestDatabase();
    // A tenant at an older state: a compose file of its own and a .env with a secret, owned by the image's user
    // (the preview takes the tenant lock, a file in the tenant's directory).
    tenantDir = await mkdtemp(path.join(os.tmpdir(), 'drydock-image-tenant-'));
    await writeFile(path.join(tenantDir, 'docker-compose.yml'), OLD_COMPOSE);
    await writeFile(path.join(tenantDir, '.env'), `POSTGRES_PASSWORD=${tenantSecret}\nAPI_SECRET=${apiSecret}\nLEGACY_ONLY=1\n`);
    for (const f of ['', 'docker-compose.yml', '.env']) await chown(path.join(tenantDir, f), IMAGE_UID, IMAGE_UID);
    // The same older state on a tenant host with an agent (this machine): nothing of it is mounted into the container.
    agentTenantDir = await mkdtemp(path.join(os.tmpdir(), 'drydock-image-agent-tenant-'));
    await writeFile(path.join(agentTenantDir, 'docker-compose.yml'), OLD_COMPOSE);
    await writeFile(path.join(agentTenantDir, '.env'), `POSTGRES_PASSWORD=${tenantSecret}\nAPI_SECRET=${apiSecret}\n`);

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await docker(
      // The image's own HEALTHCHECK timing (every 15 s): a tighter one spawns a node per check and, on a loaded
      // machine, slows the start it is waiting for.
      'run', '-d', '--name', container, '--network', 'host',
      // As a deployment would (compose: restart unless-stopped): a start that gives up, say because Temporal did
      // not answer within its 5 s on a machine at load 70, is tried again.
      '--restart', `on-failure:${RESTARTS}`,
      '-e', `DATABASE_URL=${database.url}`,
      '-e', `TEMPORAL_ADDRESS=${process.env.TEMPORAL_ADDRESS}`,
      '-e', `PORT=${port}`,
      '-e', 'HOST=127.0.0.1',
      '-e', `DRYDOCK_SECRET_KEY=${secretKey}`,
      '-e', `DRYDOCK_ADMIN_EMAIL=${email}`,
      '-e', `DRYDOCK_ADMIN_PASSWORD=${password}`,
      // Until `npm run api` runs the API alone, its in-process worker polls a queue of its own, not the other tests'.
      '-e', `DRYDOCK_TASK_QUEUE=${uniqueName('image-queue-')}`,
      '-v', `${tenantDir}:${tenantDir}`,
      IMAGE, 'api',
    );
    // Generous: the start compiles the TypeScript sources (tsx) and applies the migrations, and on this
    // shared two-core machine it took 3 minutes at load 50 (its own CPU time: about 10 s).
    const startedAt = Date.now();
    await waitFor('the API in the container to answer /healthz', async () => {
      const [state, restarts] = (await docker('inspect', '--format', '{{.State.Status}} {{.RestartCount}}', container)).split(' ');
      if ((state === 'exited' || state === 'dead') && Number(restarts) >= RESTARTS) throw new Error(`the container is ${state} after ${restarts} restarts`);
      return (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) || undefined;
    }, 600_000, 500).catch(async (err: Error) => {
      throw new Error(`${err.message}; its log so far:\n${await logsOf(container)}`);
    });
    console.log(`the API in the container answered /healthz ${Math.round((Date.now() - startedAt) / 1000)} s after docker run`);
  }, 2_400_000);

  afterAll(async () => {
    await agent?.stop();
    await run('docker', ['rm', '-f', container, workerContainer]).catch(() => {});
    await database?.drop();
    for (const dir of [tenantDir, agentTenantDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs as its own non-root user, Docker reports it healthy, and it serves the built web UI', async () => {
    expect(await docker('inspect', '--format', '{{.Config.User}}', container)).toBe(`${IMAGE_UID}:${IMAGE_UID}`);
    expect(await docker('exec', container, 'id', '-u')).toBe(String(IMAGE_UID));
    // The code is root's: the process cannot change what it runs.
    await expect(docker('exec', container, 'touch', '/app/api/main.ts')).rejects.toThrow(/Permission denied/);
    const health = await waitFor('the HEALTHCHECK to pass', async () => {
      const h = await docker('inspect', '--format', '{{.State.Health.Status}}', container);
      return h === 'healthy' ? h : undefined;
    }, 120_000, 1_000);
    expect(health).toBe('healthy');
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<div id="root">/);
    // `npm run build`'s output is in the image: the prebuilt workflow bundle and the one-file agent.
    expect(await docker('exec', container, 'ls', '/app/dist')).toMatch(/workflow-bundle\.js[\s\S]*agent\.mjs|agent\.mjs[\s\S]*workflow-bundle\.js/);
   }, 200_000);

  it('signs in and creates an instance; a preview of a local tenant is refused with the reason: the image has no Docker Compose', async () => {
    const session = await signIn();
    expect((await callApi(`${url}/api/auth/me`, 'GET', undefined, session)).body.operator.email).toBe(email);

    const slug = uniqueName('img-');
    const created = await callApi(`${url}/api/instances`, 'POST', { slug, name: 'From the image', composeDir: tenantDir, imageTag: '1.0.0' }, session);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await callApi(`${url}/api/instances/${created.body.id}`, 'GET', undefined, session)).body).toMatchObject({ slug, composeDir: tenantDir });

    // The local driver needs Docker Compose on the control plane's host, which the image does not ship
    // (docs/DEPLOY-image.md, "Limits"): a clear refusal. The next test previews through an agent, as deployed.
    const preview = await callApi(`${url}/api/instances/${created.body.id}/upgrade-release/preview`, 'POST', { imageTag: '1.1.0' }, session);
    expect(preview.status, JSON.stringify(preview.body)).toBe(400);
    expect(preview.body.error).toMatch(/Docker Compose is not installed on the control-plane host/);
    expect(JSON.stringify(preview.body)).not.toContain(tenantSecret);
    // Nothing written into the tenant.
    expect(await readFile(path.join(tenantDir, '.env'), 'utf8')).toBe(`POSTGRES_PASSWORD=${tenantSecret}\nAPI_SECRET=${apiSecret}\nLEGACY_ONLY=1\n`);
  });

  it('previews a release upgrade of a tenant served by a real agent on this host, reached from the container over mutual TLS', async () => {
    const session = await signIn();
    const slug = uniqueName('imgagent-');
    const invite = await callApi(`${url}/api/agents/invites`, 'POST', { slug, note: 'image test' }, session);
    expect(invite.status, JSON.stringify(invite.body)).toBe(201);
    const stateDir = path.join(agentTenantDir, '..', `${path.basename(agentTenantDir)}-agent-state`);
    agent = spawnAgentProcess([
      '--ccp-url', url,
      // The container's API serves plain HTTP on loopback here; the agent's own port is mutual TLS either way.
      '--insecure-http',
      '--invite-code', invite.body.code,
      '--slug', slug,
      '--dir', agentTenantDir,
      '--name', 'Agent tenant',
      '--listen', '127.0.0.1:0',
      '--state-dir', stateDir,
      '--ca-fingerprint', invite.body.caFingerprint256,
      '--poll-ms', '200',
      '--backoff-ms', '200,500,1000',
    ]);
    try {
      const registrationId = (await agent.waitForLine(/registered \(registration ([0-9a-f-]{36})\)/, 180_000))[1]!;
      const approved = await callApi(`${url}/api/agents/registrations/${registrationId}/approve`, 'POST', {}, session);
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
      expect(approved.body.instance).toMatchObject({ slug, isRemote: true, isRegistered: true });
      await agent.waitForLine(/approved; serving/, 180_000);

      const preview = await callApi(`${url}/api/instances/${approved.body.instance.id}/upgrade-release/preview`, 'POST', { imageTag: '1.1.0' }, session);
      expect(preview.status, JSON.stringify(preview.body)).toBe(200);
      const status = Object.fromEntries(preview.body.files.map((f: { path: string; status: string }) => [f.path, f.status]));
      // A registered tenant keeps its own .env, so it is not in the plan; the compose file the agent read is.
      expect(status).toMatchObject({ 'docker-compose.yml': 'modified', 'nginx/conf.d/default.conf': 'created' });
      expect(status['.env']).toBeUndefined();
      const compose = preview.body.files.find((f: { path: string }) => f.path === 'docker-compose.yml');
      expect(compose.diff).toContain('-    image: registry.example.com/drydock/api:0.9.0');
      expect(compose.diff).toMatch(/\+.*1\.1\.0/);
      expect(preview.body.planHash).toMatch(/^[0-9a-f]{64}$/);
      console.log(`a preview from the image, through the agent of ${slug}: ${JSON.stringify({ files: status, planHash: preview.body.planHash })}`);
      expect(JSON.stringify(preview.body)).not.toContain(tenantSecret);
      // A preview writes nothing on the tenant host.
      expect(await readFile(path.join(agentTenantDir, 'docker-compose.yml'), 'utf8')).toBe(OLD_COMPOSE);
      expect(agent.lines.join('\n')).not.toContain(tenantSecret);
    } finally {
      await agent.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 600_000);

  it('runs a worker from the same image that polls its task queue on Temporal', async () => {
    const queue = uniqueName('image-worker-queue-');
    await docker(
      // A worker serves no HTTP: its check is off, as in docker-compose.prod.yml.
      'run', '-d', '--name', workerContainer, '--network', 'host', '--restart', `on-failure:${RESTARTS}`, '--no-healthcheck',
      '-e', `DATABASE_URL=${database.url}`,
      '-e', `TEMPORAL_ADDRESS=${process.env.TEMPORAL_ADDRESS}`,
      '-e', `DRYDOCK_SECRET_KEY=${secretKey}`,
      '-e', `DRYDOCK_TASK_QUEUE=${queue}`,
      IMAGE, 'worker',
    );
    const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
    try {
      const pollers = await waitFor('a poller on the worker container\'s task queue', async () => {
        const { pollers } = await connection.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        });
        return pollers?.length ? pollers : undefined;
      }, 600_000, 1_000).catch(async (err: Error) => {
        throw new Error(`${err.message}; its log so far:\n${await logsOf(workerContainer)}`);
      });
      expect(pollers.length).toBeGreaterThan(0);
      expect(await logsOf(workerContainer)).toContain(`worker polling ${process.env.TEMPORAL_ADDRESS} (task queue ${queue})`);
      expect(await docker('inspect', '--format', '{{.Config.User}}', workerContainer)).toBe(`${IMAGE_UID}:${IMAGE_UID}`);
    } finally {
      await connection.close();
    }
  }, 900_000);

  it('writes neither the password, the secret key nor the tenant secret to its log', async () => {
    const logs = await logsOf(container);
    expect(logs).toMatch(/drydock: http:\/\/127\.0\.0\.1:\d+\//);
    for (const secret of [password, secretKey, tenantSecret, apiSecret]) expect(logs).not.toContain(secret);
    expect(await logsOf(workerContainer)).not.toContain(secretKey);
  });
});

async function logsOf(container: string): Promise<string> {
  const { stdout, stderr } = await run('docker', ['logs', container], { maxBuffer: 32 << 20 }).catch((e) => ({ stdout: '', stderr: String(e) }));
  return stdout + stderr;
}
