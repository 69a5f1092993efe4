/**
 * PostgreSQL restarted in the middle of a Quick Upgrade. The control plane
 * (API and in-process worker, as `npm start` runs them) uses a PostgreSQL of
 * its own, started for this test, so stopping it touches nothing else.
 * Meanwhile the API answers 503 naming the database, the workflow waits on
 * its database writes (retried local activities), and afterwards the upgrade
 * completes with exactly one row.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndPushImage, registryAddress } from './harness/images.js';
import { createTenant, type Tenant } from './harness/tenant.js';
import { sleep, startControlPlaneOn, startThrowawayPostgres, waitForStep, type ThrowawayPostgres } from './faults/support.js';
import { uniqueName, waitForUpgradeEnd, type TestControlPlane } from './support.js';
import { progressQuery } from '../workflows/surface.js';

const OUTAGE_MS = Number(process.env.DRYDOCK_PG_OUTAGE_MS ?? 12_000);

describe('PostgreSQL restarted during an upgrade', () => {
  let server: ThrowawayPostgres;
  let databaseUrl: string;
  let cp: TestControlPlane;
  let tenant: Tenant;
  let instanceId: string;

  beforeAll(async () => {
    const appRepo = `${registryAddress()}/drydock/pgfault-app`;
    const infraImage = `${registryAddress()}/drydock/pgfault-infra:${uniqueName('i')}`;
    const [pgServer] = await Promise.all([
      startThrowawayPostgres(),
      buildAndPushImage(`${appRepo}:1.0.0`, `pg fault one ${uniqueName('')}`),
      buildAndPushImage(`${appRepo}:1.1.0`, `pg fault two ${uniqueName('')}`),
      buildAndPushImage(infraImage, 'infra'),
    ]);
    server = pgServer;
    databaseUrl = await server.createDatabase('drydock_fault');
    cp = await startControlPlaneOn(databaseUrl);
    tenant = await createTenant({ project: uniqueName('pgr'), imageTag: '1.0.0', appImage: appRepo, infraImage });
    await tenant.up();
    const created = await cp.api('POST', '/api/instances', { slug: tenant.project, name: 'PG restart', composeDir: tenant.dir, imageTag: '1.0.0' });
    expect(created.status).toBe(201);
    instanceId = created.body.id;
  });

  afterAll(async () => {
    await tenant?.down();
    await cp?.stop();
    await server?.close();
  });

  it('answers 503 naming the database meanwhile, and the upgrade completes with one row, nothing lost or duplicated', async () => {
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, { imageTag: '1.1.0' });
    expect(started.status).toBe(202);
    const { upgradeId, workflowId } = started.body;
    await waitForStep(cp, upgradeId, 'pull');

    await server.stop('fast');
    const down = Date.now();
    const answers: Record<string, number> = {};
    const errors = new Set<string>();
    const progressSeen = new Set<string | null>();
    while (Date.now() - down < OUTAGE_MS) {
      for (const p of [`/api/upgrades/${upgradeId}`, `/api/instances/${instanceId}`, '/api/instances']) {
        const res = await cp.api('GET', p);
        answers[res.status] = (answers[res.status] ?? 0) + 1;
        if (res.status !== 200) errors.add(`${res.status} ${res.body?.error} (${res.body?.dependency})`);
      }
      // The workflow itself is fine: it shows where it is, waiting to record it.
      const view = await cp.temporal.workflow.getHandle(workflowId).query(progressQuery);
      progressSeen.add(view.currentStep);
      await sleep(500);
    }
    await server.start();
    const up = Date.now();
    const end = await waitForUpgradeEnd(cp, upgradeId, 240_000);
    console.log(
      `[fault] PostgreSQL down ${((up - down) / 1000).toFixed(1)} s during pull: API answers ${JSON.stringify(answers)} ${JSON.stringify([...errors])}; ` +
        `workflow steps seen meanwhile ${JSON.stringify([...progressSeen])}; upgrade ${end.status} ${((Date.now() - up) / 1000).toFixed(1)} s after the restart`,
    );

    // Meanwhile: only 503s that name the database, never a 500.
    expect(answers['500']).toBeUndefined();
    expect(answers['503']).toBeGreaterThan(0);
    expect([...errors]).toEqual(['503 the database is unreachable; try again shortly (database)']);
    // The workflow moved on to a step it could not record until the database came back.
    expect([...progressSeen].some((s) => s !== 'pull')).toBe(true);

    expect(end.status).toBe('succeeded');
    expect(end.error).toBeNull();
    expect(end.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'preflight:succeeded',
      'snapshot-content:succeeded',
      'pull:succeeded',
      'recreate:succeeded',
      'verify:succeeded',
      'check-content:succeeded',
      'persist-image-tag:succeeded',
    ]);
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const rows = (await db.query('SELECT id, status FROM "InstanceUpgrade" WHERE "instanceId" = $1', [instanceId])).rows;
    await db.end();
    expect(rows).toEqual([{ id: upgradeId, status: 'succeeded' }]);
    expect((await cp.api('GET', `/api/instances/${instanceId}`)).body.imageTag).toBe('1.1.0');
    for (const c of Object.values(await tenant.containers())) expect(c.state).toBe('running');
  });
});
