/**
 * Upgrade workflow behaviour in seconds: park → retry, park → rollback, park
 * timeout, cancel, on the time-skipping test server with in-memory tenants
 * (the tenant is faked; Temporal, the activities and PostgreSQL are real).
 */
import type { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { PIN_PATH } from '../../core/image-pin.js';
import { targetOf } from '../../core/types.js';
import { WORKFLOW_TYPE, type ProgressView } from '../../workflows/surface.js';
import { startFastEnv, TAG_BEFORE, type FastEnv } from './workflow-env.js';

let fx: FastEnv;
beforeAll(async () => {
  fx = await startFastEnv({ parkTimeoutMs: 60 * 60_000 });
});
afterAll(async () => {
  await fx?.stop();
});

const stepNames = (row: { steps: { name: string; status: string }[] }) => row.steps.map((s) => `${s.name}:${s.status}`);

/** The local activities a history recorded, by type: what the console lists them as (each marker's plain `data` names it). */
function localActivityTypes(events: temporal.api.history.v1.IHistoryEvent[]): string[] {
  return events
    .map((e) => e.markerRecordedEventAttributes)
    .filter((m) => m?.markerName === 'core_local_activity')
    .map((m) => (JSON.parse(Buffer.from(m!.details!.data!.payloads![0]!.data!).toString()) as { activity_type: string }).activity_type);
}

async function until(what: string, probe: () => Promise<boolean>) {
  for (let i = 0; i < 600; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function rowOnceParked(upgradeId: string) {
  await until('the upgrade to park', async () => (await fx.upgradeRow(upgradeId))?.status === 'needs-attention');
  return (await fx.upgradeRow(upgradeId))!;
}

describe('upgrade workflows with a fake tenant (fast layer, tenant faked in memory)', () => {
  it('a Quick Upgrade recreates the core services on the new tag and records every step', async () => {
    const { instance, tenant } = await fx.addInstance();
    await fx.withWorker(async () => {
      const started = await fx.upgrades.startImageUpgrade(instance, { imageTag: '2.0.0' });
      const result = await fx.env.client.workflow.getHandle(started.workflowId).result();
      expect(result.status).toBe('succeeded');
      const row = (await fx.upgradeRow(started.upgradeId))!;
      expect(row.status).toBe('succeeded');
      expect(stepNames(row)).toEqual(
        ['preflight', 'snapshot-content', 'pull', 'recreate', 'verify', 'check-content', 'persist-image-tag'].map((s) => `${s}:succeeded`),
      );
    });
    expect(['api', 'admin', 'media-api', 'nginx'].map((s) => tenant.tagOf(s))).toEqual(['2.0.0', '2.0.0', '2.0.0', '2.0.0']);
    expect(tenant.tagOf('postgres')).toBe(TAG_BEFORE);
  });

  it("writes each step's progress to the upgrade row before the step's tenant work begins, riding on the step's activity, and the last one with its own local activity; the tag's step is a local activity", async () => {
    const { instance, tenant } = await fx.addInstance();
    const seen: string[] = [];
    tenant.onEnter = async (op) => {
      const [row] = await fx.upgradeRows(instance.id);
      seen.push(`${op} @ ${row!.status} ${stepNames(row!).join(' ')}`);
    };
    fx.beforeTagWrite = async (instanceId) => {
      const [row] = await fx.upgradeRows(instanceId);
      seen.push(`tag write @ ${row!.status} ${stepNames(row!).join(' ')}`);
    };
    await fx.withWorker(async () => {
      const started = await fx.upgrades.startImageUpgrade(instance, { imageTag: '2.0.9' });
      const result = await fx.env.client.workflow.getHandle(started.workflowId).result();
      expect(result.status).toBe('succeeded');
      // The first tenant call of each step finds that step running in the row, every step before it succeeded;
      // steps run together (preflight with snapshot-content, verify with check-content) find both running.
      const done = (...steps: string[]) => steps.map((s) => `${s}:succeeded`);
      const running = (...steps: string[]) => steps.map((s) => `${s}:running`);
      const firstOfStep: [string, string[]][] = [
        ['ping', running('preflight', 'snapshot-content')],
        ['contentManifest', running('preflight', 'snapshot-content')],
        ['pull', [...done('preflight', 'snapshot-content'), ...running('pull')]],
        ['recreate', [...done('preflight', 'snapshot-content', 'pull'), ...running('recreate')]],
        ['containerStates', [...done('preflight', 'snapshot-content', 'pull', 'recreate'), ...running('verify', 'check-content')]],
        ['contentManifest', [...done('preflight', 'snapshot-content', 'pull', 'recreate'), ...running('verify', 'check-content')]],
      ];
      for (const [op, steps] of firstOfStep) expect(seen).toContain(`${op} @ running ${steps.join(' ')}`);
      // The tag's step, a local activity, carries its progress too.
      const beforeTag = ['preflight', 'snapshot-content', 'pull', 'recreate', 'verify', 'check-content'].map((s) => `${s}:succeeded`);
      expect(seen).toContain(`tag write @ running ${[...beforeTag, 'persist-image-tag:running'].join(' ')}`);
      const row = (await fx.upgradeRow(started.upgradeId))!;
      expect(row.status).toBe('succeeded');
      expect(row.finishedAt).not.toBeNull();
      expect(row.steps).toEqual(result.steps);

      // In the history: one patch marker standing for all earlier patches; local activities for the tag's step
      // (a database write: no activity task of its own) and for the last progress record, in that order.
      const events = (await fx.env.client.workflow.getHandle(started.workflowId).fetchHistory()).events ?? [];
      const markers = events.filter((e) => e.markerRecordedEventAttributes).map((e) => e.markerRecordedEventAttributes!.markerName);
      expect(markers.filter((m) => m === 'core_patch')).toHaveLength(1);
      expect(localActivityTypes(events)).toEqual(['persistInstanceImageTag', 'recordUpgradeProgress']);
      // Two visibility writes besides start and close: the patch's TemporalChangeVersion and the final UpgradeStatus.
      const upserts = events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes);
      expect(upserts.map((e) => Object.keys(e.upsertWorkflowSearchAttributesEventAttributes!.searchAttributes!.indexedFields!))).toEqual([
        ['TemporalChangeVersion'],
        ['UpgradeStatus'],
      ]);
      const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
      expect(scheduled).toEqual(['checkTenantReady', 'snapshotTenantContent', 'pullImages', 'recreateServices', 'verifyServices', 'assertTenantContentUnchanged']);
    });
    fx.beforeTagWrite = undefined;
  });

  it('an upgrade started without the API (as a rollout starts its children) gets its row from its first step, running, with who asked and its run', async () => {
    const { instance, tenant } = await fx.addInstance();
    const upgradeId = randomUUID();
    const seen: string[] = [];
    tenant.onEnter = async (op) => {
      const row = await fx.upgradeRow(upgradeId);
      seen.push(`${op} @ ${row ? `${row.status} ${row.requestedBy}` : 'no row'}`);
    };
    await fx.withWorker(async () => {
      const handle = await fx.env.client.workflow.start(WORKFLOW_TYPE['image-only'], {
        taskQueue: fx.taskQueue,
        workflowId: `direct-${upgradeId}`,
        args: [{ upgradeId, target: targetOf(instance), imageTag: '2.0.7', persistImageTag: false, requestedBy: 'rollout:direct' }],
      });
      expect((await handle.result()).status).toBe('succeeded');
      // Its first two steps run together: each one's first call finds the row, and no call ever found none.
      expect(seen).toContain('ping @ running rollout:direct');
      expect(seen).toContain('contentManifest @ running rollout:direct');
      expect(seen.filter((s) => s.endsWith('no row'))).toEqual([]);
      const row = (await fx.upgradeRow(upgradeId))!;
      expect(row).toMatchObject({ status: 'succeeded', mode: 'image-only', imageTag: '2.0.7', workflowId: `direct-${upgradeId}`, runId: handle.firstExecutionRunId });
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
      expect(scheduled).not.toContain('markUpgradeRunning');
    });
  });

  it('an upgrade cancelled before its first step ran still gets its row, recorded cancelled', async () => {
    const { instance } = await fx.addInstance();
    const upgradeId = randomUUID();
    // Cancelled before any worker polls: the first workflow task starts and cancels it at once, so no step's activity ever runs.
    const handle = await fx.env.client.workflow.start(WORKFLOW_TYPE['image-only'], {
      taskQueue: fx.taskQueue,
      workflowId: `direct-${upgradeId}`,
      args: [{ upgradeId, target: targetOf(instance), imageTag: '2.0.8', persistImageTag: false, requestedBy: 'rollout:direct' }],
    });
    await handle.cancel();
    await fx.withWorker(async () => {
      await until('the row to say cancelled', async () => (await fx.upgradeRow(upgradeId))?.status === 'cancelled');
    });
    const row = (await fx.upgradeRow(upgradeId))!;
    expect(row).toMatchObject({ status: 'cancelled', requestedBy: 'rollout:direct', runId: handle.firstExecutionRunId });
    expect(row.finishedAt).not.toBeNull();
  });

  it('a step that fails for good parks the upgrade, and Retry runs the step again and finishes', async () => {
    const { instance, tenant } = await fx.addInstance();
    tenant.fail('pull', 1, 'image-not-found', 'manifest for app:2.0.1 not found');
    await fx.withWorker(async () => {
      const started = await fx.upgrades.startImageUpgrade(instance, { imageTag: '2.0.1' });
      const parked = await rowOnceParked(started.upgradeId);
      expect(parked.currentStep).toBe('pull');
      expect(parked.error).toContain('manifest for app:2.0.1 not found');
      const view = (await fx.upgrades.act(parked, 'retry')) as ProgressView;
      expect(view.status).toBe('running');
      expect((await fx.env.client.workflow.getHandle(started.workflowId).result()).status).toBe('succeeded');
      const row = (await fx.upgradeRow(started.upgradeId))!;
      expect(stepNames(row).filter((s) => s.startsWith('pull'))).toEqual(['pull:failed', 'pull:succeeded']);
    });
    expect(tenant.tagOf('api')).toBe('2.0.1');
  });

  it('steps that only read run together: the Quick, Release and full upgrades each schedule their checks and snapshots in one workflow task', async () => {
    const { instance } = await fx.addInstance();
    await fx.withWorker(async () => {
      const byTask = async (workflowId: string) => {
        const events = (await fx.env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
        const tasks = new Map<string, string[]>();
        for (const e of events) {
          const a = e.activityTaskScheduledEventAttributes;
          if (!a) continue;
          const task = String(a.workflowTaskCompletedEventId);
          tasks.set(task, [...(tasks.get(task) ?? []), a.activityType!.name!]);
        }
        return [...tasks.values()];
      };
      const quick = await fx.upgrades.startImageUpgrade(instance, { imageTag: '2.0.3' });
      expect((await fx.env.client.workflow.getHandle(quick.workflowId).result()).status).toBe('succeeded');
      expect(await byTask(quick.workflowId)).toEqual([
        ['checkTenantReady', 'snapshotTenantContent'],
        ['pullImages'],
        ['recreateServices'],
        ['verifyServices', 'assertTenantContentUnchanged'],
      ]);
      const release = await fx.upgrades.startReleaseUpgrade({ ...instance, imageTag: '2.0.3' }, { imageTag: '2.0.6' });
      expect((await fx.env.client.workflow.getHandle(release.workflowId).result()).status).toBe('succeeded');
      expect((await byTask(release.workflowId))[0]).toEqual(['planReleaseUpgrade', 'snapshotTenantSealed']);
      const full = await fx.upgrades.startFullUpgrade({ ...instance, imageTag: '2.0.6' }, {});
      expect((await fx.env.client.workflow.getHandle(full.workflowId).result()).status).toBe('succeeded');
      expect((await byTask(full.workflowId))[0]).toEqual(['preflightFullUpgrade', 'snapshotTenantSealed']);
      const row = (await fx.upgradeRow(full.upgradeId))!;
      expect(stepNames(row).slice(0, 3)).toEqual(['preflight:succeeded', 'snapshot:succeeded', 'render:succeeded']);
    });
  });

  it('a step of a group that fails for good parks once the other has ended, and Retry runs only it again', async () => {
    const { instance, tenant } = await fx.addInstance();
    tenant.fail('contentManifest', 1, 'path-rejected', 'content unreadable (fake)');
    await fx.withWorker(async () => {
      const started = await fx.upgrades.startImageUpgrade(instance, { imageTag: '2.0.5' });
      const parked = await rowOnceParked(started.upgradeId);
      expect(parked.currentStep).toBe('snapshot-content');
      expect(parked.error).toContain('content unreadable (fake)');
      expect(stepNames(parked)).toEqual(['preflight:succeeded', 'snapshot-content:failed']);
      expect(tenant.calls.filter((c) => c.startsWith('pull'))).toEqual([]);
      await fx.upgrades.act(parked, 'retry');
      expect((await fx.env.client.workflow.getHandle(started.workflowId).result()).status).toBe('succeeded');
      const row = (await fx.upgradeRow(started.upgradeId))!;
      expect(stepNames(row).slice(0, 4)).toEqual(['preflight:succeeded', 'snapshot-content:failed', 'snapshot-content:succeeded', 'pull:succeeded']);
    });
    expect(tenant.tagOf('api')).toBe('2.0.5');
  });

  it('Quick Upgrade offers no rollback: a rollback request on its parked upgrade is refused with the reason', async () => {
    const { instance, tenant } = await fx.addInstance();
    tenant.fail('recreate', 99, 'unknown-service', 'no such service: api');
    await fx.withWorker(async () => {
      const started = await fx.upgrades.startImageUpgrade(instance, { imageTag: '2.0.2' });
      const parked = await rowOnceParked(started.upgradeId);
      await expect(fx.upgrades.act(parked, 'rollback')).rejects.toThrow(/rollback is not possible now/);
      await fx.upgrades.act(parked, 'abort');
      await expect(fx.env.client.workflow.getHandle(started.workflowId).result()).rejects.toThrow();
      const row = (await fx.upgradeRow(started.upgradeId))!;
      expect(row.status).toBe('failed');
      expect(row.error).toMatch(/recreate failed: no such service: api \(aborted\)/);
    });
  });

  it('a parked Upgrade Now rolls back files, tag and images byte for byte when the operator chooses Roll back', async () => {
    const { instance, tenant } = await fx.addInstance();
    const before = new Map(tenant.files);
    tenant.unhealthy.add('api');
    await fx.withWorker(async () => {
      const started = await fx.upgrades.startFullUpgrade({ ...instance, imageTag: '3.0.0' }, {});
      const parked = await rowOnceParked(started.upgradeId);
      expect(parked.currentStep).toBe('verify');
      expect(parked.error).toMatch(/api: running \(unhealthy\)/);
      expect(tenant.files.get('docker-compose.yml')?.content).toContain('3.0.0');
      tenant.unhealthy.clear();
      await fx.upgrades.act(parked, 'rollback');
      const result = await fx.env.client.workflow.getHandle(started.workflowId).result();
      expect(result.status).toBe('rolled-back');
      const row = (await fx.upgradeRow(started.upgradeId))!;
      expect(row.status).toBe('rolled-back');
      expect(stepNames(row).slice(-5)).toEqual(
        ['rollback-files', 'rollback-image-tag', 'rollback-images', 'rollback-up', 'rollback-verify'].map((s) => `${s}:succeeded`),
      );
    });
    // Every file as it was; the image pin (which a plain `up -d` reads) now names the images rolled back to.
    const pin = tenant.files.get(PIN_PATH);
    tenant.files.delete(PIN_PATH);
    expect(tenant.files).toEqual(before);
    expect(pin?.content).toContain(`registry.test/app/api:${TAG_BEFORE}`);
    expect(tenant.tagOf('api')).toBe(TAG_BEFORE);
    expect(tenant.calls.filter((c) => c.startsWith('tagImage'))).toContain(`tagImage:registry.test/app/api:${TAG_BEFORE}`);
  });

  it('an upgrade nobody attends to fails when the park timeout passes, saying no operator decided', async () => {
    const { instance, tenant } = await fx.addInstance();
    tenant.fail('pull', 1, 'image-not-found', 'not found');
    await fx.withWorker(async () => {
      const started = await fx.upgrades.startImageUpgrade(instance, { imageTag: '2.0.3' });
      await rowOnceParked(started.upgradeId);
      // Awaiting the result lets the test server skip the hour of parking.
      await expect(fx.env.client.workflow.getHandle(started.workflowId).result()).rejects.toThrow();
      const row = (await fx.upgradeRow(started.upgradeId))!;
      expect(row.status).toBe('failed');
      expect(row.error).toMatch(/no operator decision within 60 min/);
    });
  });

  it('Cancel stops a running pull and records the upgrade cancelled', async () => {
    const { instance, tenant } = await fx.addInstance();
    tenant.hang('pull');
    await fx.withWorker(async () => {
      const started = await fx.upgrades.startImageUpgrade(instance, { imageTag: '2.0.4' });
      await until('the pull to start', async () => tenant.calls.includes('pull:2.0.4'));
      await fx.upgrades.cancel((await fx.upgradeRow(started.upgradeId))!);
      await tenant.cancelled;
      // Polled rather than awaited: awaiting a result lets the test server skip time, which a cancelled run does not need.
      await until('the row to say cancelled', async () => (await fx.upgradeRow(started.upgradeId))?.status === 'cancelled');
      await until('the workflow to end cancelled', async () => (await fx.env.client.workflow.getHandle(started.workflowId).describe()).status.name === 'CANCELLED');
    });
    expect(tenant.tagOf('api')).toBe(TAG_BEFORE);
  });
  it('Cancel during steps run together ends each of them and records the upgrade cancelled', async () => {
    const { instance, tenant } = await fx.addInstance();
    tenant.unhealthy.add('api');
    await fx.withWorker(async () => {
      const started = await fx.upgrades.startImageUpgrade(instance, { imageTag: '2.0.8' });
      await until('verify to poll', async () => tenant.calls.filter((c) => c === 'containerStates').length >= 3);
      await fx.upgrades.cancel((await fx.upgradeRow(started.upgradeId))!);
      await until('the row to say cancelled', async () => (await fx.upgradeRow(started.upgradeId))?.status === 'cancelled');
      await until('the workflow to end cancelled', async () => (await fx.env.client.workflow.getHandle(started.workflowId).describe()).status.name === 'CANCELLED');
      // The verify activity itself stops: it no longer polls the tenant (a poll every 100 ms while it runs).
      const polls = () => tenant.calls.filter((c) => c === 'containerStates').length;
      await until('verify to stop polling', async () => {
        const before = polls();
        await new Promise((r) => setTimeout(r, 500));
        return polls() === before;
      });
      const row = (await fx.upgradeRow(started.upgradeId))!;
      expect(stepNames(row).slice(-2)).toEqual(['verify:failed', 'check-content:succeeded']);
      expect(row.steps.at(-2)).toMatchObject({ error: 'cancelled' });
    });
  });
});
