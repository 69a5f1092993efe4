/**
 * GET /metrics scraped during real upgrades and a real rollout: the real
 * control plane (API and worker in one process, as `npm start` runs them), a
 * real Temporal dev server, real PostgreSQL and a real Docker Compose tenant
 * with its images in the loopback registry.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC } from '../platform/metrics.js';
import { buildAndPushImage, registryAddress } from './harness/images.js';
import { createTenant, type Tenant } from './harness/tenant.js';
import { secretHits } from './secret-scan.js';
import { freePort } from '../platform/temporal-server.js';
import { spawnProcess, type Proc } from './faults/support.js';
import {
  callApi,
  createTestDatabase,
  startControlPlaneOn,
  startTestControlPlane,
  uniqueName,
  waitFor,
  waitForUpgradeEnd,
  waitForUpgradeStatus,
  type TestControlPlane,
} from './support.js';
import { TEST_ONLY_SECRET_KEY } from './test-key.js';

/** A real upgrade takes seconds here, minutes on a machine shared by many test runs. */
const REAL_UPGRADE_MS = 300_000;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format: `name{a="b",…} value`; `# TYPE name kind` names each family. */
function parse(text: string): { samples: Sample[]; families: Set<string> } {
  const samples: Sample[] = [];
  const families = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) families.add(type[1]!);
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, families };
}

/** The sum of the samples of `name` whose labels include `labels`. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

describe('GET /metrics during real upgrades of a Docker Compose tenant', () => {
  const token = randomBytes(24).toString('hex');
  const envSecret = `metrics-env-secret-${randomBytes(6).toString('hex')}`;
  let cp: TestControlPlane;
  let tenant: Tenant;
  let instanceId: string;
  let appRepo: string;
  let tag: string;
  const seen: string[] = [];

  const scrapeAt = async (base: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }) => {
    const res = await fetch(`${base}/metrics`, { headers });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };
  const scrape = async () => {
    const res = await scrapeAt(cp.url);
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    seen.push(res.text);
    return parse(res.text).samples;
  };

  beforeAll(async () => {
    appRepo = `${registryAddress()}/drydock/metrics-app`;
    tag = uniqueName('t');
    const infraImage = `${registryAddress()}/drydock/metrics-infra:${uniqueName('i')}`;
    [cp] = await Promise.all([
      startTestControlPlane({ metrics: { token, listen: { host: '127.0.0.1', port: 0 } } }),
      buildAndPushImage(`${appRepo}:${tag}`, 'build one'),
      buildAndPushImage(infraImage, 'infra'),
    ]);
    tenant = await createTenant({ project: uniqueName('metrics'), imageTag: tag, appImage: appRepo, infraImage });
    // A tenant value the scrape must never show.
    await appendFile(path.join(tenant.dir, '.env'), `POSTGRES_PASSWORD=${envSecret}\n`);
    await tenant.up();
    const created = await cp.api('POST', '/api/instances', {
      slug: tenant.project,
      name: 'Metrics tenant',
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

  it('refuses a scrape without the token or with a wrong one, on the API port and on the metrics listener alike', async () => {
    const listener = `http://${cp.metricsAddress}`;
    for (const base of [cp.url, listener]) {
      const none = await scrapeAt(base, {});
      expect(none.status).toBe(401);
      expect(none.text).not.toContain('drydock_');
      expect((await scrapeAt(base, { authorization: `Bearer ${token.slice(0, -1)}x` })).status).toBe(401);
      expect((await scrapeAt(base, { authorization: `Bearer ${cp.operator.token}` })).status).toBe(401);
      expect((await scrapeAt(base, { authorization: token })).status).toBe(401);
      const ok = await scrapeAt(base);
      expect(ok.status).toBe(200);
      expect(ok.type).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(ok.text).toContain(`# TYPE ${METRIC.upgradesStarted} counter`);
    }
    // The listener serves nothing else.
    expect((await fetch(`${listener}/api/instances`)).status).toBe(404);
  });

  it('counts a Quick Upgrade as it runs (started at once, succeeded at the end) and times each step by path', async () => {
    const before = await scrape();
    await buildAndPushImage(`${appRepo}:${tag}`, 'build two');
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, {});
    expect(started.status).toBe(202);

    await waitForUpgradeStatus(cp, started.body.upgradeId, ['running']);
    const during = await scrape();
    expect(value(during, METRIC.upgradesStarted, { mode: 'image-only' })).toBe(value(before, METRIC.upgradesStarted, { mode: 'image-only' }) + 1);

    const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(end.status).toBe('succeeded');
    // The last step's duration is recorded when it returns, a moment after the status it wrote is visible.
    const lastStep = { step: 'recordUpgradeProgress', mode: 'image-only', outcome: 'succeeded' };
    let after = await scrape();
    for (let i = 0; i < 50 && value(after, `${METRIC.stepDuration}_count`, lastStep) <= value(before, `${METRIC.stepDuration}_count`, lastStep); i++) {
      await new Promise((r) => setTimeout(r, 200));
      after = await scrape();
    }
    const finished = { mode: 'image-only', status: 'succeeded' };
    expect(value(after, METRIC.upgradesFinished, finished)).toBe(value(before, METRIC.upgradesFinished, finished) + 1);
    for (const step of ['checkTenantReady', 'pullImages', 'recreateServices', 'verifyServices', 'recordUpgradeProgress']) {
      const labels = { step, mode: 'image-only', outcome: 'succeeded' };
      expect(value(after, `${METRIC.stepDuration}_count`, labels), step).toBeGreaterThan(value(before, `${METRIC.stepDuration}_count`, labels));
    }
    const pull = { step: 'pullImages', mode: 'image-only', outcome: 'succeeded' };
    expect(value(after, `${METRIC.stepDuration}_sum`, pull)).toBeGreaterThan(value(before, `${METRIC.stepDuration}_sum`, pull));
    expect(value(after, `${METRIC.stepDuration}_bucket`, { ...pull, le: '+Inf' })).toBe(value(after, `${METRIC.stepDuration}_count`, pull));

    // Request durations by route pattern: the polls above, never the ids they carried.
    expect(value(after, `${METRIC.httpDuration}_count`, { method: 'GET', route: '/api/upgrades/:id', status: '200' })).toBeGreaterThan(0);
    expect(value(after, `${METRIC.httpDuration}_count`, { method: 'POST', route: '/api/instances/:id/upgrade-images', status: '202' })).toBe(1);
    const routes = new Set(after.filter((s) => s.name.startsWith(METRIC.httpDuration)).map((s) => s.labels.route));
    for (const r of routes) expect(r).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}/);

    // Temporal's own worker metrics, merged into the same scrape.
    const temporal = [...new Set(after.filter((s) => s.name.startsWith('temporal_')).map((s) => s.name))];
    expect(temporal).toContain('temporal_activity_execution_latency_count');
    expect(temporal).toContain('temporal_worker_task_slots_available');
    console.log(`scrape after a Quick Upgrade: ${after.length} samples; Temporal's: ${temporal.length} names, e.g. ${temporal.slice(0, 6).join(', ')}`);
  }, REAL_UPGRADE_MS);

  it('counts a park at pull and shows it in the parked gauge until abort ends it as failed', async () => {
    const before = await scrape();
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, { imageTag: 'does-not-exist' });
    expect(started.status).toBe(202);
    expect((await waitForUpgradeEnd(cp, started.body.upgradeId)).status).toBe('needs-attention');

    const parked = await scrape();
    const atPull = { mode: 'image-only', step: 'pull' };
    expect(value(parked, METRIC.upgradesParked, atPull)).toBe(value(before, METRIC.upgradesParked, atPull) + 1);
    expect(value(parked, METRIC.parkedNow, { mode: 'image-only' })).toBe(1);
    expect(value(parked, METRIC.parkedNow, { mode: 'release' })).toBe(0);
    // The failed pull was timed as failed (a missing image is not retried).
    const failedPulls = { step: 'pullImages', mode: 'image-only', outcome: 'failed' };
    expect(value(parked, `${METRIC.stepDuration}_count`, failedPulls)).toBe(value(before, `${METRIC.stepDuration}_count`, failedPulls) + 1);

    expect((await cp.api('POST', `/api/upgrades/${started.body.upgradeId}/abort`)).status).toBe(202);
    await waitForUpgradeStatus(cp, started.body.upgradeId, ['failed']);
    const after = await scrape();
    const failed = { mode: 'image-only', status: 'failed' };
    expect(value(after, METRIC.upgradesFinished, failed)).toBe(value(before, METRIC.upgradesFinished, failed) + 1);
    expect(value(after, METRIC.parkedNow, { mode: 'image-only' })).toBe(0);
  }, REAL_UPGRADE_MS);

  it('shows a rollout by its own state while it runs, and by how it closed afterwards', async () => {
    const before = await scrape();
    const res = await cp.api('POST', '/api/rollouts', { mode: 'image-only', target: { instanceIds: [instanceId] }, waves: [1] });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await waitFor('the rollout to show as running', async () => {
      const samples = await scrape();
      return value(samples, METRIC.rollouts, { state: 'running' }) === 1 ? true : undefined;
    }, 60_000, 300);
    const duringRollout = seen.at(-1)!.split('\n').filter((l) => l.startsWith('drydock_') && !l.includes('_bucket') && !l.startsWith(METRIC.httpDuration));
    console.log(`a scrape during the rollout (drydock's own samples, histogram buckets and HTTP left out):\n${duringRollout.join('\n')}`);
    const after = await waitFor('the rollout to show as completed', async () => {
      const samples = await scrape();
      return value(samples, METRIC.rollouts, { state: 'completed' }) === 1 && value(samples, METRIC.rollouts, { state: 'running' }) === 0 ? samples : undefined;
    }, 120_000, 500);
    // GET /api/rollouts lists with the same visibility query the gauge counts with.
    const listed = await cp.api('GET', '/api/rollouts');
    expect(listed.body.find((r: { rolloutId: string }) => r.rolloutId === res.body.rolloutId)).toMatchObject({ execution: 'COMPLETED', mode: 'image-only' });
    // Its one upgrade counted like any other.
    const succeeded = { mode: 'image-only', status: 'succeeded' };
    expect(value(after, METRIC.upgradesStarted, { mode: 'image-only' })).toBe(value(before, METRIC.upgradesStarted, { mode: 'image-only' }) + 1);
    expect(value(after, METRIC.upgradesFinished, succeeded)).toBe(value(before, METRIC.upgradesFinished, succeeded) + 1);
  }, REAL_UPGRADE_MS);

  it('counts agent registrations by state from the database at scrape time', async () => {
    const before = await scrape();
    const invite = await cp.db.prisma.agentInvite.create({ data: { codeHash: uniqueName('code-'), expiresAt: new Date(Date.now() + 60_000) } });
    await cp.db.prisma.agentRegistration.create({
      data: { slug: uniqueName('agent-'), name: 'a', agentUrl: 'https://a:7443', composeDir: '/srv/a', composeProjectName: 'a', csrPem: 'x', inviteId: invite.id },
    });
    const after = await scrape();
    expect(value(after, METRIC.agents, { state: 'pending' })).toBe(value(before, METRIC.agents, { state: 'pending' }) + 1);
    expect(after.some((s) => s.name === METRIC.agents && s.labels.state === 'approved')).toBe(true);
  });

  it('shows no secret and no tenant value in any scrape: not the token, not the API token, not .env, not the ids', async () => {
    expect(seen.length).toBeGreaterThan(5);
    const all = seen.join('\n');
    expect(secretHits(all, [token, cp.operator.token, envSecret, /POSTGRES_PASSWORD/, tenant.dir])).toEqual([]);
    expect(all).not.toContain(instanceId);
  });

  it('ships a Grafana dashboard that queries only metrics this scrape exports', async () => {
    const dashboard = JSON.parse(await readFile(path.join(import.meta.dirname, '..', 'docs', 'grafana-dashboard.json'), 'utf8'));
    expect(dashboard.title).toMatch(/drydock/i);
    expect(typeof dashboard.schemaVersion).toBe('number');
    const exprs: string[] = dashboard.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    const { samples, families } = parse(seen.at(-1)!);
    const exported = new Set([...families, ...samples.map((s) => s.name)]);
    const queried = new Set(exprs.flatMap((e) => [...e.matchAll(/\b((?:drydock|temporal|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!)));
    for (const name of Object.values(METRIC)) expect([...queried].some((q) => q.startsWith(name)), `${name} is on the dashboard`).toBe(true);
    for (const name of queried) expect(exported.has(name), `${name} (on the dashboard) is exported`).toBe(true);
  });
});

describe('GET /metrics without DRYDOCK_METRICS_TOKEN or DRYDOCK_METRICS_LISTEN', () => {
  let cp: TestControlPlane;
  beforeAll(async () => {
    cp = await startTestControlPlane({ metrics: {}, runWorker: false });
  });
  afterAll(async () => cp?.stop());

  it('is not served: 404 naming both settings, with or without credentials, and no metric in the answer', async () => {
    for (const headers of [{}, { authorization: `Bearer ${cp.operator.token}` }] as Record<string, string>[]) {
      const res = await callApi(`${cp.url}/metrics`, 'GET', undefined, headers);
      expect(res.status).toBe(404);
      expect(res.body.error).toMatch(/DRYDOCK_METRICS_TOKEN.*DRYDOCK_METRICS_LISTEN/);
      expect(JSON.stringify(res.body)).not.toContain('drydock_');
    }
    expect(cp.metricsAddress).toBeUndefined();
  });
});

describe('a standalone worker (npm run worker) with DRYDOCK_METRICS_LISTEN, beside an API without a worker', () => {
  const token = randomBytes(24).toString('hex');
  const taskQueue = uniqueName('metrics-queue-');
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: TestControlPlane;
  let worker: Proc;
  let workerMetrics: string;
  let dir: string;
  let caDir: string;

  const scrape = async (url: string) => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return parse(await res.text());
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-metrics-'));
    caDir = await mkdtemp(path.join(os.tmpdir(), 'drydock-metrics-ca-'));
    api = await startControlPlaneOn(database.url, { runWorker: false, taskQueue, metrics: { token } });
    workerMetrics = `http://127.0.0.1:${await freePort()}/metrics`;
    worker = spawnProcess('worker', process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: api.temporalAddress,
      DRYDOCK_TASK_QUEUE: taskQueue,
      DRYDOCK_CA_DIR: caDir,
      DRYDOCK_SECRET_KEY: TEST_ONLY_SECRET_KEY,
      DRYDOCK_TEMPORAL_LOG_LEVEL: 'ERROR',
      DRYDOCK_METRICS_LISTEN: new URL(workerMetrics).host,
      DRYDOCK_METRICS_TOKEN: token,
    });
    await worker.waitForLine(/worker polling/, 120_000);
    // A tenant whose compose file lacks the core services: the Quick Upgrade parks at preflight without touching Docker's images.
    await writeFile(path.join(dir, 'docker-compose.yml'), 'version: "3"\nservices:\n  other:\n    image: 127.0.0.1:5055/none/other:1\n');
  });

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await api?.stop();
    await database?.drop();
    for (const d of [dir, caDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it("exports the worker's counters, step durations and Temporal's worker metrics from the worker process, the gauges from the API's", async () => {
    expect((await fetch(workerMetrics)).status).toBe(401);
    const created = await api.api('POST', '/api/instances', { slug: uniqueName('lone'), name: 'lone', composeDir: dir, composeProjectName: uniqueName('lone') });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const started = await api.api('POST', `/api/instances/${created.body.id}/upgrade-images`, { imageTag: '1.0' });
    expect(started.status).toBe(202);
    const parked = await waitForUpgradeEnd(api, started.body.upgradeId);
    expect(parked).toMatchObject({ status: 'needs-attention', currentStep: 'preflight' });

    const fromWorker = await scrape(workerMetrics);
    expect(value(fromWorker.samples, METRIC.upgradesStarted, { mode: 'image-only' })).toBe(1);
    expect(value(fromWorker.samples, METRIC.upgradesParked, { mode: 'image-only', step: 'preflight' })).toBe(1);
    expect(value(fromWorker.samples, `${METRIC.stepDuration}_count`, { step: 'checkTenantReady', mode: 'image-only', outcome: 'failed' })).toBe(1);
    expect(fromWorker.samples.some((s) => s.name === 'temporal_worker_task_slots_available')).toBe(true);
    // The database gauges are the API's: a second process would only repeat them.
    expect(fromWorker.families.has(METRIC.parkedNow)).toBe(false);

    const fromApi = await scrape(`${api.url}/metrics`);
    expect(value(fromApi.samples, METRIC.parkedNow, { mode: 'image-only' })).toBe(1);
    expect(value(fromApi.samples, METRIC.upgradesStarted, { mode: 'image-only' })).toBe(0);

    expect((await api.api('POST', `/api/upgrades/${started.body.upgradeId}/abort`)).status).toBe(202);
    await waitForUpgradeStatus(api, started.body.upgradeId, ['failed']);
    expect(value((await scrape(workerMetrics)).samples, METRIC.upgradesFinished, { mode: 'image-only', status: 'failed' })).toBe(1);
    expect(value((await scrape(`${api.url}/metrics`)).samples, METRIC.parkedNow, { mode: 'image-only' })).toBe(0);
  }, REAL_UPGRADE_MS);
});
