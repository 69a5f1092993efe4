/**
 * State every control-plane process must agree on (issue 17), on two real
 * control planes sharing one PostgreSQL database as two API processes behind
 * a load balancer would: the rate limits hold across both, both use one agent
 * CA kept sealed in the database (created once when processes race, imported
 * from an earlier version's directory), and a revoked agent or session is
 * refused by the other process within the stated bound.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_CACHE_TTL_MS } from '../api/auth-cache.js';
import { createKeyring, generateKey, parseKeys } from '../core/keyring.js';
import { createCsr, generateKeyPair } from '../core/pki.js';
import { TenantError } from '../core/driver.js';
import { openCa, openSharedCa, CA_KEY_MATERIAL, CLIENT_KEY_MATERIAL } from '../platform/ca.js';
import { openDatabase, type Database } from '../prisma/db.js';
import { createAgentRepo } from '../prisma/repositories.js';
import { createDriverFactory } from '../transports/drivers.js';
import { TEST_ONLY_SECRET_KEY, testKeyring } from './test-key.js';
import { createTestDatabase, postFrom, sessionOf, startControlPlaneOn, uniqueName, type TestControlPlane } from './support.js';

/**
 * Sign-in limits with a delay of 10 minutes after the 5th failure for one email from one address (by default 5 s, which a
 * heavily loaded machine can spend between two requests, letting a later attempt in legitimately).
 */
const loginLimits = { perEmailAndAddress: { max: 5, windowMs: 15 * 60_000, baseDelayMs: 10 * 60_000 } };

describe('two control planes on one database', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let dataDir: string;
  let a: TestControlPlane;
  let b: TestControlPlane;

  beforeAll(async () => {
    database = await createTestDatabase();
    // A data directory without a CA in it: the CA is the database's.
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'drydock-shared-'));
    a = await startControlPlaneOn(database.url, { runWorker: false, dataDir, auth: { loginLimits } });
    b = await startControlPlaneOn(database.url, { runWorker: false, dataDir, auth: { loginLimits }, operator: a.operator });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('allows ten registrations from one address between both processes, and refuses the 11th on either', async () => {
    const body = { inviteCode: 'guess', slug: 'guessing', csr: await createCsr('guessing', await generateKeyPair()), agentUrl: 'https://127.0.0.1:1', composeDir: '/srv/g' };
    for (let i = 1; i <= 10; i++) {
      const via = i % 2 ? a : b;
      expect((await postFrom('127.0.0.9', `${via.url}/api/agents/register`, body)).status, `attempt ${i}`).toBe(403);
    }
    for (const via of [a, b]) {
      const refused = await postFrom('127.0.0.9', `${via.url}/api/agents/register`, body);
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThan(850);
    }
    // Another address is not held up by it.
    expect((await postFrom('127.0.0.10', `${b.url}/api/agents/register`, body)).status).toBe(403);
  });

  it('slows down the 6th sign-in for one account from one address whichever process the first five wrong passwords reached', async () => {
    const op = await a.createOperator();
    for (let n = 0; n < 5; n++) {
      const via = n % 2 ? a : b;
      expect((await via.anon('POST', '/api/auth/login', { email: op.email, password: `wrong-${n}-password` })).status).toBe(401);
    }
    for (const via of [a, b]) {
      const limited = await via.anon('POST', '/api/auth/login', { email: op.email, password: op.password });
      expect(limited.status).toBe(429);
      expect(limited.body.error).toMatch(/too many failed sign-ins/);
    }
  });

  it('admits at most the limit of 30 parallel wrong passwords sent to both processes at once', async () => {
    const op = await a.createOperator();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, n) => (n % 2 ? a : b).anon('POST', '/api/auth/login', { email: op.email, password: `parallel-wrong-${n}` })),
    );
    // Anything else (a failed statement answered 500) says which answers it was.
    expect(answers.filter((r) => r.status !== 401 && r.status !== 429).map((r) => `${r.status} ${JSON.stringify(r.body)}`)).toEqual([]);
    const checked = answers.filter((r) => r.status === 401).length;
    // One email from one address: 5 failures before any delay, counted before each password is checked; the rest are
    // refused (slowed down, or more than 8 password checks at once in one process).
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThanOrEqual(5);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(30 - checked);
  });

  it('gives both processes one agent CA and one client identity, with the private keys sealed in the database', async () => {
    const [fromA, fromB] = await Promise.all([a, b].map((cp) => cp.api('POST', '/api/agents/invites', { anySlug: true })));
    expect(fromA!.body.caFingerprint256).toMatch(/^[0-9A-F:]{95}$/);
    expect(fromB!.body.caFingerprint256).toBe(fromA!.body.caFingerprint256);
    const rows = await a.db.prisma.keyMaterial.findMany({ orderBy: { name: 'asc' } });
    expect(rows.map((r) => r.name)).toEqual([CA_KEY_MATERIAL, CLIENT_KEY_MATERIAL]);
    expect(new X509Certificate(rows[0]!.certPem).fingerprint256).toBe(fromA!.body.caFingerprint256);
    for (const r of rows) {
      expect(r.keySealed).toMatch(/^dd1\./);
      expect(r.keySealed).not.toMatch(/PRIVATE KEY/);
      // The sealed key opens with the keyring the processes share, and only for its own row.
      expect(testKeyring().openString(r.keySealed, `key-material:${r.name}`)).toMatch(/BEGIN PRIVATE KEY/);
      expect(() => testKeyring().openString(r.keySealed, 'key-material:elsewhere')).toThrow(/did not authenticate/);
    }
  });

  it('refuses an agent revoked through one process at once on the other: its poll and the driver that would call it', async () => {
    const slug = uniqueName('rvk');
    const invite = await a.api('POST', '/api/agents/invites', { slug });
    const registered = await postFrom('127.0.0.11', `${a.url}/api/agents/register`, {
      inviteCode: invite.body.code,
      slug,
      csr: await createCsr(slug, await generateKeyPair()),
      agentUrl: 'https://127.0.0.1:1',
      composeDir: `/srv/${slug}`,
    });
    const id = registered.body.registrationId as string;
    expect((await a.api('POST', `/api/agents/registrations/${id}/approve`, {})).status).toBe(200);
    // b's remote driver, as b's worker builds it: it asks the database before every call.
    const driverFor = await createDriverFactory({ remote: { credentials: { ca: '', cert: '', key: '' }, approvedAgent: createAgentRepo(b.db.prisma).approvedAgent } });
    const driver = driverFor({ slug, composeProjectName: slug, composeDir: `/srv/${slug}`, isRemote: true, agentUrl: 'https://127.0.0.1:1' });
    const before = await driver.ping().catch((err: TenantError) => err);
    // Approved: b would call it (nobody answers there).
    expect(before).toBeInstanceOf(TenantError);
    expect((before as TenantError).code).not.toBe('agent-not-approved');
    expect((await b.anon('POST', '/api/agents/poll', { registrationId: id, slug })).body.status).toBe('approved');

    expect((await a.api('POST', `/api/agents/registrations/${id}/revoke`, { reason: 'host retired' })).status).toBe(200);
    const poll = await b.anon('POST', '/api/agents/poll', { registrationId: id, slug });
    expect([poll.status, poll.body.status]).toEqual([403, 'revoked']);
    const after = await driver.ping().catch((err: TenantError) => err);
    expect((after as TenantError).code).toBe('agent-not-approved');
  });

  it('refuses a session signed out through one process on the other within the credential cache bound', async () => {
    const session = await sessionOf(a, a.operator);
    expect((await b.request('GET', '/api/instances', { headers: session })).status).toBe(200);
    const signedOutAt = performance.now();
    expect((await a.request('POST', '/api/auth/logout', { headers: session })).status).toBe(204);
    expect((await a.request('GET', '/api/instances', { headers: session })).status).toBe(401);
    let status = 200;
    while (status === 200 && performance.now() - signedOutAt < AUTH_CACHE_TTL_MS + 10_000) {
      status = (await b.request('GET', '/api/instances', { headers: session })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 25));
    }
    expect(status).toBe(401);
    // Counted from b's last read, which came before the sign-out.
    expect(performance.now() - signedOutAt).toBeLessThan(AUTH_CACHE_TTL_MS + 1_000);
  });
});

describe('the agent CA in the database', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let work: string;
  const opened: Database[] = [];
  const open = async () => {
    const db = await openDatabase({ url: database.url });
    opened.push(db);
    return db;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-ca-db-'));
  });
  afterAll(async () => {
    for (const db of opened) await db.close();
    await database?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const clear = async (db: Database) => db.prisma.keyMaterial.deleteMany({});

  it('is created once when three processes start at the same moment on an empty database', async () => {
    await clear(await open());
    // Each loads, says it is ready, and waits for the word to go: all three look for the CA at once.
    const script = `
      const { openDatabase } = await import('./prisma/db.ts');
      const { openSharedCa } = await import('./platform/ca.ts');
      const { keyringFromEnv } = await import('./platform/keys.ts');
      const db = await openDatabase({ url: process.env.DATABASE_URL });
      const keyring = await keyringFromEnv(process.env.DRYDOCK_DATA_DIR);
      await db.prisma.$queryRaw\`SELECT 1\`; // connected: the first query does not set the pace
      console.log('ready');
      await new Promise((r) => process.stdin.once('data', r));
      const ca = await openSharedCa({ prisma: db.prisma, keyring, log: (m) => console.error(m) });
      console.log(JSON.stringify({ ca: ca.fingerprint256, client: ca.clientCredentials.cert }));
      await db.close();`;
    const children = [1, 2, 3].map((n) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: path.join(import.meta.dirname, '..'),
        env: { ...process.env, DATABASE_URL: database.url, DRYDOCK_SECRET_KEY: TEST_ONLY_SECRET_KEY, DRYDOCK_DATA_DIR: path.join(work, `p${n}`) },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      const ready = new Promise<void>((resolve) => child.stdout.on('data', (c) => ((out += c), out.includes('ready') && resolve())));
      child.stderr.on('data', (c) => (err += c));
      const done = new Promise<{ out: string; err: string }>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve({ out, err }) : reject(new Error(`process ${n} exited ${code}: ${err}`))));
      });
      return { child, ready, done };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.end('go\n');
    const runs = await Promise.all(children.map((c) => c.done));
    const seen = runs.map((r) => JSON.parse(r.out.trim().split('\n').at(-1)!) as { ca: string; client: string });
    expect(new Set(seen.map((s) => s.ca)).size).toBe(1);
    expect(new Set(seen.map((s) => s.client)).size).toBe(1);
    expect(runs.filter((r) => r.err.includes('created the agent CA in the database'))).toHaveLength(1);
    const db = opened[0]!;
    expect(await db.prisma.keyMaterial.count()).toBe(2);
    expect(new X509Certificate((await db.prisma.keyMaterial.findUniqueOrThrow({ where: { name: CA_KEY_MATERIAL } })).certPem).fingerprint256).toBe(seen[0]!.ca);
  }, 300_000);

  it('imports the CA an earlier version kept on disk, so agents enrolled with it keep working, and imports it only once', async () => {
    const db = await open();
    await clear(db);
    const dir = path.join(work, 'old-ca');
    const old = await openCa(dir);
    const enrolled = new X509Certificate((await old.signAgentCsr(await createCsr('acme', await generateKeyPair()), 'acme')).certPem);
    const logs: string[] = [];
    const shared = await openSharedCa({ prisma: db.prisma, keyring: testKeyring(), importFrom: dir, log: (m) => logs.push(m) });
    expect(shared.certPem).toBe(old.certPem);
    expect(logs.join('\n')).toMatch(/imported the agent CA from .*old-ca into the database/);
    const caCert = new X509Certificate(shared.certPem);
    // The agent's certificate still chains to the CA the control plane uses, and the agent accepts the control plane's client certificate (same CA).
    expect(enrolled.verify(caCert.publicKey)).toBe(true);
    expect(new X509Certificate(shared.clientCredentials.cert).verify(caCert.publicKey)).toBe(true);
    // A new agent is signed with the imported CA too.
    const fresh = await shared.signAgentCsr(await createCsr('newco', await generateKeyPair()), 'newco');
    expect(new X509Certificate(fresh.certPem).verify(caCert.publicKey)).toBe(true);

    await rm(dir, { recursive: true });
    const again = await openSharedCa({ prisma: db.prisma, keyring: testKeyring(), importFrom: dir });
    expect(again.fingerprint256).toBe(shared.fingerprint256);
    expect(again.clientCredentials.cert).toBe(shared.clientCredentials.cert);
  });

  it('refuses to start with another secret key, saying every process needs the same one, and never shows a key', async () => {
    const db = await open();
    await openSharedCa({ prisma: db.prisma, keyring: testKeyring() });
    const otherKey = generateKey();
    const err = await openSharedCa({ prisma: db.prisma, keyring: createKeyring(parseKeys(otherKey, 'test')) }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/must be given the same DRYDOCK_SECRET_KEY/);
    expect((err as Error).message).not.toContain(otherKey);
    expect((err as Error).message).not.toContain(TEST_ONLY_SECRET_KEY);
  });
});
