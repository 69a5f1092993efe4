/**
 * The API's edges on the real control plane (real PostgreSQL, real Temporal
 * dev server): validation, unknown ids, conflicts, malformed bodies, and clear
 * 503s when a dependency is down.
 */
import { Client, Connection } from '@temporalio/client';
import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../prisma/generated/client.js';
import { createInstanceRepo, createUpgradeRepo } from '../prisma/repositories.js';
import { createDriverFactory } from '../transports/drivers.js';
import { createPlanner, renderDefaultsFromEnv } from '../worker/planner.js';
import { freePort } from '../platform/temporal-server.js';
import { startTestControlPlane, uniqueName, type TestControlPlane } from '../test/support.js';
import { createApp } from './app.js';
import { createAuthStore } from './auth-store.js';
import { createAuditLog } from './audit.js';
import { createAuth } from './auth.js';
import { createUpgradeService } from './upgrade-service.js';

async function serve(app: ReturnType<typeof createApp>) {
  const server = await new Promise<import('node:http').Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

const authOn = (prisma: PrismaClient) => {
  const store = createAuthStore(prisma);
  const audit = createAuditLog(prisma);
  return { auth: { auth: createAuth({ store, audit }), store }, audit };
};

const tenantDeps = async () => ({ driverFor: await createDriverFactory(), planner: createPlanner(renderDefaultsFromEnv()) });

describe('the API', () => {
  let cp: TestControlPlane;
  const valid = () => ({ slug: uniqueName('t-'), name: 'Tenant', composeDir: '/srv/tenant' });

  beforeAll(async () => {
    cp = await startTestControlPlane();
  });
  afterAll(async () => cp?.stop());

  it('creates an instance with the default core services and the default image tag', async () => {
    const res = await cp.api('POST', '/api/instances', valid());
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      coreServices: ['api', 'admin', 'media-api', 'nginx'],
      imageTag: null,
      usesDefaultImageTag: true,
      effectiveImageTag: 'latest',
      isRemote: false,
    });
    expect(res.body.composeProjectName).toBe(res.body.slug);
    const listed = await cp.api('GET', '/api/instances');
    expect(listed.body.map((i: { id: string }) => i.id)).toContain(res.body.id);
  });

  it('answers bad input with 400 and a message per field', async () => {
    const res = await cp.api('POST', '/api/instances', {
      slug: 'Not_A_Label',
      name: '',
      composeDir: 'relative/dir',
      coreServices: ['api', 'api;rm -rf /'],
      imageTag: ':bad',
    });
    expect(res.status).toBe(400);
    const fields = Object.fromEntries(res.body.fields.map((f: { field: string; message: string }) => [f.field, f.message]));
    expect(fields.slug).toMatch(/lowercase DNS label/);
    expect(fields.name).toMatch(/must not be empty/);
    expect(fields.composeDir).toMatch(/absolute path/);
    expect(fields['coreServices.1']).toMatch(/compose service name/);
    expect(fields.imageTag).toMatch(/Docker tag/);
  });

  it('refuses an unknown field rather than ignoring it', async () => {
    const res = await cp.api('POST', '/api/instances', { ...valid(), colour: 'blue' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/colour/);
  });

  it('refuses a second instance with the same slug with 409', async () => {
    const body = valid();
    expect((await cp.api('POST', '/api/instances', body)).status).toBe(201);
    const again = await cp.api('POST', '/api/instances', body);
    expect(again.status).toBe(409);
    expect(again.body.error).toContain(body.slug);
  });

  it('answers 404 for an unknown instance, upgrade or route', async () => {
    expect((await cp.api('GET', '/api/instances/nope')).status).toBe(404);
    const up = await cp.api('POST', '/api/instances/nope/upgrade-images', {});
    expect(up.status).toBe(404);
    expect(up.body.error).toBe('no instance with id nope');
    expect((await cp.api('GET', '/api/upgrades/nope')).status).toBe(404);
    expect((await cp.api('GET', '/api/nothing-here')).status).toBe(404);
  });

  it('names the tag rule when a Quick Upgrade asks for a bad image tag', async () => {
    const { body } = await cp.api('POST', '/api/instances', valid());
    const res = await cp.api('POST', `/api/instances/${body.id}/upgrade-images`, { imageTag: 'a/b' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/imageTag: must be a Docker tag/);
  });

  it('answers malformed JSON with 400 and an oversized body with 413, and keeps serving', async () => {
    const bad = await cp.api('POST', '/api/instances', '{"slug":');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/not valid JSON/);
    const huge = await cp.api('POST', '/api/instances', { ...valid(), name: 'x'.repeat(300_000) });
    expect(huge.status).toBe(413);
    expect((await cp.api('GET', '/api/instances')).status).toBe(200);
  });

  it('answers 503 naming Temporal when the Temporal server is unreachable', async () => {
    const deadPort = await freePort();
    const temporal = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${deadPort}`, connectTimeout: 2_000 }) });
    const upgrades = createUpgradeRepo(cp.db.prisma);
    const instances = createInstanceRepo(cp.db.prisma);
    const created = await instances.create({ ...valid(), composeProjectName: 'x', coreServices: ['api'] });
    const app = createApp({
      ...(await tenantDeps()),
      instances,
      upgrades,
      defaultImageTag: 'latest',
      log: () => {},
      upgradeService: createUpgradeService({ temporal, temporalAddress: `127.0.0.1:${deadPort}`, upgrades, defaultImageTag: 'latest' }),
      ...authOn(cp.db.prisma),
    });
    const srv = await serve(app);
    try {
      const t0 = Date.now();
      const res = await fetch(`${srv.url}/api/instances/${created!.id}/upgrade-images`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cp.operator.token}` },
      });
      expect(res.status).toBe(503);
      expect((await res.json()).error).toBe(`the Temporal server is unreachable: 127.0.0.1:${deadPort} did not answer`);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      await srv.close();
    }
  });

  it('answers 503 naming the database when PostgreSQL is unreachable', async () => {
    const deadPort = await freePort();
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: `postgresql://postgres@127.0.0.1:${deadPort}/x` }) });
    const upgrades = createUpgradeRepo(prisma);
    const app = createApp({
      ...(await tenantDeps()),
      instances: createInstanceRepo(prisma),
      upgrades,
      defaultImageTag: 'latest',
      log: () => {},
      upgradeService: createUpgradeService({ temporal: cp.temporal, temporalAddress: cp.temporalAddress, upgrades, defaultImageTag: 'latest' }),
      // Sign-in itself needs the database: the token check is what meets it down first.
      ...authOn(prisma),
    });
    const srv = await serve(app);
    try {
      const res = await fetch(`${srv.url}/api/instances`, { headers: { authorization: `Bearer ${cp.operator.token}` } });
      expect(res.status).toBe(503);
      const body = await res.json();
      expect(body.error).toMatch(/database is unreachable/);
      expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
    } finally {
      await srv.close();
      await prisma.$disconnect();
    }
  });
});
