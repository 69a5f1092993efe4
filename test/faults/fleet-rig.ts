/**
 * drydock as an operator runs it past one machine, on this one: two API
 * processes (`npm run api`) behind a round-robin proxy and two worker
 * processes against one Temporal server and one PostgreSQL, upgrading a fleet
 * while processes are SIGKILLed. Shared by the CI share (test/multi-process.test.ts)
 * and the heavy run (test/faults/multi-process.test.ts).
 *
 * The tenants are the fleet benchmark's (bench/fleet.ts, bench/fleet-agent.ts):
 * real tenant directories served by one real multi-tenant agent process over
 * mutual TLS, with SIMULATED COMPOSE (compose commands recorded and answered
 * at once, container state kept in the agent process), so 20 tenants fit on
 * this machine. Everything else is real.
 *
 * The agents register and are approved through a setup API in the test
 * process (its agent limits lifted: the default allows 10 registrations per
 * address); it serves nothing else. Worker `a` is `npm run worker`
 * (worker/main.ts), or with a gate the fault harness's worker holding one
 * step; worker `b` is the fault harness's worker without a gate
 * (test/faults/fault-worker.ts), which prints when it resumes a retried
 * step, so the kill's pickup time is measured where it happens.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { createTenantDirs, FROM_TAG, RENDER, TO_TAG } from '../../bench/fleet.js';
import { freePort } from '../../platform/temporal-server.js';
import { createPlanner } from '../../worker/planner.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../harness/round-robin-proxy.js';
import { createTestDatabase, startControlPlaneOn, uniqueName, waitFor, type TestControlPlane } from '../support.js';
import { FIXTURES, spawnProcess, startGatedWorker, startWorker, workerEnv, type Proc, type WorkerEnv } from './support.js';

const TSX = ['--import', 'tsx'];
const LIFTED = { max: 1_000_000, windowMs: 15 * 60_000 };

export interface FleetRig {
  n: number;
  slugs: string[];
  dirs: string[];
  db: pg.Client;
  databaseUrl: string;
  apis: Proc[];
  apiUrls: string[];
  workers: Proc[];
  agent: Proc;
  proxy: RoundRobinProxy;
  token: string;
  temporal: TestControlPlane['temporal'];
  close(): Promise<void>;
}

/** The render settings every process renders with alike (the fleet benchmark's). */
const RENDER_ENV = {
  DRYDOCK_BASE_DOMAIN: RENDER.baseDomain,
  DRYDOCK_POSTGRES_IMAGE: RENDER.postgresImage,
  DRYDOCK_SMTP_HOST: RENDER.smtpHost,
  DRYDOCK_SMTP_PORT: String(RENDER.smtpPort),
};

/**
 * `gate` (activity:driver method, see fault-worker.ts): worker `a` is the
 * fault harness's worker holding that step's first attempt, so a kill at the
 * gate lands while it runs a step; without it, worker `a` is `npm run worker`.
 */
export async function startFleetRig(n: number, opts: { gate?: string } = {}): Promise<FleetRig> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'drydock-fleet-rig-'));
  const database = await createTestDatabase();
  const prefix = uniqueName('mp').replace(/[^a-z0-9]/g, '').slice(0, 12);
  const slugs = Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
  const procs: Proc[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await database.drop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  };
  try {
    const taskQueue = uniqueName('multi-process-');
    const caDir = path.join(work, 'ca');
    const templatesDir = path.join(FIXTURES, 'n1');
    const setup = await startControlPlaneOn(database.url, {
      runWorker: false,
      taskQueue,
      caDir,
      planner: createPlanner(RENDER, templatesDir),
      agentRateLimits: { register: LIFTED, poll: LIFTED, pollAddress: LIFTED },
    });
    closers.push(() => setup.stop());

    const dirs = await createTenantDirs(path.join(work, 'tenants'), n, (i) => slugs[i]!);
    let caFingerprint = '';
    const tenants = await Promise.all(
      dirs.map(async (dir, i) => {
        const inv = await setup.api('POST', '/api/agents/invites', { slug: slugs[i], note: 'multi-process test' });
        if (inv.status !== 201) throw new Error(`invite: HTTP ${inv.status} ${JSON.stringify(inv.body)}`);
        caFingerprint = inv.body.caFingerprint256;
        return { slug: slugs[i]!, dir, inviteCode: inv.body.code as string };
      }),
    );
    const tenantsFile = path.join(work, 'tenants.json');
    await writeFile(tenantsFile, JSON.stringify(tenants));
    const agent = spawnProcess('fleet agent (simulated compose)', process.execPath, [
      ...TSX,
      'bench/fleet-agent.ts',
      '--tenants', tenantsFile,
      '--ccp-url', setup.url,
      '--insecure-http',
      '--listen', '127.0.0.1:0',
      '--state-dir', path.join(work, 'agent-state'),
      '--ca-fingerprint', caFingerprint,
      '--poll-ms', '1000',
      '--backoff-ms', '1000,2000,5000',
    ], { SIM_INITIAL_TAG: FROM_TAG, SIM_STATS_FILE: path.join(work, 'agent-stats.json') });
    procs.push(agent);
    await agent.waitForLine(/listening on .* for \d+ tenants/, 180_000);
    const pending = await waitFor(`${n} agent registrations`, async () => {
      const r = await setup.api('GET', '/api/agents/registrations?status=pending');
      return r.status === 200 && r.body.length === n ? (r.body as { id: string }[]) : undefined;
    }, 180_000, 250);
    for (const reg of pending) {
      const r = await setup.api('POST', `/api/agents/registrations/${reg.id}/approve`, {});
      if (r.status !== 200) throw new Error(`approve: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    }
    await agent.waitForLine(new RegExp(`\\(${n} of ${n} tenants served\\)`), 180_000);

    const shared: WorkerEnv = { databaseUrl: database.url, temporalAddress: setup.temporalAddress, taskQueue, caDir, defaults: RENDER, templatesDir, more: RENDER_ENV };
    // What the APIs serve as the web UI: a stand-in page (building the real one is the UI tests' business).
    const uiDir = path.join(work, 'ui');
    await mkdir(uiDir, { recursive: true });
    await writeFile(path.join(uiDir, 'index.html'), '<!doctype html><title>drydock</title><div id="root"></div>');
    const apis = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const port = await freePort();
        const p = spawnProcess(`api ${name}`, process.execPath, [...TSX, 'api/main.ts', '--api-only'], {
          ...workerEnv(shared),
          PORT: String(port),
          HOST: '127.0.0.1',
          DRYDOCK_DATA_DIR: path.join(work, `api-${name}`),
          DRYDOCK_UI_DIR: uiDir,
        });
        procs.push(p);
        await p.waitForLine(/^drydock: http:\/\/\S+\/ \(API under .*API only/, 120_000);
        return { p, url: `http://127.0.0.1:${port}` };
      }),
    );
    const workers = [
      opts.gate ? await startGatedWorker(shared, opts.gate, `worker a (held at ${opts.gate})`) : await startWorker(shared, 'worker a (npm run worker)'),
      await startGatedWorker(shared, '', 'worker b (traced)'),
    ];
    procs.push(...workers);
    const proxy = await startRoundRobinProxy(apis.map((a) => a.url));
    closers.push(() => proxy.close());
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    closers.push(() => db.end());
    return {
      n,
      slugs,
      dirs,
      db,
      databaseUrl: database.url,
      apis: apis.map((a) => a.p),
      apiUrls: apis.map((a) => a.url),
      workers,
      agent,
      proxy,
      token: setup.operator.token,
      temporal: setup.temporal,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One client request through the proxy and what the client saw. */
export interface Sent {
  at: number;
  method: string;
  path: string;
  status?: number;
  /** The client saw no answer (connection error, timeout), or the error the answer named. */
  error?: string;
  ms: number;
}

export interface RolloutUnderKills {
  rolloutStatus: string;
  counts: Record<string, number>;
  seconds: { rollout: number; killToEnd?: number };
  killedAt?: number;
  killed: string[];
  /** Retried steps the surviving traced worker resumed, with seconds from the kill. */
  pickups: { activity: string; attempt: number; seconds: number }[];
  requests: { total: number; ok: number; failed: Sent[]; byUpstream: Record<string, number>; refusedByDeadUpstream: number };
  invites: { answered201: number; missing: string[] };
  upgradeRows: { status: string; n: number }[];
  rowsPerInstance: number[];
  workflowsPerInstance: number[];
  instancesOnNewTag: number;
  tenantFilesOnNewTag: number;
  composeUpCalls: number;
  uiAfterKill: { pages: number; ok: number };
}

/**
 * A release rollout over the whole fleet through the proxy while a client
 * keeps reading (the UI's page and the API reads it makes) and writing
 * (invites, each a row the client can look for); after `killAfter` upgrades
 * have succeeded, or when worker `a` reaches its gate, the given processes
 * are SIGKILLed.
 */
export async function rolloutUnderKills(
  rig: FleetRig,
  opts: { killAfter: number | 'gate'; kill: { api?: number; worker?: number }; maxParallel: number; waves: (number | string)[] },
): Promise<RolloutUnderKills> {
  const sent: Sent[] = [];
  const call = async (method: string, p: string, body?: unknown): Promise<{ status: number; body: any } | undefined> => {
    const s: Sent = { at: Date.now(), method, path: p, ms: 0 };
    sent.push(s);
    try {
      const res = await fetch(`${rig.proxy.url}${p}`, {
        method,
        headers: { authorization: `Bearer ${rig.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      s.status = res.status;
      if (res.status >= 400) s.error = text.slice(0, 300);
      s.ms = Date.now() - s.at;
      return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
    } catch (err) {
      s.error = (err as Error).message;
      s.ms = Date.now() - s.at;
      return undefined;
    }
  };

  const t0 = Date.now();
  const started = await call('POST', '/api/rollouts', {
    mode: 'release',
    imageTag: TO_TAG,
    target: { all: true },
    waves: opts.waves,
    maxParallel: opts.maxParallel,
    failureBudget: { count: 0 },
    bake: 0,
  });
  if (started?.status !== 202) throw new Error(`rollout: ${JSON.stringify(started)}`);
  const rolloutId = started.body.rolloutId as string;

  // The client: the UI's page and the reads it makes, and a write now and then, one after the other.
  let stop = false;
  const invites: string[] = [];
  const client = (async () => {
    for (let i = 0; !stop; i++) {
      const kind = i % 6;
      if (kind === 0) await call('GET', '/');
      else if (kind === 1) await call('GET', '/api/instances');
      else if (kind === 2) await call('GET', '/api/upgrades');
      else if (kind === 3) await call('GET', `/api/rollouts/${rolloutId}`);
      else if (kind === 4) await call('GET', '/healthz');
      else {
        const note = `probe ${i}`;
        const r = await call('POST', '/api/agents/invites', { anySlug: true, note });
        if (r?.status === 201) invites.push(note);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const killed: string[] = [];
  let killedAt: number | undefined;
  const killWatch = (async () => {
    if (opts.killAfter === 'gate') await rig.workers[0]!.waitForLine(/fault-gate: reached/, 300_000);
    else {
      const after = opts.killAfter;
      await waitFor(`${after} upgrades to succeed`, async () => {
        const r = await rig.db.query<{ n: string }>(`SELECT count(*) AS n FROM "InstanceUpgrade" WHERE status = 'succeeded'`);
        return Number(r.rows[0]!.n) >= after || undefined;
      }, 300_000, 100);
    }
    const victims = [
      ...(opts.kill.api !== undefined ? [rig.apis[opts.kill.api]!] : []),
      ...(opts.kill.worker !== undefined ? [rig.workers[opts.kill.worker]!] : []),
    ];
    killedAt = Date.now();
    await Promise.all(victims.map((v) => v.kill('SIGKILL')));
    killed.push(...victims.map((v) => v.name));
  })();

  const view = await waitFor('the rollout to end', async () => {
    const r = await rig.db.query<{ n: string }>(`SELECT count(*) AS n FROM "InstanceUpgrade" WHERE status IN ('succeeded', 'failed', 'cancelled', 'needs-attention')`);
    if (Number(r.rows[0]!.n) < rig.n) return undefined;
    const v = await call('GET', `/api/rollouts/${rolloutId}`);
    return v?.status === 200 && !['running', 'baking'].includes(v.body.status) ? v.body : undefined;
  }, 600_000, 500);
  const rolloutSeconds = (Date.now() - t0) / 1000;
  const endedAt = Date.now();
  await killWatch;
  stop = true;
  await client;

  const pickups = (rig.workers[1]?.lines ?? [])
    .map((l) => /fault-trace: (\w+) attempt (\d+) at (\d+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ activity: m[1]!, attempt: Number(m[2]), seconds: killedAt ? (Number(m[3]) - killedAt) / 1000 : NaN }));

  const probeNotes = (await rig.db.query<{ note: string }>(`SELECT note FROM "AgentInvite" WHERE note LIKE 'probe %'`)).rows.map((r) => r.note);
  const rows = (await rig.db.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM "InstanceUpgrade" GROUP BY status`)).rows;
  const perInstance = (
    await rig.db.query<{ n: string }>(`SELECT count(u.id) AS n FROM "Instance" i LEFT JOIN "InstanceUpgrade" u ON u."instanceId" = i.id GROUP BY i.id`)
  ).rows.map((r) => Number(r.n));
  const workflowsPerInstance = await Promise.all(
    rig.slugs.map(async (slug) => {
      let count = 0;
      for await (const _ of rig.temporal.workflow.list({ query: `WorkflowId = "upgrade-${slug}"` })) count++;
      return count;
    }),
  );
  const onTag = await rig.db.query<{ n: string }>(`SELECT count(*) AS n FROM "Instance" WHERE "imageTag" = $1`, [TO_TAG]);
  let filesOnTag = 0;
  for (const dir of rig.dirs) if ((await readFile(path.join(dir, 'docker-compose.yml'), 'utf8')).includes(`:\${IMAGE_TAG:-${TO_TAG}}`)) filesOnTag++;
  process.kill(rig.agent.child.pid!, 'SIGUSR2');
  const statsFile = path.join(path.dirname(path.dirname(rig.dirs[0]!)), 'agent-stats.json');
  // The agent writes the file when it gets the signal: until it is whole, try again.
  const stats = await waitFor('the agent stats', async () => {
    try {
      return JSON.parse(await readFile(statsFile, 'utf8')) as { composeCalls: Record<string, number> };
    } catch {
      return undefined;
    }
  }, 10_000, 100);

  const afterKill = sent.filter((s) => killedAt && s.at > killedAt && s.at < endedAt);
  const pages = afterKill.filter((s) => s.path === '/' || s.path === '/api/instances' || s.path === '/api/upgrades');
  return {
    rolloutStatus: view.status,
    counts: view.counts,
    seconds: { rollout: rolloutSeconds, killToEnd: killedAt ? (endedAt - killedAt) / 1000 : undefined },
    killedAt,
    killed,
    pickups,
    requests: {
      total: sent.length,
      ok: sent.filter((s) => s.status !== undefined && s.status < 400).length,
      failed: sent.filter((s) => s.status === undefined || s.status >= 400),
      byUpstream: { ...rig.proxy.answered },
      refusedByDeadUpstream: Object.values(rig.proxy.refused).reduce((a, b) => a + b, 0),
    },
    invites: { answered201: invites.length, missing: invites.filter((n) => !probeNotes.includes(n)) },
    upgradeRows: rows.map((r) => ({ status: r.status, n: Number(r.n) })),
    rowsPerInstance: perInstance,
    workflowsPerInstance,
    instancesOnNewTag: Number(onTag.rows[0]!.n),
    tenantFilesOnNewTag: filesOnTag,
    composeUpCalls: stats.composeCalls.up ?? 0,
    uiAfterKill: { pages: pages.length, ok: pages.filter((s) => s.status === 200).length },
  };
}

/** What must hold after a rollout under kills, whatever its size. */
export function expectRolloutHeld(r: RolloutUnderKills, n: number, limitSeconds: number) {
  expect(r.rolloutStatus).toBe('succeeded');
  expect(r.counts.updated).toBe(n);
  // Every instance upgraded exactly once: one upgrade row and one workflow each, all succeeded, files and tag on the new release.
  expect(r.upgradeRows).toEqual([{ status: 'succeeded', n }]);
  expect(r.rowsPerInstance).toEqual(Array.from({ length: n }, () => 1));
  expect(r.workflowsPerInstance).toEqual(Array.from({ length: n }, () => 1));
  expect(r.instancesOnNewTag).toBe(n);
  expect(r.tenantFilesOnNewTag).toBe(n);
  // No request lost that the client did not see fail: every write answered 201 is in the database.
  expect(r.invites.answered201).toBeGreaterThan(0);
  expect(r.invites.missing).toEqual([]);
  // Every failure was one the client saw: the proxy's 502 for the request in flight at an API's kill (the client sends one
  // at a time), or the rollout view's 503: a query the rollout workflow's worker did not answer in time (the killed
  // worker still holding it in its sticky queue, or a worker starved of CPU). Nothing else failed: the surviving API served
  // every other request.
  const rolloutView = (f: Sent) => f.method === 'GET' && f.path.startsWith('/api/rollouts/');
  expect(r.requests.failed.filter((f) => f.status === undefined || f.status === 502).length, JSON.stringify(r.requests.failed)).toBeLessThanOrEqual(1);
  for (const f of r.requests.failed.filter((x) => x.status !== undefined && x.status !== 502)) {
    expect(rolloutView(f) && f.status === 503, JSON.stringify(f)).toBe(true);
  }
  expect(r.uiAfterKill.pages).toBeGreaterThan(0);
  expect(r.uiAfterKill.ok).toBeGreaterThanOrEqual(r.uiAfterKill.pages - 1);
  for (const p of r.pickups) expect(p.seconds, `${p.activity} attempt ${p.attempt} picked up by the survivor`).toBeLessThan(limitSeconds);
}
