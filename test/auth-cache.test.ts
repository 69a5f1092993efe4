/**
 * The verified-credential cache (api/auth-cache.ts) on two real control
 * planes sharing one PostgreSQL database, as two processes of one deployment
 * would: what one of them revokes or disables, the other refuses within
 * AUTH_CACHE_TTL_MS, and the one that made the change refuses at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_CACHE_TTL_MS, cachedAuthStore } from '../api/auth-cache.js';
import { createAuthStore } from '../api/auth-store.js';
import { sha256 } from '../api/credentials.js';
import { createTestDatabase, sessionOf, startControlPlaneOn, type TestControlPlane } from './support.js';

/** Polls until `path` answers 401 to `token`; returns how long that took after `since`. */
async function msUntilRefused(cp: TestControlPlane, token: string, since: number, path = '/api/instances'): Promise<number> {
  for (;;) {
    const res = await cp.request('GET', path, { headers: { authorization: `Bearer ${token}` } });
    if (res.status === 401) return performance.now() - since;
    expect(res.status).toBe(200);
    if (performance.now() - since > AUTH_CACHE_TTL_MS + 10_000) throw new Error(`still accepted ${performance.now() - since} ms after the change`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const ok = (cp: TestControlPlane, token: string) => cp.request('GET', '/api/instances', { headers: { authorization: `Bearer ${token}` } });

describe('the verified-credential cache across control planes on one database', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: TestControlPlane;
  let b: TestControlPlane;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startControlPlaneOn(database.url, { runWorker: false });
    b = await startControlPlaneOn(database.url, { runWorker: false, operator: a.operator });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await database?.drop();
  });

  it('refuses a token revoked on one control plane at once there, and within the cache TTL on the other', async () => {
    // Tokens are made from a signed-in session (api/roles.ts), not from another token.
    const session = await sessionOf(a, a.operator);
    const created = await a.request('POST', '/api/tokens', { body: { name: 'revoked elsewhere' }, headers: session });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    // Both have verified (and cached) it.
    expect((await ok(a, token)).status).toBe(200);
    expect((await ok(b, token)).status).toBe(200);

    const readBefore = performance.now();
    expect((await a.api('POST', `/api/tokens/${created.body.id}/revoke`)).status).toBe(200);
    expect((await ok(a, token)).status).toBe(401);
    const waited = await msUntilRefused(b, token, readBefore);
    // The bound is counted from b's last read, which came before the revocation: generous for a loaded machine, not for a cache that never expires.
    expect(waited).toBeLessThan(AUTH_CACHE_TTL_MS + 1_000);
  });

  it('refuses the tokens of an operator disabled from outside (npm run operator -- disable) within the cache TTL', async () => {
    const op = await a.createOperator();
    expect((await ok(a, op.token)).status).toBe(200);
    expect((await ok(b, op.token)).status).toBe(200);
    // What the operator CLI does: its own store on the same database.
    const since = performance.now();
    expect(await createAuthStore(a.db.prisma).setDisabled(op.email, true)).toBe(true);
    const waited = Math.max(await msUntilRefused(a, op.token, since), await msUntilRefused(b, op.token, since));
    expect(waited).toBeLessThan(AUTH_CACHE_TTL_MS + 1_000);
  });

  it('serves a verified token from memory, reads it again ahead of the TTL while in use, and never keeps an unknown one', async () => {
    let reads = 0;
    const store = createAuthStore(a.db.prisma);
    let t = 0;
    const cached = cachedAuthStore(
      {
        ...store,
        findToken: (hash) => {
          reads++;
          return store.findToken(hash);
        },
      },
      { ttlMs: 1_000, now: () => t },
    );
    const hash = sha256(a.operator.token);
    expect((await cached.findToken(hash))?.operator.email).toBe(a.operator.email);
    t = 499;
    await cached.findToken(hash);
    expect(reads).toBe(1);
    // Past half the TTL: answered from memory, and read again in the background, so an entry in use does not expire.
    t = 500;
    expect((await cached.findToken(hash))?.operator.email).toBe(a.operator.email);
    expect(reads).toBe(2);
    await new Promise((r) => setTimeout(r, 200)); // the background read lands, read at t = 500
    t = 1_499;
    await cached.findToken(hash);
    expect(reads).toBe(3); // past half the TTL again: another background read
    await new Promise((r) => setTimeout(r, 200));
    // Not used for a whole TTL: read before answering.
    t = 3_000;
    await cached.findToken(hash);
    expect(reads).toBe(4);

    const unknown = sha256('ddk_unknown');
    expect(await cached.findToken(unknown)).toBeUndefined();
    expect(await cached.findToken(unknown)).toBeUndefined();
    expect(reads).toBe(6);
  });

  it('shares one query among lookups that miss together, but not with one that started before a change', async () => {
    let reads = 0;
    const store = createAuthStore(a.db.prisma);
    const cached = cachedAuthStore({
      ...store,
      findToken: (hash) => {
        reads++;
        return store.findToken(hash);
      },
    });
    const hash = sha256(a.operator.token);
    const together = await Promise.all(Array.from({ length: 50 }, () => cached.findToken(hash)));
    expect(reads).toBe(1);
    expect(together.every((f) => f?.operator.email === a.operator.email)).toBe(true);

    // A revocation through the store while a lookup is under way (it has read, and is held before answering):
    // a lookup made after the revocation queries again, and sees it.
    const created = await store.createToken({ name: 'shared', tokenHash: sha256('ddk_shared-lookup'), prefix: 'ddk_sh', operatorId: a.operator.id, role: 'admin', expiresAt: null });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const held = cachedAuthStore({
      ...store,
      findToken: async (h) => {
        const found = await store.findToken(h);
        if (calls++ === 0) await gate;
        return found;
      },
    });
    const before = held.findToken(sha256('ddk_shared-lookup'));
    await new Promise((r) => setTimeout(r, 200));
    await held.revokeToken(created.id, 'test');
    const after = held.findToken(sha256('ddk_shared-lookup'));
    release();
    expect((await before)?.token.revokedAt).toBeNull();
    expect((await after)?.token.revokedAt).toBeInstanceOf(Date);
  });

  it('records token use on the cached entry instead of touching the database on every request', async () => {
    // api/auth.ts touches a token whose lastUsedAt is over a minute old: a cached entry that kept the old time would be touched on every request.
    const t = Date.now();
    const cached = cachedAuthStore(createAuthStore(a.db.prisma), { ttlMs: 3_600_000, now: () => t });
    const hash = sha256(a.operator.token);
    const found = (await cached.findToken(hash))!;
    await cached.touchToken(found.token.id, new Date(t));
    expect((await cached.findToken(hash))!.token.lastUsedAt?.getTime()).toBe(t);
  });
});
