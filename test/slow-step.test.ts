/**
 * The other side of a short heartbeat timeout (WORKER_LOST_AFTER, 15 s): a
 * step that waits on the tenant for longer than that, on a live worker, is
 * not cut off. Compose on a real tenant is made slow (each `config
 * --services` and `pull` held 20 s before it runs, printing nothing), so the
 * tenant check (a TENANT_QUERY step) and the pull (IMAGE_PULL) each outlast
 * the heartbeat timeout; both must finish on their first attempt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, type CommandRunner } from '../tenant/run-command.js';
import { WORKER_LOST_AFTER } from '../workflows/policies.js';
import { buildAndPushImage, registryAddress } from './harness/images.js';
import { createTenant, type Tenant } from './harness/tenant.js';
import { startTestControlPlane, uniqueName, waitForUpgradeEnd, type TestControlPlane } from './support.js';

const SLOW_MS = 20_000;
let slow = false;
const held: string[] = [];
const slowRunner: CommandRunner = async (cmd, opts) => {
  const at = cmd.args.indexOf('--project-name');
  const sub = (at >= 0 ? cmd.args.slice(at + 2) : cmd.args).filter((a) => !a.startsWith('--ansi') && a !== 'never');
  if (slow && (sub[0] === 'pull' || (sub[0] === 'config' && sub[1] === '--services'))) {
    held.push(sub[0] === 'pull' ? 'pull' : 'config --services');
    await new Promise((r) => setTimeout(r, SLOW_MS));
  }
  return runCommand(cmd, opts);
};

describe('a step that waits on the tenant longer than the heartbeat timeout, on a live worker', () => {
  let cp: TestControlPlane;
  let tenant: Tenant;
  let instanceId: string;
  let appRepo: string;

  beforeAll(async () => {
    appRepo = `${registryAddress()}/drydock/slow-app`;
    const tag = uniqueName('t');
    const infraImage = `${registryAddress()}/drydock/slow-infra:${uniqueName('i')}`;
    [cp] = await Promise.all([
      startTestControlPlane({ commandRunner: slowRunner }),
      buildAndPushImage(`${appRepo}:${tag}`, 'slow one'),
      buildAndPushImage(`${appRepo}:${tag}-next`, 'slow two'),
      buildAndPushImage(infraImage, 'infra'),
    ]);
    tenant = await createTenant({ project: uniqueName('slow'), imageTag: tag, appImage: appRepo, infraImage });
    await tenant.up();
    const created = await cp.api('POST', '/api/instances', { slug: tenant.project, name: 'Slow tenant', composeDir: tenant.dir, composeProjectName: tenant.project, imageTag: tag });
    expect(created.status).toBe(201);
    instanceId = created.body.id;
  });

  afterAll(async () => {
    await tenant?.down();
    await cp?.stop();
  });

  it('is not cut off: the 20 s tenant check and the 20 s pull each finish on their first attempt', async () => {
    expect(SLOW_MS).toBeGreaterThan(Number.parseInt(WORKER_LOST_AFTER, 10) * 1000);
    const current = (await cp.api('GET', `/api/instances/${instanceId}`)).body.imageTag as string;
    slow = true;
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, { imageTag: `${current}-next` });
    expect(started.status).toBe(202);
    const end = await waitForUpgradeEnd(cp, started.body.upgradeId, 300_000);
    slow = false;
    expect(end.error).toBeNull();
    expect(end.status).toBe('succeeded');
    expect(held).toEqual(expect.arrayContaining(['config --services', 'pull']));

    const history = await cp.temporal.workflow.getHandle(started.body.workflowId, started.body.runId).fetchHistory();
    const events = history.events ?? [];
    expect(events.filter((e) => e.activityTaskTimedOutEventAttributes)).toEqual([]);
    const attemptsOf = (type: string) => {
      const ids = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).map((e) => String(e.eventId)));
      return events.filter((e) => e.activityTaskStartedEventAttributes && ids.has(String(e.activityTaskStartedEventAttributes.scheduledEventId))).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    };
    expect(attemptsOf('checkTenantReady')).toEqual([1]);
    expect(attemptsOf('pullImages')).toEqual([1]);
  }, 360_000);
});
