/**
 * Operator sign-in on the real control plane (real PostgreSQL, real Temporal):
 * every admin route refuses anonymous callers and revoked tokens, the session
 * cookie's attributes, the cross-site guard, failed sign-ins rate limited,
 * API tokens shown once and revocable, the first operator from the
 * environment, and upgrades recorded as started by who signed in.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.js';
import { createAuthStore } from '../api/auth-store.js';
import { createAuth, createFailureLimiter, ensureFirstOperator, hashPassword, isOpenApiPath, verifyPassword } from '../api/auth.js';
import { createInstanceRepo, createUpgradeRepo } from '../prisma/repositories.js';
import { openDatabase } from '../prisma/db.js';
import { createDriverFactory } from '../worker/drivers.js';
import { createPlanner, renderDefaultsFromEnv } from '../worker/planner.js';
import { createUpgradeService } from '../api/upgrade-service.js';
import { createTestDatabase, startTestControlPlane, uniqueName, waitForUpgradeStatus, type TestControlPlane } from './support.js';

/** Every route the app serves under /api, as [METHOD, path with :params]. */
function apiRoutes(app: Express): [string, string][] {
  const out: [string, string][] = [];
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const m of Object.keys(layer.route.methods)) if (m !== '_all') out.push([m.toUpperCase(), `/api${layer.route.path}`]);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as any).router.stack);
  return out;
}

const concrete = (p: string) => p.replace(/:action/g, 'retry').replace(/:[a-zA-Z]+/g, randomUUID());

function cookieOf(setCookie: string | null): string {
  return (setCookie ?? '').split(';')[0]!;
}

/** The API app on the test control plane's database and Temporal, with its own auth settings. */
async function appOn(cp: TestControlPlane, authOptions: Omit<Parameters<typeof createAuth>[0], 'store'>, extra: Partial<Parameters<typeof createApp>[0]>) {
  const store = createAuthStore(cp.db.prisma);
  const upgrades = createUpgradeRepo(cp.db.prisma);
  return createApp({
    driverFor: await createDriverFactory(),
    planner: createPlanner(renderDefaultsFromEnv()),
    instances: createInstanceRepo(cp.db.prisma),
    upgrades,
    defaultImageTag: 'latest',
    upgradeService: createUpgradeService({ temporal: cp.temporal, temporalAddress: cp.temporalAddress, upgrades, defaultImageTag: 'latest' }),
    auth: { store, auth: createAuth({ store, ...authOptions }) },
    ...extra,
  });
}

async function serve(app: Express) {
  const server = await new Promise<Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise((r) => server.close(r)) };
}

describe('operator sign-in', () => {
  let cp: TestControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane();
  });
  afterAll(async () => cp?.stop());

  it('refuses every admin route to an anonymous caller, a malformed header, an unknown and a revoked token', async () => {
    const routes = apiRoutes(cp.app);
    const admin = routes.filter(([, p]) => !isOpenApiPath(p.slice('/api'.length)));
    // The routers the control plane serves are all there, and the open ones are only the agents' and sign-in.
    expect(admin.map(([m, p]) => `${m} ${p}`)).toEqual(
      expect.arrayContaining(['GET /api/instances', 'POST /api/instances/:id/upgrade', 'POST /api/upgrades/:id/:action', 'POST /api/agents/invites', 'GET /api/tokens']),
    );
    expect(routes.filter(([, p]) => isOpenApiPath(p.slice(4))).map(([m, p]) => `${m} ${p}`).sort()).toEqual(
      ['GET /api/auth/me', 'POST /api/agents/poll', 'POST /api/agents/register', 'POST /api/auth/login', 'POST /api/auth/logout'].sort(),
    );

    const created = await cp.api('POST', '/api/tokens', { name: 'to be revoked' });
    expect(created.status).toBe(201);
    expect((await cp.request('GET', '/api/instances', { headers: { authorization: `Bearer ${created.body.token}` } })).status).toBe(200);
    expect((await cp.api('POST', `/api/tokens/${created.body.id}/revoke`)).status).toBe(200);

    const callers: [string, Record<string, string>][] = [
      ['anonymous', {}],
      ['malformed', { authorization: 'Basic YWRtaW46YWRtaW4=' }],
      ['unknown token', { authorization: `Bearer ddk_${'x'.repeat(43)}` }],
      ['revoked token', { authorization: `Bearer ${created.body.token}` }],
      ['unknown session', { cookie: 'drydock_session=forged' }],
    ];
    const refused: string[] = [];
    for (const [method, p] of admin) {
      for (const [who, headers] of callers) {
        const res = await cp.request(method, concrete(p), { headers, body: method === 'GET' ? undefined : {} });
        if (res.status !== 401) refused.push(`${who}: ${method} ${p} -> ${res.status}`);
        else expect(res.headers.get('www-authenticate'), `${method} ${p}`).toMatch(/^Bearer/);
      }
    }
    expect(refused).toEqual([]);
    expect(admin.length).toBeGreaterThan(15);
  });

  it('signs in with a session cookie: HttpOnly, SameSite=Strict, not Secure over plain HTTP; signs out', async () => {
    const wrong = await cp.anon('POST', '/api/auth/login', { email: cp.operator.email, password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('wrong email or password');
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const ok = await cp.anon('POST', '/api/auth/login', { email: cp.operator.email.toUpperCase(), password: cp.operator.password });
    expect(ok.status).toBe(200);
    expect(ok.body.operator).toMatchObject({ email: cp.operator.email, via: 'session' });
    const setCookie = ok.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^drydock_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toMatch(/Secure/);
    const cookie = cookieOf(setCookie);

    const me = await cp.request('GET', '/api/auth/me', { headers: { cookie } });
    expect(me.body.operator.email).toBe(cp.operator.email);
    expect((await cp.request('GET', '/api/instances', { headers: { cookie } })).status).toBe(200);

    // A cookie alone cannot change anything: a cross-site form can't send the UI's header.
    const csrf = await cp.request('POST', '/api/tokens', { headers: { cookie }, body: { name: 'x' } });
    expect(csrf.status).toBe(403);
    expect(csrf.body.error).toMatch(/x-drydock-request/);
    const fromUi = await cp.request('POST', '/api/tokens', { headers: { cookie, 'x-drydock-request': 'ui' }, body: { name: 'from the ui' } });
    expect(fromUi.status).toBe(201);

    const out = await cp.request('POST', '/api/auth/logout', { headers: { cookie } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^drydock_session=; .*Max-Age=0/);
    expect((await cp.request('GET', '/api/instances', { headers: { cookie } })).status).toBe(401);
    const after = await cp.request('GET', '/api/auth/me', { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ error: 'not signed in', setupNeeded: false });
  });

  it('shows an API token once, keeps only its hash, and revokes it', async () => {
    const created = await cp.api('POST', '/api/tokens', { name: 'deploy script', expiresInDays: 30 });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^ddk_[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({ name: 'deploy script', operatorEmail: cp.operator.email, revokedAt: null });
    const listed = await cp.api('GET', '/api/tokens');
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token);
    expect(listed.body.find((t: { id: string }) => t.id === created.body.id)).toMatchObject({ prefix: created.body.token.slice(0, 10) });
    const rows = await cp.db.prisma.apiToken.findMany();
    expect(JSON.stringify(rows)).not.toContain(created.body.token);

    const as = { authorization: `Bearer ${created.body.token}` };
    expect((await cp.request('GET', '/api/auth/me', { headers: as })).body.operator).toMatchObject({ via: 'token', email: cp.operator.email });
    const revoked = await cp.api('POST', `/api/tokens/${created.body.id}/revoke`);
    expect(revoked.body).toMatchObject({ revokedBy: cp.operator.email });
    const refused = await cp.request('GET', '/api/instances', { headers: as });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toMatch(/revoked/);
    expect((await cp.api('POST', '/api/tokens', { name: '' })).status).toBe(400);
  });

  it('records the signed-in operator as who started an upgrade, whatever header the caller sends', async () => {
    const other = await cp.createOperator();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-auth-'));
    try {
      const inst = await cp.api('POST', '/api/instances', { slug: uniqueName('auth-'), name: 'Auth', composeDir: dir });
      expect(inst.status).toBe(201);
      const started = await cp.request('POST', `/api/instances/${inst.body.id}/upgrade-images`, {
        headers: { authorization: `Bearer ${other.token}`, 'x-drydock-operator': 'mallory' },
        body: {},
      });
      expect(started.status).toBe(202);
      const row = await cp.api('GET', `/api/upgrades/${started.body.upgradeId}`);
      expect(row.body.requestedBy).toBe(other.email);
      // Nothing runs there; end it.
      expect((await cp.api('POST', `/api/upgrades/${started.body.upgradeId}/cancel`)).status).toBe(202);
      await waitForUpgradeStatus(cp, started.body.upgradeId, ['cancelled', 'failed']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('limits failed sign-ins per email, even for the right password afterwards', async () => {
    const op = await cp.createOperator();
    for (let n = 0; n < 5; n++) {
      expect((await cp.anon('POST', '/api/auth/login', { email: op.email, password: `wrong-${n}-password` })).status).toBe(401);
    }
    const limited = await cp.anon('POST', '/api/auth/login', { email: op.email, password: op.password });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body.error).toMatch(/too many failed sign-ins/);
    // Another account from the same address is not locked out by it.
    expect((await cp.anon('POST', '/api/auth/login', { email: cp.operator.email, password: cp.operator.password })).status).toBe(200);
  });

  it('limits failed sign-ins per client address; sets Secure cookies behind an HTTPS proxy', async () => {
    const srv = await serve(await appOn(cp, { loginLimits: { perAddress: { max: 3, windowMs: 60_000 } } }, { log: () => {}, trustProxy: 'loopback' }));
    const login = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${srv.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    try {
      const secure = await login({ email: cp.operator.email, password: cp.operator.password }, { 'x-forwarded-proto': 'https' });
      expect(secure.status).toBe(200);
      expect(secure.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Strict; .*Secure/);
      for (let n = 0; n < 3; n++) expect((await login({ email: `nobody${n}@example.com`, password: 'whatever-it-is' })).status).toBe(401);
      const limited = await login({ email: cp.operator.email, password: cp.operator.password });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await srv.close();
    }
  });

  it('serves the built UI, and says how to build it when it is not built', async () => {
    const uiDir = await mkdtemp(path.join(os.tmpdir(), 'drydock-ui-'));
    const srv = await serve(await appOn(cp, {}, { uiDir }));
    try {
      const missing = await fetch(`${srv.url}/instances/x`);
      expect(missing.status).toBe(503);
      expect(await missing.text()).toContain('npm run build');
      await writeFile(path.join(uiDir, 'index.html'), '<!doctype html><title>drydock</title><div id="root"></div>');
      const page = await fetch(`${srv.url}/instances/x`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="root">');
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect((await fetch(`${srv.url}/api/nothing-here`)).status).toBe(401);
    } finally {
      await srv.close();
      await rm(uiDir, { recursive: true, force: true });
    }
  });
});

describe('passwords and the first operator', () => {
  it('hashes with scrypt and verifies', async () => {
    const h = await hashPassword('correct horse battery staple');
    expect(h).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse battery staple', h)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', h)).toBe(false);
    expect(await hashPassword('correct horse battery staple')).not.toBe(h);
    expect(await verifyPassword('x', 'not-a-hash')).toBe(false);
  });

  it('counts failures in a sliding window and clears on success', () => {
    let t = 0;
    const l = createFailureLimiter({ max: 2, windowMs: 10_000 }, () => t);
    l.fail('a');
    expect(l.retryAfter('a')).toBe(0);
    l.fail('a');
    expect(l.retryAfter('a')).toBe(10);
    t = 6_000;
    expect(l.retryAfter('a')).toBe(4);
    t = 10_001;
    expect(l.retryAfter('a')).toBe(0);
    l.fail('b');
    l.fail('b');
    l.clear('b');
    expect(l.retryAfter('b')).toBe(0);
  });

  it('creates the first operator from DRYDOCK_ADMIN_EMAIL / DRYDOCK_ADMIN_PASSWORD only when there is none', async () => {
    const database = await createTestDatabase();
    const db = await openDatabase({ url: database.url });
    try {
      const store = createAuthStore(db.prisma);
      const logs: string[] = [];
      await ensureFirstOperator(store, undefined, (m) => logs.push(m));
      expect(logs.join()).toMatch(/npm run operator -- create/);
      await expect(ensureFirstOperator(store, { email: 'admin@example.com', password: 'short' }, () => {})).rejects.toThrow(/at least 10/);
      await ensureFirstOperator(store, { email: ' Admin@Example.com ', password: 'a long enough password' }, () => {});
      const op = await store.findOperatorByEmail('admin@example.com');
      expect(await verifyPassword('a long enough password', op!.passwordHash)).toBe(true);
      await ensureFirstOperator(store, { email: 'second@example.com', password: 'another long password' }, () => {});
      expect((await store.listOperators()).map((o) => o.email)).toEqual(['admin@example.com']);
    } finally {
      await db.close();
      await database.drop();
    }
  });
});
