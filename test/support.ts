/**
 * Shared pieces of the integration tests: a fresh database on the real
 * PostgreSQL per test file, the control plane on it, and polling helpers.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import pg from 'pg';
import { TERMINAL_STATUSES } from '../core/types.js';
import { findTemporalCli } from '../platform/temporal-server.js';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../api/control-plane.js';
import { createAuthStore } from '../api/auth-store.js';
import { newApiToken, sha256, TOKEN_PREFIX } from '../api/credentials.js';
import { hashPassword } from '../api/passwords.js';
import type { Role } from '../api/roles.js';
import { testKeyring } from './test-key.js';
import { plainPayloads, secretHits } from './secret-scan.js';

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

export interface ApiAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface TestOperator {
  id: string;
  email: string;
  password: string;
  /** An API token of this operator. */
  token: string;
}

export interface TestControlPlane extends ControlPlane {
  /** The task queue this control plane's worker polls. */
  taskQueue: string;
  /** The operator the harness created; `api()` calls as it, with its API token. */
  operator: TestOperator;
  /** A call as the harness's operator (Authorization: Bearer its token). */
  api<T = any>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>>;
  /** A call without any credentials. */
  anon<T = any>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>>;
  /** A call with exactly these headers (a token, a cookie, …) and no others added. */
  request<T = any>(method: string, path: string, opts?: { body?: unknown; headers?: Record<string, string> }): Promise<ApiAnswer<T>>;
  /** Another operator (an admin unless given a role) with a token of its own. */
  createOperator(email?: string, password?: string, role?: Role): Promise<TestOperator>;
  stop(): Promise<void>;
}

/** An operator and an API token, straight into the control plane's database. */
export async function createTestOperator(
  cp: ControlPlane,
  email = `${uniqueName('operator-')}@drydock.test`,
  password = uniqueName('pw-'),
  role: Role = 'admin',
): Promise<TestOperator> {
  const store = createAuthStore(cp.db.prisma);
  const op = await store.createOperator({ email, role, passwordHash: await hashPassword(password) });
  if (!op) throw new Error(`the operator ${email} exists already`);
  const token = newApiToken();
  await store.createToken({ name: 'tests', tokenHash: sha256(token), prefix: token.slice(0, TOKEN_PREFIX.length + 6), operatorId: op.id, role, expiresAt: null });
  return { id: op.id, email, password, token };
}

/** One API request; the body parsed as JSON when it is JSON, else kept as text. */
export async function callApi(url: string, method: string, body: unknown, headers: Record<string, string>): Promise<ApiAnswer> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** A POST from a chosen loopback source address, so the per-address limit can be exercised. */
export function postFrom(localAddress: string, url: string, body: unknown) {
  return new Promise<{ status: number; retryAfter?: string; body: any }>((resolve, reject) => {
    const text = JSON.stringify(body);
    const u = new URL(url);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } },
      (res) => {
        let data = '';
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body: JSON.parse(data) }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** The real control plane (API + in-process worker) on a fresh database and the shared Temporal dev server. */
export async function startTestControlPlane(opts: Partial<ControlPlaneOptions> = {}): Promise<TestControlPlane> {
  const database = await createTestDatabase();
  const cp = await startControlPlaneOn(database.url, opts).catch(async (err: unknown) => {
    await database.drop();
    throw err;
  });
  return {
    ...cp,
    async stop() {
      await cp.stop();
      await database.drop();
    },
  };
}

/**
 * The same on a given database (a throwaway PostgreSQL, or one that outlives
 * a restart of the control plane). `stop()` closes the control plane only;
 * the database is the caller's.
 */
export async function startControlPlaneOn(
  databaseUrl: string,
  opts: Partial<ControlPlaneOptions> & { operator?: TestControlPlane['operator'] } = {},
): Promise<TestControlPlane> {
  const temporalAddress = opts.temporalAddress ?? process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) throw new Error('TEMPORAL_ADDRESS is unset: the global setup starts the Temporal dev server');
  const taskQueue = opts.taskQueue ?? uniqueName('test-queue-');
  const cp = await startControlPlane({
    databaseUrl,
    temporalAddress,
    temporalUiUrl: process.env.TEMPORAL_UI_URL,
    port: 0,
    taskQueue,
    verifyPollMs: 200,
    log: () => {},
    firstOperator: null,
    keyring: testKeyring(),
    // Tests that need the drift schedule ask for it; the others leave no schedule behind on the shared Temporal server.
    driftIntervalMs: null,
    ...opts,
  });
  const operator = opts.operator ?? (await createTestOperator(cp));
  return {
    ...cp,
    taskQueue,
    operator,
    api: (method, path, body) => callApi(`${cp.url}${path}`, method, body, { authorization: `Bearer ${operator.token}` }),
    anon: (method, path, body) => callApi(`${cp.url}${path}`, method, body, {}),
    request: (method, path, o = {}) => callApi(`${cp.url}${path}`, method, o.body, o.headers ?? {}),
    createOperator: (email, password, role) => createTestOperator(cp, email, password, role),
    stop: () => cp.close(),
  };
}

/** Signs in as the operator: the headers of a UI request (session cookie and the UI's header). */
export async function sessionOf(cp: ControlPlane, op: { email: string; password: string }): Promise<Record<string, string>> {
  const res = await callApi(`${cp.url}/api/auth/login`, 'POST', { email: op.email, password: op.password }, {});
  if (res.status !== 200) throw new Error(`sign-in as ${op.email} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, 'x-drydock-request': 'ui' };
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

/**
 * The upgrade's row records its end in the workflow's last task, a moment
 * before the workflow closes. A row that has ended is returned once its
 * workflow has closed too, so the next upgrade of the instance is not refused
 * as busy and a history recorded after it is whole.
 */
async function onceClosed<T extends { status: string; workflowId: string; runId: string | null }>(cp: TestControlPlane, row: T): Promise<T> {
  if (!(TERMINAL_STATUSES as readonly string[]).includes(row.status)) return row;
  const handle = cp.temporal.workflow.getHandle(row.workflowId, row.runId ?? undefined);
  await waitFor(`the workflow ${row.workflowId} to close after its row said ${row.status}`, async () =>
    (await handle.describe()).status.name === 'RUNNING' ? undefined : true, 30_000, 100);
  return row;
}

/** Polls the API until the upgrade reaches one of the statuses; returns its row (an ended one once its workflow closed). */
export async function waitForUpgradeStatus(cp: TestControlPlane, upgradeId: string, statuses: readonly string[], timeoutMs = 120_000) {
  const row = await waitFor(`upgrade ${upgradeId} to be ${statuses.join(' or ')}`, async () => {
    const { status, body } = await cp.api('GET', `/api/upgrades/${upgradeId}`);
    return status === 200 && statuses.includes(body.status) ? body : undefined;
  }, timeoutMs);
  return onceClosed(cp, row);
}

/** Until it ends, or parks for an operator. */
export function waitForUpgradeEnd(cp: TestControlPlane, upgradeId: string, timeoutMs = 120_000) {
  return waitForUpgradeStatus(cp, upgradeId, [...TERMINAL_STATUSES, 'needs-attention'], timeoutMs);
}

/**
 * After an operator's Retry of a parked upgrade: until it ends or parks again.
 * The API accepts the decision once the workflow has taken it; the row shows
 * the step running only when the retried step's activity starts (its progress
 * rides on it), so the row may still read `needs-attention` for a moment.
 * A retried step adds a step entry, which tells the new state from the old.
 */
export async function waitForUpgradeEndAfterRetry(cp: TestControlPlane, parked: { id: string; steps: unknown[] }, timeoutMs = 120_000) {
  const ends: readonly string[] = [...TERMINAL_STATUSES, 'needs-attention'];
  const row = await waitFor(`upgrade ${parked.id} to end or park again after the retry`, async () => {
    const { status, body } = await cp.api('GET', `/api/upgrades/${parked.id}`);
    return status === 200 && ends.includes(body.status) && body.steps.length > parked.steps.length ? body : undefined;
  }, timeoutMs);
  return onceClosed(cp, row);
}

export const HISTORIES_DIR = path.join(import.meta.dirname, '..', 'workflows', 'histories');

/**
 * The history of a real run as Temporal stores it (the CLI's JSON, without a
 * codec), checked for tenant secrets and plain payloads: every test that runs
 * a workflow to record it fails on a hit. With RECORD_HISTORIES=1 it is also
 * kept as a replay fixture (workflows/replay.test.ts replays them all).
 */
export async function recordHistory(cp: ControlPlane, workflowId: string, runId: string, name: string) {
  // The CLI's JSON is the canonical history format that replay reads.
  const cli = await findTemporalCli();
  const { stdout } = await promisify(execFile)(
    cli,
    ['workflow', 'show', '--address', cp.temporalAddress, '--workflow-id', workflowId, '--run-id', runId, '--output', 'json'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const problems = [...secretHits(stdout), ...plainPayloads(JSON.parse(stdout)).map((p) => `plain payload at ${p}`)];
  if (problems.length > 0) throw new Error(`the history of ${name} (${workflowId}) holds secrets or plain payloads:\n${problems.join('\n')}`);
  if (process.env.RECORD_HISTORIES !== '1') return;
  await mkdir(HISTORIES_DIR, { recursive: true });
  await writeFile(path.join(HISTORIES_DIR, `${name}.json`), stdout);
}
