/**
 * Shared pieces of the integration tests: a fresh database on the real
 * PostgreSQL per test file, the control plane on it, and polling helpers.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
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

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

/** Polls the API until the upgrade ends; returns its final row. */
export function waitForUpgradeEnd(cp: TestControlPlane, upgradeId: string, timeoutMs = 120_000) {
  return waitFor(`upgrade ${upgradeId} to end`, async () => {
    const { status, body } = await cp.api('GET', `/api/upgrades/${upgradeId}`);
    return status === 200 && TERMINAL.includes(body.status) ? body : undefined;
  }, timeoutMs);
}
