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
import { createAuth, isOpenApiPath } from '../api/auth.js';
import { ensureFirstOperator } from '../api/first-operator.js';
import { hashPassword, verifyPassword } from '../api/passwords.js';
import { createAuditLog } from '../api/audit.js';
import { createSignInLimiter, delayAfter } from '../api/sign-in-limiter.js';
import { createInstanceRepo, createUpgradeRepo } from '../prisma/repositories.js';
import { openDatabase } from '../prisma/db.js';
import { createDriverFactory } from '../transports/drivers.js';
import { createPlanner, renderDefaultsFromEnv } from '../worker/planner.js';
import { createUpgradeService } from '../api/upgrade-service.js';
import { createTestDatabase, sessionOf, startTestControlPlane, uniqueName, waitForUpgradeStatus, type TestControlPlane } from './support.js';

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
async function appOn(cp: TestControlPlane, authOptions: Omit<Parameters<typeof createAuth>[0], 'store' | 'audit'>, extra: Partial<Parameters<typeof createApp>[0]>) {
  const store = createAuthStore(cp.db.prisma);
  const audit = createAuditLog(cp.db.prisma);
  const upgrades = createUpgradeRepo(cp.db.prisma);
  return createApp({
    driverFor: await createDriverFactory(),
    planner: createPlanner(renderDefaultsFromEnv()),
    instances: createInstanceRepo(cp.db.prisma),
    upgrades,
    defaultImageTag: 'latest',
    upgradeService: createUpgradeService({ temporal: cp.temporal, temporalAddress: cp.temporalAddress, upgrades, defaultImageTag: 'latest' }),
    auth: { store, auth: createAuth({ store, audit, ...authOptions }) },
    audit,
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

    const created = await cp.request('POST', '/api/tokens', { headers: await sessionOf(cp, cp.operator), body: { name: 'to be revoked' } });
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
    // A token cannot mint tokens (one that never expires would outlive revoking it): only a signed-in session can.
    const byToken = await cp.api('POST', '/api/tokens', { name: 'minted by a token' });
    expect(byToken.status).toBe(403);
    expect(byToken.body.error).toMatch(/signed-in operator/);
    const created = await cp.request('POST', '/api/tokens', { headers: await sessionOf(cp, cp.operator), body: { name: 'deploy script', expiresInDays: 30 } });
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
    expect((await cp.request('POST', '/api/tokens', { headers: await sessionOf(cp, cp.operator), body: { name: '' } })).status).toBe(400);
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
    // A delay of a minute once the limit is reached (default 1 s): a loaded machine can spend a second on one password check.
    const srv = await serve(await appOn(cp, { loginLimits: { perAddress: { max: 3, windowMs: 60_000, baseDelayMs: 60_000 } } }, { log: () => {}, trustProxy: 'loopback' }));
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

  it('answers 30 parallel wrong passwords with at most the limit of 401s and 429s with Retry-After for the rest; the right password from another address still works', async () => {
    const op = await cp.createOperator();
    // The default limit for one email from one address, with a delay of 10 minutes after it (default 5 s, which 30 password checks can take on a loaded machine).
    const slow = { perEmailAndAddress: { max: 5, windowMs: 15 * 60_000, baseDelayMs: 10 * 60_000 } };
    const srv = await serve(await appOn(cp, { loginLimits: slow }, { log: () => {}, trustProxy: 'loopback' }));
    const login = (password: string, from: string) =>
      fetch(`${srv.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
        body: JSON.stringify({ email: op.email, password }),
      });
    try {
      const answers = await Promise.all(Array.from({ length: 30 }, (_, n) => login(`wrong-password-${n}`, '203.0.113.7')));
      const statuses = answers.map((a) => a.status);
      const unauthorized = statuses.filter((s) => s === 401).length;
      const limited = answers.filter((a) => a.status === 429);
      // The default limit for one email from one address is 5 failures before any delay.
      expect(unauthorized).toBeLessThanOrEqual(5);
      expect(unauthorized).toBeGreaterThan(0);
      expect(unauthorized + limited.length).toBe(30);
      for (const a of limited) expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);

      // The right password from the attacker's address is slowed down, not answered with a session...
      expect((await login(op.password, '203.0.113.7')).status).toBe(429);
      // ...and from the operator's own address it works at once.
      const ok = await login(op.password, '198.51.100.20');
      expect(ok.status).toBe(200);
      expect(ok.headers.get('set-cookie')).toMatch(/^drydock_session=/);

      // Each attempt is one audit entry, with the address it came from.
      const { entries } = await createAuditLog(cp.db.prisma).list({ action: 'auth.sign-in', actor: op.email, limit: 1000 });
      expect(entries).toHaveLength(32);
      expect(entries.filter((e) => e.outcome === 'accepted').map((e) => e.clientAddress)).toEqual(['198.51.100.20']);
      expect(entries.filter((e) => e.reason === 'wrong password')).toHaveLength(unauthorized);
      expect(entries.filter((e) => e.reason?.startsWith('too many failed sign-ins'))).toHaveLength(31 - unauthorized);
      expect(JSON.stringify(entries)).not.toContain(op.password);
      expect(JSON.stringify(entries)).not.toContain('wrong-password-');
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

  it('counts an attempt when it starts, slows down exponentially rather than locking out, and takes a success back', () => {
    let t = 0;
    const limits = {
      perEmailAndAddress: { max: 2, windowMs: 600_000, baseDelayMs: 1_000 },
      perAddress: { max: 100, windowMs: 600_000 },
      perEmail: { max: 4, windowMs: 600_000, baseDelayMs: 1_000, maxDelayMs: 8_000 },
      maxInFlight: 3,
    };
    const l = createSignInLimiter(limits, () => t);
    // Two admitted before either is checked: the third is refused at once.
    const a1 = l.admit('a@x', '1.1.1.1');
    const a2 = l.admit('a@x', '1.1.1.1');
    expect(a1.ok && a2.ok).toBe(true);
    const a3 = l.admit('a@x', '1.1.1.1');
    expect(a3).toMatchObject({ ok: false, retryAfterSeconds: 1 });
    if (a1.ok) a1.attempt.failed();
    if (a2.ok) a2.attempt.failed();
    // Exponential: 1 s after the 2nd failure, then 2 s after the 3rd.
    t = 1_000;
    const a4 = l.admit('a@x', '1.1.1.1');
    expect(a4.ok).toBe(true);
    if (a4.ok) a4.attempt.failed();
    t = 2_500;
    expect(l.admit('a@x', '1.1.1.1')).toMatchObject({ ok: false, retryAfterSeconds: 1 });
    // Another address is not held up by these (3 failures < the email's 4).
    const b = l.admit('a@x', '2.2.2.2');
    expect(b.ok).toBe(true);
    if (b.ok) b.attempt.succeeded();
    // A success takes its count back: 3 failures for the email, not 4.
    t = 3_000;
    const c = l.admit('a@x', '3.3.3.3');
    expect(c.ok).toBe(true);
    if (c.ok) c.attempt.failed();
    // Now 4 for the email: from a new address it waits, from the one that signed in before it does not.
    expect(l.admit('a@x', '4.4.4.4')).toMatchObject({ ok: false });
    const again = l.admit('a@x', '2.2.2.2');
    expect(again.ok).toBe(true);
    if (again.ok) again.attempt.succeeded();
    // At most maxInFlight checks at once.
    const held = [l.admit('p@x', '9.9.9.1'), l.admit('q@x', '9.9.9.2'), l.admit('r@x', '9.9.9.3')];
    expect(held.every((h) => h.ok)).toBe(true);
    expect(l.admit('s@x', '9.9.9.4')).toMatchObject({ ok: false, why: 'too many sign-ins at once' });
    for (const h of held) if (h.ok) h.attempt.failed();
    expect(l.admit('s@x', '9.9.9.4').ok).toBe(true);
    expect([0, 1, 2, 3, 4, 5, 40].map((n) => delayAfter(n, limits.perEmail))).toEqual([0, 0, 0, 0, 1_000, 2_000, 8_000]);
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
      expect(op!.role).toBe('admin');
      await ensureFirstOperator(store, { email: 'second@example.com', password: 'another long password' }, () => {});
      expect((await store.listOperators()).map((o) => o.email)).toEqual(['admin@example.com']);
    } finally {
      await db.close();
      await database.drop();
    }
  });
});
