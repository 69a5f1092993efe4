/**
 * The Temporal dev server restarted in the middle of an upgrade, its database
 * file kept: once with SIGTERM (a restart), once with SIGKILL (a crash). The
 * control plane runs as `npm start` does (API and worker in one process) on a
 * dev server of this test's own. Meanwhile the API answers 503 naming
 * Temporal for what needs it and 200 for what the database knows; afterwards
 * the upgrade completes, with one row and one workflow.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTemporalCli, freePort, startDevServer, type DevServer } from '../../platform/temporal-server.js';
import { buildAndPushImage, registryAddress } from '../harness/images.js';
import { createTenant, type Tenant } from '../harness/tenant.js';
import { startTestControlPlane, uniqueName, waitForUpgradeEnd, type TestControlPlane } from '../support.js';
import { sleep, waitForStep } from './support.js';

const OUTAGE_MS = 8_000;

describe('the Temporal dev server restarted during an upgrade', () => {
  let dir: string;
  let cli: string;
  let ports: { port: number; uiPort: number };
  let server: DevServer;
  let cp: TestControlPlane;
  let tenant: Tenant;
  let other: string;
  let instanceId: string;

  const startServer = () =>
    startDevServer({ cli, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log'), ...ports });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-temporal-restart-'));
    cli = await findTemporalCli();
    ports = { port: await freePort(), uiPort: await freePort() };
    const appRepo = `${registryAddress()}/drydock/trestart-app`;
    const infraImage = `${registryAddress()}/drydock/trestart-infra:${uniqueName('i')}`;
    const marker = uniqueName('');
    [server] = await Promise.all([
      startServer(),
      ...['1.0.0', '1.1.0', '1.2.0'].map((t) => buildAndPushImage(`${appRepo}:${t}`, `temporal restart ${t} ${marker}`)),
      buildAndPushImage(infraImage, 'infra'),
    ]);
    cp = await startTestControlPlane({ temporalAddress: server.address, temporalUiUrl: server.uiUrl });
    tenant = await createTenant({ project: uniqueName('tr'), imageTag: '1.0.0', appImage: appRepo, infraImage });
    await tenant.up();
    instanceId = (await cp.api('POST', '/api/instances', { slug: tenant.project, name: 'Temporal restart', composeDir: tenant.dir, imageTag: '1.0.0' })).body.id;
    other = (await cp.api('POST', '/api/instances', { slug: uniqueName('idle'), name: 'Idle', composeDir: '/srv/idle' })).body.id;
  });

  afterAll(async () => {
    await tenant?.down();
    await cp?.stop();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function executionsOf(workflowId: string) {
    const out = [];
    for await (const w of cp.temporal.workflow.list({ query: `WorkflowId = "${workflowId}"` })) out.push(w);
    return out;
  }

  async function restartDuring(imageTag: string, step: string, signal: 'SIGTERM' | 'SIGKILL') {
    const earlier = (await executionsOf(`upgrade-${tenant.project}`)).length;
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, { imageTag });
    expect(started.status).toBe(202);
    const { upgradeId, workflowId } = started.body;
    await waitForStep(cp, upgradeId, step);

    const exited = new Promise((r) => server.process.once('exit', r));
    server.process.kill(signal);
    await exited;
    const down = Date.now();
    // What an operator gets meanwhile: the database's view, and a 503 naming Temporal for a new upgrade.
    const row = await cp.api('GET', `/api/upgrades/${upgradeId}`);
    const refused = await cp.api('POST', `/api/instances/${other}/upgrade-images`, {});
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
    server = await startServer();
    const up = Date.now();
    const end = await waitForUpgradeEnd(cp, upgradeId, 300_000);
    // One new execution of the instance's workflow ID: this upgrade's, not started twice.
    const executions = (await executionsOf(workflowId)).slice(0, -earlier || undefined);
    const activity = step === 'pull' ? 'pullImages' : 'recreateServices';
    const history = await cp.temporal.workflow.getHandle(workflowId, started.body.runId).fetchHistory();
    const scheduled = new Set((history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity).map((e) => String(e.eventId)));
    const attempt = (history.events ?? []).find((e) => e.activityTaskStartedEventAttributes && scheduled.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)))
      ?.activityTaskStartedEventAttributes?.attempt;
    const rows = (await cp.api('GET', `/api/instances/${instanceId}/upgrades`)).body.filter((u: { imageTag: string }) => u.imageTag === imageTag);
    console.log(
      `[fault] Temporal dev server ${signal} during ${step}, unreachable ${((up - down) / 1000).toFixed(1)} s (restart included): upgrade row meanwhile ${row.status} ${row.body.status}; ` +
        `a new upgrade meanwhile ${refused.status} ${JSON.stringify(refused.body.error)}; upgrade ${end.status} ${((Date.now() - down) / 1000).toFixed(1)} s after the ${signal}, ` +
        `${activity} attempt ${attempt}; rows ${rows.length}, workflows ${executions.length}`,
    );

    expect(row.status).toBe(200);
    expect(row.body.status).toBe('running');
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatch(/Temporal server.*did not answer/);
    expect(end.status).toBe('succeeded');
    expect(end.error).toBeNull();
    expect(rows).toHaveLength(1);
    expect(executions).toHaveLength(1);
    const containers = await tenant.containers();
    for (const c of Object.values(containers)) expect(c.state).toBe('running');
    expect((await cp.api('GET', `/api/instances/${instanceId}`)).body.imageTag).toBe(imageTag);
  }

  it('completes the upgrade when the server is restarted (SIGTERM) with its database file kept', async () => {
    await restartDuring('1.1.0', 'pull', 'SIGTERM');
  });

  it('completes the upgrade when the server is killed (SIGKILL) and started again on the same file', async () => {
    await restartDuring('1.2.0', 'recreate', 'SIGKILL');
  });
});
