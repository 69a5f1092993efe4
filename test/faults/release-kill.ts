/**
 * The worker-crash scenario, shared by the CI subset and `npm run test:faults`:
 * a Release Upgrade (N → N+1) of a real tenant, driven by a worker in its own
 * process that is SIGKILLed (its whole process group, compose children
 * included: a crashed host) while one step runs; then `npm run worker`
 * (worker/main.ts) is started and must finish the upgrade. With `survivor`,
 * two workers run from the start instead, the one holding the step is
 * killed, and the other must pick the step up within 30 s.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { createPlanner } from '../../worker/planner.js';
import { startTestControlPlane, uniqueName, waitFor, waitForUpgradeEnd, type TestControlPlane } from '../support.js';
import {
  createReleaseTenant,
  FIXTURES,
  leftoverTempFiles,
  N,
  N1,
  pushReleaseImages,
  RELEASE_FILES,
  RELEASE_SERVICES,
  releaseDefaults,
  startGatedWorker,
  startWorker,
  treeChecksums,
  waitForStep,
  watchReplacements,
  type Proc,
  type ReleaseTenant,
} from './support.js';

/** The step as the upgrade row names it, and the activity that runs it. */
export const RELEASE_STEP_ACTIVITY = {
  plan: 'planReleaseUpgrade',
  write: 'writeReleaseFiles',
  pull: 'pullImages',
  up: 'startAllServices',
  verify: 'verifyServices',
} as const;
/** Where in the step the worker dies: the tenant-driver call the gate holds. */
const GATED_METHOD: Record<ReleaseStep, string> = { plan: 'readFiles', write: 'writeFiles', pull: 'pull', up: 'upAll', verify: 'containerStates' };
export type ReleaseStep = keyof typeof RELEASE_STEP_ACTIVITY;

export interface KillResult {
  step: ReleaseStep;
  status: string;
  /** What the killed worker had done when it was killed (its gate's line). */
  killedAt: string;
  /** From the kill to the upgrade's end, seconds. */
  recoverySeconds: number;
  /** Two workers ran from the start; the other one was not killed. */
  survivor: boolean;
  /** With a survivor: from the kill to the retried step's first tenant call on it, seconds. */
  pickupSeconds?: number;
  /** The attempt of the killed step's activity that completed (2: retried once). */
  attempt: number | undefined;
  replacements: Record<string, number>;
  leftovers: string[];
  upgradeRows: number;
  workflows: number;
  /** Seconds from the scenario's start to each phase. */
  phases: Record<string, number>;
}

export interface KillRig {
  work: string;
  defaults: ReturnType<typeof releaseDefaults>;
  images: Record<string, Record<string, string>>;
  tenants: ReleaseTenant[];
  workers: Proc[];
  planes: TestControlPlane[];
  close(): Promise<void>;
}

/** Images of N and N+1 and a work dir, shared by the scenarios. */
export async function startKillRig(): Promise<KillRig> {
  const prefix = `drydock-${uniqueName('kill')}`;
  const defaults = releaseDefaults(prefix);
  const images = await pushReleaseImages(defaults, { [N]: RELEASE_SERVICES, [N1]: RELEASE_SERVICES });
  const work = await mkdtemp(path.join(os.tmpdir(), 'drydock-kill-'));
  const rig: KillRig = {
    work,
    defaults,
    images,
    tenants: [],
    workers: [],
    planes: [],
    async close() {
      await Promise.all(rig.workers.map((w) => w.kill('SIGKILL')));
      await Promise.all(rig.tenants.map((t) => t.down()));
      await Promise.all(rig.planes.map((cp) => cp.stop()));
      await rm(work, { recursive: true, force: true });
    },
  };
  return rig;
}

/** Most a surviving worker may take to pick up a killed worker's step (issue 17). */
export const PICKUP_LIMIT_SECONDS = 30;

/** One scenario: its own API (no worker in it) and task queue, so scenarios can run side by side. */
export async function killWorkerDuring(rig: KillRig, step: ReleaseStep, opts: { survivor?: boolean } = {}): Promise<KillResult> {
  const survivorMode = opts.survivor ?? false;
  const t0 = Date.now();
  const phases: Record<string, number> = {};
  const mark = (name: string) => (phases[name] = Math.round((Date.now() - t0) / 100) / 10);
  const taskQueue = uniqueName(`kill-${step}-`);
  const caDir = path.join(rig.work, `ca-${taskQueue}`);
  const cp = await startTestControlPlane({ runWorker: false, taskQueue, caDir, planner: createPlanner(rig.defaults, path.join(FIXTURES, 'n1')) });
  rig.planes.push(cp);
  const slug = uniqueName(`k${step.slice(0, 3)}`);
  const tenant = await createReleaseTenant({ slug, defaults: rig.defaults, release: 'n', imageTag: N, dir: path.join(rig.work, slug), keepDir: true });
  rig.tenants.push(tenant);
  mark('tenant up');
  // The watcher needs the directories of the files it counts; N+1 adds drydock/.
  await mkdir(path.join(tenant.dir, 'drydock'), { recursive: true });
  const created = await cp.api('POST', '/api/instances', { slug, name: slug, composeDir: tenant.dir, imageTag: '1.0.0' });
  expect(created.status).toBe(201);
  const instanceId = created.body.id as string;
  const mkdocsBefore = Object.entries(await treeChecksums(tenant.dir)).filter(([p]) => p.startsWith('mkdocs/'));

  const env = { databaseUrl: cp.db.url, temporalAddress: cp.temporalAddress, taskQueue, caDir, defaults: rig.defaults, templatesDir: path.join(FIXTURES, 'n1') };
  const gateSpec = `${RELEASE_STEP_ACTIVITY[step]}:${GATED_METHOD[step]}`;
  const workers = survivorMode
    ? [await startGatedWorker(env, gateSpec, `worker a of two during ${step} of ${slug}`), await startGatedWorker(env, gateSpec, `worker b of two during ${step} of ${slug}`)]
    : [await startGatedWorker(env, gateSpec, `worker killed during ${step} of ${slug}`)];
  rig.workers.push(...workers);
  mark(survivorMode ? 'workers up' : 'worker up');
  const watcher = watchReplacements(tenant.dir, RELEASE_FILES);
  try {
    const preview = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release/preview`, { imageTag: N1 });
    expect(preview.status).toBe(200);
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release`, { imageTag: N1, planHash: preview.body.planHash });
    expect(started.status).toBe(202);
    const upgradeId = started.body.upgradeId as string;

    // Whichever worker got the step's first attempt holds it at the gate.
    const { doomed, gate } = await waitFor(`a worker to reach the ${step} gate`, async () => {
      for (const w of workers) {
        const hit = w.lines.map((l) => /fault-gate: reached .*/.exec(l)).find(Boolean);
        if (hit) return { doomed: w, gate: hit };
      }
      return undefined;
    }, 300_000, 50);
    await doomed.kill('SIGKILL');
    const killedAt = Date.now();
    mark('killed');
    // Nothing is lost while the step waits for a worker: the row still shows it in progress.
    const during = await waitForStep(cp, upgradeId, step, 5_000);
    expect(during.status).toBe('running');

    let pickupSeconds: number | undefined;
    let rescuer = workers.find((w) => w !== doomed);
    if (rescuer) {
      const trace = await rescuer.waitForLine(new RegExp(`fault-trace: ${RELEASE_STEP_ACTIVITY[step]} attempt \\d+ at (\\d+)`), 120_000);
      pickupSeconds = (Number(trace[1]) - killedAt) / 1000;
      mark('picked up');
    } else {
      rescuer = await startWorker(env, `worker rescuing ${slug}`);
      rig.workers.push(rescuer);
    }
    const end = await waitForUpgradeEnd(cp, upgradeId, 300_000);
    const recoverySeconds = (Date.now() - killedAt) / 1000;
    mark('ended');

    // What the workflow history says about the killed step's activity.
    const history = await cp.temporal.workflow.getHandle(started.body.workflowId, started.body.runId).fetchHistory();
    const activityType = RELEASE_STEP_ACTIVITY[step];
    const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType);
    const scheduledIds = new Set(scheduled.map((e) => String(e.eventId)));
    const startedEvent = (history.events ?? []).find(
      (e) => e.activityTaskStartedEventAttributes && scheduledIds.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)),
    );

    const upgrades = await cp.api('GET', `/api/instances/${instanceId}/upgrades`);
    const listed = [];
    for await (const w of cp.temporal.workflow.list({ query: `WorkflowId = "${started.body.workflowId}"` })) listed.push(w);
    await new Promise((r) => setTimeout(r, 300)); // the last inotify events
    const result: KillResult = {
      step,
      status: end.status,
      killedAt: gate[0],
      recoverySeconds,
      survivor: survivorMode,
      pickupSeconds,
      attempt: startedEvent?.activityTaskStartedEventAttributes?.attempt ?? undefined,
      replacements: { ...watcher.counts },
      leftovers: leftoverTempFiles(tenant.dir),
      upgradeRows: upgrades.body.length,
      workflows: listed.length,
      phases,
    };
    console.log(`[fault] SIGKILL during ${step}${survivorMode ? ' (two workers)' : ''}: ${JSON.stringify(result)}`);

    expect(end.error).toBeNull();
    expect(end.status).toBe('succeeded');
    expect(end.steps.map((s: { name: string }) => s.name)).toEqual(['plan', 'snapshot', 'persist-image-tag', 'write', 'pull', 'up', 'verify']);
    expect(result.attempt, 'the killed step ran again on the new worker').toBe(2);
    if (survivorMode) expect(pickupSeconds, `the surviving worker picked up ${step} within ${PICKUP_LIMIT_SECONDS} s`).toBeLessThan(PICKUP_LIMIT_SECONDS);
    // Each managed file replaced exactly once, in its final form, and no temp file left behind.
    expect(result.replacements).toEqual(Object.fromEntries(RELEASE_FILES.map((f) => [f, 1])));
    expect(result.leftovers).toEqual([]);
    const again = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release/preview`, { imageTag: N1 });
    expect(again.body.files.map((f: { status: string }) => f.status)).toEqual(RELEASE_FILES.map(() => 'unchanged'));
    for (const s of await tenant.driver.containerStates([...RELEASE_SERVICES])) {
      expect(s.state, s.service).toBe('running');
      expect(s.imageId, s.service).toBe(rig.images[N1]![s.service]);
    }
    expect(Object.entries(await treeChecksums(tenant.dir)).filter(([p]) => p.startsWith('mkdocs/'))).toEqual(mkdocsBefore);
    // One upgrade row, one workflow: nothing lost, nothing duplicated.
    expect(result.upgradeRows).toBe(1);
    expect(result.workflows).toBe(1);
    await rescuer.kill('SIGTERM');
    return result;
  } finally {
    watcher.close();
  }
}
