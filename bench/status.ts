/**
 * The status endpoint operators' browsers poll, `GET /api/upgrades/:id`,
 * under wrk on loopback: 50 connections, 2 threads, BENCH_WRK_SECONDS (10)
 * seconds, against:
 *   (a) the real control plane (its own process: API + worker, a fresh
 *       database on the real PostgreSQL, its own Temporal dev server), with an
 *       API token (Authorization: Bearer), for an upgrade row shaped like a
 *       finished Release Upgrade;
 *   (a2) the same for an upgrade still running (read from PostgreSQL, by a
 *       query that starts after the request arrived: what a browser polls
 *       during an upgrade);
 *   (b) the same process's `/healthz` (Express, no auth, no database);
 *   (c) the baseline: bare node:http answering the same JSON bytes.
 * wrk runs on the same two cores as the server, so every figure is lower
 * than the server alone could do; the ratios compare like with like.
 *
 * Needs wrk: installed with apt-get when missing and possible, otherwise the
 * benchmark is skipped with the reason.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { openDatabase } from '../prisma/db.js';
import { createInstanceRepo, createUpgradeRepo } from '../prisma/repositories.js';
import { createTestDatabase } from '../test/support.js';
import type { BenchResult, Measurement } from './harness.js';
import type { ProcessConfig } from './control-plane-process.js';
import { memoryOf, MiB, spawnNode, startOwnTemporal } from './processes.js';
import { BenchSkipped } from './real-tenant.js';

const run = promisify(execFile);
const log = (m: string) => process.stderr.write(`  status: ${m}\n`);

export const WRK = { connections: 50, threads: 2 };

async function ensureWrk(): Promise<string> {
  const found = await run('sh', ['-c', 'command -v wrk']).then((r) => r.stdout.trim(), () => '');
  if (found) return found;
  if (process.getuid?.() === 0) {
    log('wrk is missing: apt-get install -y wrk');
    const installed = await run('sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y wrk || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk)'], { timeout: 600_000 }).then(
      () => true,
      () => false,
    );
    const again = await run('sh', ['-c', 'command -v wrk']).then((r) => r.stdout.trim(), () => '');
    if (installed && again) return again;
  }
  throw new BenchSkipped('wrk is not installed and could not be installed (as root: apt-get install -y wrk)');
}

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  errors: string[];
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

/** wrk's --latency output: Requests/sec, the latency distribution, and anything that went wrong. */
export function parseWrk(out: string): WrkResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    if (!m) throw new Error(`wrk output without a ${p}% latency:\n${out}`);
    return toMs(m[1]!, m[2]!);
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!rps || !total) throw new Error(`unexpected wrk output:\n${out}`);
  const errors = [/Socket errors:.*$/m.exec(out)?.[0], /Non-2xx or 3xx responses:.*$/m.exec(out)?.[0]].filter((x): x is string => Boolean(x));
  return { requestsPerSecond: Number(rps[1]), requests: Number(total[1]), p50Ms: pct('50'), p90Ms: pct('90'), p99Ms: pct('99'), errors };
}

async function wrk(bin: string, url: string, seconds: number, headers: string[] = []): Promise<WrkResult> {
  const args = ['-t', String(WRK.threads), '-c', String(WRK.connections), '-d', `${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
  const { stdout } = await run(bin, args, { timeout: (seconds + 60) * 1000 });
  return parseWrk(stdout);
}

function asMeasurement(label: string, r: WrkResult): Measurement {
  return { label, reps: r.requests, warmup: 0, medianMs: r.p50Ms, p95Ms: r.p99Ms, minMs: NaN, maxMs: NaN, heapDeltaBytes: 0, rssDeltaBytes: 0 };
}

export async function benchStatus(): Promise<BenchResult> {
  const bin = await ensureWrk();
  const seconds = Number(process.env.BENCH_WRK_SECONDS ?? 10);
  const work = await mkdtemp(path.join(os.tmpdir(), 'drydock-bench-status-'));
  const cleanups: (() => Promise<unknown>)[] = [() => rm(work, { recursive: true, force: true })];
  try {
    const temporal = await startOwnTemporal(path.join(work, 'temporal'));
    cleanups.unshift(() => temporal.stop());
    const database = await createTestDatabase();
    cleanups.unshift(() => database.drop());
    const config: ProcessConfig = {
      databaseUrl: database.url,
      temporalAddress: temporal.address,
      dataDir: path.join(work, 'cp'),
      caDir: path.join(work, 'cp', 'ca'),
      taskQueue: 'status-bench',
      templatesDir: path.join(import.meta.dirname, '..', 'test', 'fixtures', 'releases', 'n1'),
      renderDefaults: { imageTag: 'latest', registry: 'r.invalid', imagePrefix: 'p', baseDomain: 'b.invalid', postgresImage: 'postgres:16', redisImage: 'redis:7', smtpHost: 's.invalid', smtpPort: 587 },
    };
    const cp = spawnNode('bench/control-plane-process.ts', [], { BENCH_CP_CONFIG: JSON.stringify(config) }, { nodeArgs: process.env.BENCH_CP_NODE_ARGS?.split(' ').filter(Boolean) });
    cleanups.unshift(() => cp.stop());
    const ready = JSON.parse((await cp.waitForLine(/^READY (.*)$/, 180_000))[1]!) as { url: string; token: string };

    // An upgrade row as a finished Release Upgrade leaves it.
    const db = await openDatabase({ url: database.url });
    const instance = await createInstanceRepo(db.prisma).create({
      slug: 'status-bench', name: 'Status bench', composeProjectName: 'status-bench', composeDir: '/srv/status-bench', coreServices: ['api', 'admin', 'media-api', 'nginx'], imageTag: '1.1.0',
    });
    const upgradeId = randomUUID();
    const upgrades = createUpgradeRepo(db.prisma);
    await upgrades.ensure({ id: upgradeId, instanceId: instance!.id, mode: 'release', imageTag: '1.1.0', workflowId: 'upgrade-status-bench', runId: randomUUID(), requestedBy: 'bench@drydock.test', status: 'running' });
    let at = Date.now() - 60_000;
    const steps = ['plan', 'snapshot', 'persist-image-tag', 'write', 'pull', 'up', 'verify'].map((name) => {
      const startedAt = new Date(at).toISOString();
      at += 1_500;
      return { name, status: 'succeeded' as const, startedAt, finishedAt: new Date(at).toISOString() };
    });
    await upgrades.saveProgress(upgradeId, { status: 'succeeded', currentStep: 'verify', steps, error: null, finished: true });
    const runningId = randomUUID();
    await upgrades.ensure({ id: runningId, instanceId: instance!.id, mode: 'release', imageTag: '1.2.0', workflowId: 'upgrade-status-bench-running', runId: randomUUID(), requestedBy: 'bench@drydock.test', status: 'running' });
    await upgrades.saveProgress(runningId, { status: 'running', currentStep: 'verify', steps: steps.map((st, i) => (i === steps.length - 1 ? { name: st.name, status: 'running' as const, startedAt: st.startedAt } : st)), error: null });
    await db.close();

    const url = `${ready.url}/api/upgrades/${upgradeId}`;
    const runningUrl = `${ready.url}/api/upgrades/${runningId}`;
    const auth = `Authorization: Bearer ${ready.token}`;
    const check = await fetch(url, { headers: { authorization: `Bearer ${ready.token}` } });
    const body = await check.text();
    if (check.status !== 200) throw new Error(`GET ${url}: HTTP ${check.status} ${body}`);
    const bodyFile = path.join(work, 'body.json');
    await writeFile(bodyFile, body);
    const raw = spawnNode('bench/static-json-server.ts', [], { BENCH_BODY_FILE: bodyFile });
    cleanups.unshift(() => raw.stop());
    const rawPort = (await raw.waitForLine(/^READY (\d+)$/))[1]!;

    // A short warm-up of each (JIT, connection pools), then the measured runs.
    for (const u of [url, runningUrl, `${ready.url}/healthz`, `http://127.0.0.1:${rawPort}/`]) await wrk(bin, u, 2, [auth]);
    const rssBefore = memoryOf(cp.pid)?.rss ?? 0;
    log(`wrk -t${WRK.threads} -c${WRK.connections} -d${seconds}s GET /api/upgrades/:id`);
    const api = await wrk(bin, url, seconds, [auth]);
    const rssAfter = memoryOf(cp.pid)?.rss ?? 0;
    // /healthz right after, so the ratio compares runs under the same load as nearly as a shared machine allows.
    const healthz = await wrk(bin, `${ready.url}/healthz`, seconds);
    const running = await wrk(bin, runningUrl, seconds, [auth]);
    const bare = await wrk(bin, `http://127.0.0.1:${rawPort}/`, seconds);
    for (const [what, r] of [['api', api], ['api (running upgrade)', running], ['healthz', healthz], ['raw', bare]] as const) {
      if (r.errors.length > 0) throw new Error(`wrk against ${what} reported errors: ${r.errors.join('; ')}`);
      log(`${what}: ${r.requestsPerSecond.toFixed(0)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`);
    }
    return {
      name: 'status',
      title: `GET /api/upgrades/:id under wrk (${WRK.connections} connections, ${seconds} s, loopback)`,
      params: { ...WRK, seconds, responseBytes: Buffer.byteLength(body), auth: 'API token (Authorization: Bearer)' },
      measurements: [
        asMeasurement('GET /api/upgrades/:id, finished upgrade (token auth)', api),
        asMeasurement('GET /api/upgrades/:id, running upgrade (token auth + PostgreSQL)', running),
        asMeasurement('GET /healthz, same process (Express, no auth, no database)', healthz),
        asMeasurement('baseline: bare node:http, same JSON bytes', bare),
      ],
      ratios: [
        { label: 'requests/s: /api/upgrades/:id (finished) / /healthz (target ≥ 0.6)', value: api.requestsPerSecond / healthz.requestsPerSecond },
        { label: 'requests/s: /api/upgrades/:id (running) / /healthz', value: running.requestsPerSecond / healthz.requestsPerSecond },
        { label: 'requests/s: /api/upgrades/:id / bare node:http', value: api.requestsPerSecond / bare.requestsPerSecond },
        { label: 'p99: /api/upgrades/:id / bare node:http', value: api.p99Ms / bare.p99Ms },
      ],
      details: { api, running, healthz, raw: bare, controlPlaneRssMiB: { before: MiB(rssBefore), after: MiB(rssAfter) } },
      notes: [
        'In the measurement table, "median ms" is wrk\'s p50 latency, "p95 ms" column holds wrk\'s p99, and "reps" the number of requests.',
        'Each API request checks the token: sha256, then the verified-token cache (api/auth-cache.ts, trusted 2 s after its last read from PostgreSQL, so a revocation by another process is refused within 2 s), then the role table, in a router of its own mounted ahead of the others (api/routes/upgrade-status.ts), so a poll does not walk every other router and the body parser first. A finished upgrade is read from PostgreSQL once and then answered from memory (it never changes again); concurrent requests for a running one share the next query that starts after they arrive (api/upgrade-reads.ts), so each still sees every change committed before it asked.',
        'wrk, the server and PostgreSQL share the same two cores.',
      ],
    };
  } finally {
    for (const c of cleanups) await c().catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}

export function formatStatus(r: BenchResult): string {
  const d = r.details as { api: WrkResult; running?: WrkResult; healthz: WrkResult; raw: WrkResult };
  const row = (label: string, x: WrkResult) => `| ${label} | ${x.requestsPerSecond.toFixed(0)} | ${x.p50Ms.toFixed(2)} | ${x.p90Ms.toFixed(2)} | ${x.p99Ms.toFixed(2)} | ${x.requests} |`;
  return [
    `| wrk -t${r.params.threads} -c${r.params.connections} -d${r.params.seconds}s | req/s | p50 ms | p90 ms | p99 ms | requests |`,
    '|---|---:|---:|---:|---:|---:|',
    row('GET /api/upgrades/:id, finished upgrade (token)', d.api),
    ...(d.running ? [row('GET /api/upgrades/:id, running upgrade (token + PostgreSQL)', d.running)] : []),
    row('GET /healthz (Express only)', d.healthz),
    row('baseline: bare node:http, same bytes', d.raw),
    '',
    '| ratio | value |',
    '|---|---:|',
    ...r.ratios.map((x) => `| ${x.label} | ${x.value.toFixed(2)}× |`),
    '',
    ...r.notes.slice(1).map((n) => `- ${n}`),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchStatus();
  console.log(formatStatus(r));
}
