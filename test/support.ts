/**
 * Shared pieces of the integration tests: a fresh database on the real
 * PostgreSQL per test file, the control plane on it, and polling helpers.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import pg from 'pg';
import { TERMINAL_STATUSES } from '../core/types.js';
import { findTemporalCli } from '../worker/temporal-server.js';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../api/control-plane.js';

/** The server the tests use; CI and the machine's own PostgreSQL answer here. */
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = uniqueName('drydock_test_');
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect().catch((err: Error) => {
    throw new Error(`the integration tests need PostgreSQL at ${ADMIN_DATABASE_URL} (set TEST_DATABASE_URL): ${err.message}`);
  });
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface TestControlPlane extends ControlPlane {
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/** The real control plane (API + in-process worker) on a fresh database and the shared Temporal dev server. */
export async function startTestControlPlane(opts: Partial<ControlPlaneOptions> = {}): Promise<TestControlPlane> {
  const temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) throw new Error('TEMPORAL_ADDRESS is unset: the global setup starts the Temporal dev server');
  const database = await createTestDatabase();
  const cp = await startControlPlane({
    databaseUrl: database.url,
    temporalAddress,
    temporalUiUrl: process.env.TEMPORAL_UI_URL,
    port: 0,
    taskQueue: uniqueName('test-queue-'),
    verifyPollMs: 200,
    log: () => {},
    ...opts,
  });
  return {
    ...cp,
    async api(method, path, body) {
      const res = await fetch(`${cp.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async stop() {
      await cp.close();
      await database.drop();
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000, everyMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls the API until the upgrade reaches one of the statuses; returns its row. */
export function waitForUpgradeStatus(cp: TestControlPlane, upgradeId: string, statuses: readonly string[], timeoutMs = 120_000) {
  return waitFor(`upgrade ${upgradeId} to be ${statuses.join(' or ')}`, async () => {
    const { status, body } = await cp.api('GET', `/api/upgrades/${upgradeId}`);
    return status === 200 && statuses.includes(body.status) ? body : undefined;
  }, timeoutMs);
}

/** Until it ends, or parks for an operator. */
export function waitForUpgradeEnd(cp: TestControlPlane, upgradeId: string, timeoutMs = 120_000) {
  return waitForUpgradeStatus(cp, upgradeId, [...TERMINAL_STATUSES, 'needs-attention'], timeoutMs);
}

export const HISTORIES_DIR = path.join(import.meta.dirname, '..', 'workflows', 'histories');

/**
 * With RECORD_HISTORIES=1, keeps the history of a real run as a replay
 * fixture (workflows/replay.test.ts replays them all on every test run).
 */
export async function recordHistory(cp: ControlPlane, workflowId: string, runId: string, name: string) {
  if (process.env.RECORD_HISTORIES !== '1') return;
  // The CLI's JSON is the canonical history format that replay reads.
  const cli = await findTemporalCli();
  const { stdout } = await promisify(execFile)(
    cli,
    ['workflow', 'show', '--address', cp.temporalAddress, '--workflow-id', workflowId, '--run-id', runId, '--output', 'json'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  await mkdir(HISTORIES_DIR, { recursive: true });
  await writeFile(path.join(HISTORIES_DIR, `${name}.json`), stdout);
}
