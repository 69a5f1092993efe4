/**
 * Activities are thin adapters between a workflow step and a real client: the
 * database repositories and the execution driver of the instance. They are
 * built by createActivities(deps); the worker's entry point makes the clients.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { manifestChanges } from '../core/content-manifest.js';
import { PERMANENT_TENANT_ERRORS, TenantError, type ExecutionDriver, type TenantErrorCode } from '../core/driver.js';
import { DrydockError } from '../core/errors.js';
import { DEFAULT_FRONT_DOOR, isProgressRide, targetOf, type FrontDoor, type ProgressRide } from '../core/types.js';
import type { ContainerState, ContentManifest, InstanceTarget, ReleasePlanSummary, SealedTenantSnapshot, StartedUpgrade, TenantSnapshot } from '../core/types.js';
import type { InstanceRepo, UpgradeProgress, UpgradeRepo } from '../prisma/repositories.js';
import type { SnapshotStore } from '../prisma/snapshot-store.js';
import type { UpgradeEvents } from '../platform/metrics.js';
import { COMPOSE_PATH, nextImagePin, pinEntries, PIN_PATH, renderImagePin } from '../core/image-pin.js';
import { parseImageRef } from '../core/image-ref.js';
import { driftSummary, inspectDrift, unknownDrift, type DriftReport, type DriftStatus } from '../core/drift.js';
import type { DriftRepo } from '../prisma/drift-repo.js';
import { ENV_PATH, hashOfRender, planRelease, renderRelease, resolveRelease, templatesOf, type ReleasePlanner } from '../core/release-plan.js';
import { createNotificationActivities, type NotificationDeps } from './notifications.js';

export interface ActivityDeps {
  instances: InstanceRepo;
  upgrades: UpgradeRepo;
  /** Where snapshots' files are kept, sealed, instead of in the workflow history. */
  snapshots: SnapshotStore;
  driverFor(target: InstanceTarget): ExecutionDriver;
  planner: ReleasePlanner;
  /** The full upgrade's last check: an HTTP GET of the tenant's front door. */
  frontDoor?: FrontDoor;
  /** Below this, a full upgrade refuses to pull. */
  minFreeDiskBytes?: number;
  /** How often verify looks at the containers again. */
  verifyPollMs?: number;
  /** Where events go (outbox, delivery, agent watch); without it nothing is recorded. */
  notifications?: NotificationDeps;
  /** Told of every status change recorded here (the metrics' counters). */
  events?: UpgradeEvents;
  /** Where drift checks are recorded. */
  drift: DriftRepo;
  /**
   * THE place a "drift found" event is produced: called once when an
   * instance's check turns `drifted` (it was in sync, unknown or never
   * checked), before the result is stored, so a failure here retries the
   * check and the event is not lost (it may come twice). No diff text: paths,
   * services and what is wrong with them.
   */
  onDriftFound?: (event: DriftFoundEvent) => Promise<void>;
}

export interface DriftFoundEvent {
  kind: 'drift-found';
  instanceId: string;
  slug: string;
  name: string;
  labels: string[];
  release: string | null;
  /** One line: `drifted: docker-compose.yml modified, api: image-changed`. */
  summary: string;
  files: { path: string; status: string }[];
  images: { service: string; expected: string; running: string | null; problem: string }[];
  checkedAt: string;
}

const DEFAULT_MIN_FREE_DISK = 1024 ** 3;
/** Workflow history payloads are limited to 2 MB (old, unsealed snapshots); keep a snapshot well under it. */
const MAX_SNAPSHOT_BYTES = 1_500_000;
const GiB = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;

/**
 * How often a running activity heartbeats, whatever it waits on (the local
 * driver, an agent, the database): a heartbeat says the worker is alive, so a
 * step whose worker died is retried elsewhere after the policy's
 * heartbeatTimeout (workflows/policies.ts WORKER_LOST_AFTER) instead of its
 * start-to-close timeout. The worker throttles what reaches Temporal.
 */
const HEARTBEAT_MS = 2_000;
/** The last progress each running activity reported, repeated by its keep-alive heartbeats. */
const progressOf = new WeakMap<Context, unknown>();

/** Kept for the next keep-alive heartbeat (keptAlive) rather than sent at once: a step shorter than HEARTBEAT_MS costs Temporal no heartbeat at all. */
function reportProgress(ctx: Context, detail: unknown): void {
  progressOf.set(ctx, detail);
}

/**
 * Heartbeats every HEARTBEAT_MS while the activity runs. The first one only
 * after HEARTBEAT_MS: the many short steps send none. Outside a worker (the
 * activities called directly by unit tests) and in local activities, which
 * cannot heartbeat, the activity runs as it is.
 */
function keptAlive<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    let ctx: Context;
    try {
      ctx = Context.current();
    } catch {
      return fn(...args);
    }
    if (ctx.info.isLocal) return fn(...args);
    const timer = setInterval(() => ctx.heartbeat(progressOf.get(ctx)), HEARTBEAT_MS);
    try {
      return await fn(...args);
    } finally {
      clearInterval(timer);
    }
  };
}

export function createActivities(deps: ActivityDeps) {
  const activities = withProgressRides(activityFunctions(deps), deps);
  return Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, keptAlive(fn as (...a: unknown[]) => Promise<unknown>)])) as typeof activities;
}

/**
 * Every activity, when its last argument is a step's progress record (see
 * ProgressRide), writes that record first and runs with the arguments the
 * workflow gave it; on every attempt, so the row shows the step running
 * whichever attempt runs it.
 */
function withProgressRides<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T, deps: ActivityDeps): T {
  const out: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(activities) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    out[name] = async (...args: unknown[]) => {
      const last = args.at(-1);
      if (!isProgressRide(last)) return fn(...args);
      await saveRide(deps, last);
      return fn(...args.slice(0, -1));
    };
  }
  return out as unknown as T;
}

/**
 * The upgrade's row, running (markUpgradeRunning, and the first progress
 * record that now carries it); true when `progress` was written with it.
 */
async function markRunning(deps: ActivityDeps, u: StartedUpgrade, progress?: ProgressRide['progress']): Promise<boolean> {
  const { upgradeId: id, ...row } = u;
  const how = await deps.upgrades.markRunning({ id, ...row }, progress);
  if (how === 'existing') return false;
  deps.events?.started(u.mode);
  return progress !== undefined;
}

/**
 * As the local activity it replaces did (BOOKKEEPING's backoff): a database
 * that is down is waited for, without using up the step's own attempts;
 * heartbeating meanwhile, and stopping when the step is cancelled or times out.
 */
async function saveRide(deps: ActivityDeps, ride: ProgressRide): Promise<void> {
  let created = !ride.started;
  for (let waitMs = 1_000; ; waitMs = Math.min(waitMs * 2, 30_000)) {
    try {
      if (!created) {
        const saved = await markRunning(deps, ride.started!, ride.progress);
        created = true;
        if (saved) return;
      }
      return await deps.upgrades.saveStepProgress(ride.upgradeId, ride.progress);
    } catch {
      Context.current().heartbeat();
      await Context.current().sleep(waitMs);
    }
  }
}

function activityFunctions(deps: ActivityDeps) {
  const pollMs = deps.verifyPollMs ?? 1_000;

  async function instanceOf(target: InstanceTarget) {
    const instance = await deps.instances.get(target.instanceId);
    if (!instance) throw ApplicationFailure.nonRetryable(`instance ${target.slug} no longer exists`, 'instance-missing');
    return instance;
  }

  async function takeSnapshot(target: InstanceTarget, releaseVersion?: string): Promise<TenantSnapshot> {
    const instance = await instanceOf(target);
    const driver = deps.driverFor(target);
    // What the running release manages and what the new one will write, the image pin too.
    const manifests = await rendering(async () => [
      ...templatesOf(await resolveRelease(deps.planner, instance)).manifest,
      ...(releaseVersion ? templatesOf(await resolveRelease(deps.planner, instance, releaseVersion)).manifest : []),
    ]);
    // A registered tenant keeps its own .env (drydock never writes it), so a rollback has nothing to restore there: not read.
    const paths = [...new Set([...manifests.map((m) => m.path), ENV_PATH, PIN_PATH])].filter((p) => !(instance.isRegistered && p === ENV_PATH));
    const previousEffectiveImageTag = instance.imageTag ?? deps.planner.defaults.imageTag;
    // Without the pin when the agent does not manage it (pinAllowed).
    const files = (await pinAllowed(() => driver.snapshotFiles(paths))) ?? (await tenantCall(() => driver.snapshotFiles(paths.filter((p) => p !== PIN_PATH))));
    const env = composeEnv(previousEffectiveImageTag);
    // An agent older than serviceStates refuses it (HTTP 404, "no operation …"): then the two calls it stands for.
    let states = (await unlessRefused(['agent-refused'], () => driver.serviceStates(env)))?.states;
    if (!states) {
      const services = await tenantCall(() => driver.listServices(env));
      states = await tenantCall(() => driver.containerStates(services));
    }
    const images = states
      .filter((s) => s.imageId && s.imageRef)
      .map((s) => ({ service: s.service, imageRef: s.imageRef!, imageId: s.imageId }));
    const coreTags = new Set(images.filter((i) => target.coreServices.includes(i.service)).map((i) => parseImageRef(i.imageRef).tag));
    const runningImageTag = coreTags.size === 1 ? [...coreTags][0]! : previousEffectiveImageTag;
    const snapshot: TenantSnapshot = { files, images, previousImageTag: instance.imageTag, runningImageTag, previousReleaseVersion: instance.releaseVersion };
    const size = JSON.stringify(snapshot).length;
    if (size > MAX_SNAPSHOT_BYTES) {
      throw ApplicationFailure.nonRetryable(`the managed files are ${size} bytes, too large to snapshot (limit ${MAX_SNAPSHOT_BYTES})`, 'snapshot-too-large');
    }
    return snapshot;
  }

  const notifications = createNotificationActivities(deps);

  return {
    ...notifications.activities,
    /** Every instance a drift check covers, by id. */
    async driftTargets(): Promise<string[]> {
      return (await deps.instances.list()).map((i) => i.id);
    },

    /**
     * Compares one instance with the release it runs and records the result.
     * Read-only on the tenant. A tenant that cannot be reached or rendered is
     * recorded `unknown` with the reason, not retried: the next check looks again.
     */
    async checkDrift(instanceId: string): Promise<DriftStatus> {
      const instance = await deps.instances.get(instanceId);
      if (!instance) return 'unknown';
      let report: DriftReport;
      try {
        report = await inspectDrift(deps.planner, deps.driverFor(targetOf(instance)), instance);
      } catch (err) {
        // Unreachable engine or agent, a tenant directory gone, a release that does not render: recorded, not retried.
        report = unknownDrift((err as Error).message);
      }
      const previous = await deps.drift.get(instance.id);
      const checkedAt = new Date();
      if (report.status === 'drifted' && previous?.status !== 'drifted' && deps.onDriftFound) {
        await deps.onDriftFound({
          kind: 'drift-found',
          instanceId: instance.id,
          slug: instance.slug,
          name: instance.name,
          labels: instance.labels,
          release: report.release,
          summary: driftSummary(report),
          files: report.files.map((f) => ({ path: f.path, status: f.status })),
          images: report.images.map((i) => ({ service: i.service, expected: i.expected, running: i.running, problem: i.problem })),
          checkedAt: checkedAt.toISOString(),
        });
      }
      await deps.drift.record(instance.id, report, checkedAt);
      return report.status;
    },

    /** When checkDrift itself timed out or failed: the instance is unknown, with why. */
    async recordDriftUnknown(instanceId: string, reason: string): Promise<void> {
      await deps.drift.record(instanceId, unknownDrift(reason));
    },

    /** Engine reachable, compose file valid, room on disk for the pull. */
    async preflightFullUpgrade(target: InstanceTarget, imageTag: string): Promise<void> {
      const driver = deps.driverFor(target);
      await tenantCall(() => driver.ping());
      await tenantCall(() => driver.validateCompose(composeEnv(imageTag)));
      const { path, freeBytes } = await tenantCall(() => driver.diskFree());
      const needed = deps.minFreeDiskBytes ?? DEFAULT_MIN_FREE_DISK;
      if (freeBytes < needed) {
        throw ApplicationFailure.nonRetryable(`only ${GiB(freeBytes)} free on ${path}; the pull needs at least ${GiB(needed)}`, 'disk-full');
      }
    },

    /**
     * Managed files and .env byte for byte, the images the containers run, and
     * the tag. Only in histories of upgrades started before the files were
     * sealed (snapshotTenantSealed): kept so those replay and finish.
     */
    async snapshotTenant(target: InstanceTarget, releaseVersion?: string): Promise<TenantSnapshot> {
      return takeSnapshot(target, releaseVersion);
    },

    /** The same, with the files sealed into PostgreSQL: the history holds a reference, never `.env` bytes. */
    async snapshotTenantSealed(target: InstanceTarget, upgradeId: string, releaseVersion?: string): Promise<SealedTenantSnapshot> {
      const { files, ...rest } = await takeSnapshot(target, releaseVersion);
      return { ...rest, filesRef: await deps.snapshots.save(upgradeId, files) };
    },

    async restoreTenantFiles(target: InstanceTarget, files: TenantSnapshot['files']): Promise<void> {
      await tenantCall(() => deps.driverFor(target).restoreFiles(files));
    },

    async restoreSealedTenantFiles(target: InstanceTarget, filesRef: string): Promise<void> {
      const files = await deps.snapshots.load(filesRef);
      if (!files) throw ApplicationFailure.nonRetryable(`the snapshot ${filesRef} is gone from the database; restore the files by hand`, 'snapshot-missing');
      await tenantCall(() => deps.driverFor(target).restoreFiles(files));
    },

    async restorePreviousImages(target: InstanceTarget, images: TenantSnapshot['images']): Promise<void> {
      const driver = deps.driverFor(target);
      for (const i of images) await tenantCall(() => driver.tagImage(i.imageId, i.imageRef));
    },

    /** releaseVersion undefined: a snapshot from before releases, which leaves the release alone. */
    async restoreInstanceImageTag(instanceId: string, imageTag: string | null, releaseVersion?: string | null): Promise<void> {
      await deps.instances.setImageTag(instanceId, imageTag, releaseVersion);
    },

    /** The front door the release names, else the control plane's (DRYDOCK_FRONT_DOOR). */
    async probeFrontDoor(target: InstanceTarget, releaseVersion?: string): Promise<number> {
      const instance = await instanceOf(target);
      const release = await rendering(() => resolveRelease(deps.planner, instance, releaseVersion));
      const door = (release.kind === 'bundle' && release.bundle.release.frontDoor) || deps.frontDoor || DEFAULT_FRONT_DOOR;
      const status = await tenantCall(() => deps.driverFor(target).httpProbe(door.service, door.port, door.path));
      if (status >= 400) {
        throw ApplicationFailure.retryable(`the front door (${door.service}:${door.port}${door.path}) answered HTTP ${status}`, 'front-door-failed');
      }
      return status;
    },

    /** Before the patch `mark-running-rides`, every upgrade's first activity; kept so older histories replay. */
    async markUpgradeRunning(u: StartedUpgrade): Promise<void> {
      await markRunning(deps, u);
    },

    /**
     * The row, then the outbox when the upgrade parked or ended (the event's
     * key makes a retry add nothing). `started` when no step's activity has
     * created the row yet (an upgrade cancelled before its first step ran).
     */
    async recordUpgradeProgress(upgradeId: string, progress: UpgradeProgress, started?: StartedUpgrade): Promise<void> {
      if (started) await markRunning(deps, started);
      const saved = await deps.upgrades.saveProgress(upgradeId, progress);
      deps.events?.progressRecorded(saved.mode, progress);
      await notifications.upgradeChanged(saved, progress);
    },

    /** The tag, and the release when the upgrade named one. */
    async persistInstanceImageTag(instanceId: string, imageTag: string, releaseVersion?: string): Promise<void> {
      await deps.instances.setImageTag(instanceId, imageTag, releaseVersion);
    },

    async persistInstanceRelease(instanceId: string, releaseVersion: string): Promise<void> {
      await deps.instances.update(instanceId, { releaseVersion });
    },

    /** The engine answers and every service to touch exists in the compose file. */
    async checkTenantReady(target: InstanceTarget, services: string[], imageTag: string): Promise<void> {
      const driver = deps.driverFor(target);
      await tenantCall(() => driver.ping());
      const declared = await tenantCall(() => driver.listServices(composeEnv(imageTag)));
      const unknown = services.filter((s) => !declared.includes(s));
      if (unknown.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `service${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} not in the compose file of ${target.slug} (it declares: ${declared.join(', ')})`,
          'unknown-service',
        );
      }
    },

    async snapshotTenantContent(target: InstanceTarget, dirs: readonly string[]): Promise<ContentManifest> {
      return tenantCall(() => deps.driverFor(target).contentManifest(dirs));
    },

    /**
     * Unpins the services to pull first (all of them when `services` is
     * empty), so the pull and the up after it resolve their images from the
     * compose file and IMAGE_TAG; they are pinned again once the new images
     * run. A failed pull puts the old pin back: nothing changed.
     */
    async pullImages(target: InstanceTarget, services: string[], imageTag: string): Promise<void> {
      const driver = deps.driverFor(target);
      const pin = (await pinAllowed(() => driver.snapshotFiles([PIN_PATH])))?.[PIN_PATH] ?? null;
      if (pin) {
        const kept = services.length === 0 ? [] : pinEntries(Buffer.from(pin.content, 'base64').toString('utf8')).filter((e) => !services.includes(e.service));
        if (kept.length === 0) await tenantCall(() => driver.restoreFiles({ [PIN_PATH]: null }));
        else await pinWrite(driver, renderImagePin(await readCompose(driver), kept));
      }
      try {
        await withHeartbeat((opts) => driver.pull(services, composeEnv(imageTag), opts));
      } catch (err) {
        if (pin) await tenantCall(() => driver.restoreFiles({ [PIN_PATH]: pin })).catch(() => undefined);
        throw err;
      }
    },

    async recreateServices(target: InstanceTarget, services: string[], imageTag: string): Promise<void> {
      const driver = deps.driverFor(target);
      await withHeartbeat((opts) => driver.recreate(services, composeEnv(imageTag), opts));
      await pinRunningImages(driver, services, imageTag, true);
    },

    /**
     * Renders with the tag and compares with the tenant's files. The summary
     * lands in the workflow history, so the console shows what was about to
     * change; diff bodies stay out of it (env values must never be shown).
     */
    async planReleaseUpgrade(target: InstanceTarget, imageTag: string, expectedPlanHash?: string, releaseVersion?: string): Promise<ReleasePlanSummary> {
      const instance = await instanceOf(target);
      const plan = await rendering(() => tenantCall(() => planRelease(deps.planner, deps.driverFor(target), instance, imageTag, null, releaseVersion)));
      if (expectedPlanHash && expectedPlanHash !== plan.planHash) {
        throw ApplicationFailure.nonRetryable(
          `the plan is stale: the rendered files or the tenant's files changed since the preview (previewed ${expectedPlanHash.slice(0, 12)}, now ${plan.planHash.slice(0, 12)}); preview again`,
          'stale-plan',
        );
      }
      return {
        planHash: plan.planHash,
        renderHash: plan.renderHash,
        files: plan.files.map((f) => ({ path: f.path, status: f.status })),
        missingInTenantEnv: plan.envCoverage.missingInTenantEnv,
      };
    },

    /** Re-renders (cheap, deterministic) rather than carrying file contents through the history. */
    async writeReleaseFiles(target: InstanceTarget, imageTag: string, renderHash: string, releaseVersion?: string): Promise<{ written: string[]; unchanged: string[] }> {
      const instance = await instanceOf(target);
      const driver = deps.driverFor(target);
      // Only what the render needs is read (the plan step read and compared the rest): nothing for a registered tenant.
      const { rendered } = await rendering(() => tenantCall(() => renderRelease(deps.planner, driver, instance, imageTag, releaseVersion, { readOnly: 'env' })));
      if (hashOfRender(rendered) !== renderHash) {
        throw ApplicationFailure.nonRetryable('the templates changed between plan and write; start the upgrade again', 'stale-plan');
      }
      return tenantCall(() => driver.writeFiles(rendered.map((f) => f.path), rendered));
    },

    /** `up -d` of the whole project; returns the services it declares, for verify. */
    async startAllServices(target: InstanceTarget, imageTag: string, releaseVersion?: string): Promise<string[]> {
      const driver = deps.driverFor(target);
      const instance = await instanceOf(target);
      // Template sets from before bundles always removed orphans; a bundle says whether it may.
      const release = await rendering(() => resolveRelease(deps.planner, instance, releaseVersion));
      const removeOrphans = release.kind === 'legacy' || release.bundle.release.allowRemoveOrphans;
      await withHeartbeat((opts) => driver.upAll(composeEnv(imageTag), removeOrphans, opts));
      return pinRunningImages(driver, null, imageTag, false);
    },

    /** Each service's container runs, and is healthy where it has a healthcheck, within the deadline. */
    async verifyServices(target: InstanceTarget, services: string[], deadlineMs: number): Promise<ContainerState[]> {
      const driver = deps.driverFor(target);
      const ctx = Context.current();
      const until = Date.now() + deadlineMs;
      for (;;) {
        const states = await tenantCall(() => driver.containerStates(services));
        const bad = states.filter((s) => s.state !== 'running' || (s.health !== undefined && s.health !== 'healthy'));
        if (bad.length === 0) return states;
        const summary = bad.map((s) => `${s.service}: ${s.state}${s.health ? ` (${s.health})` : ''}`).join(', ');
        if (Date.now() >= until) {
          throw ApplicationFailure.retryable(`not ready after ${Math.round(deadlineMs / 1000)}s: ${summary}`, 'verify-failed');
        }
        reportProgress(ctx, summary);
        await ctx.sleep(pollMs);
      }
    },

    async assertTenantContentUnchanged(target: InstanceTarget, dirs: readonly string[], before: ContentManifest): Promise<void> {
      const after = await tenantCall(() => deps.driverFor(target).contentManifest(dirs));
      const changed = manifestChanges(before, after);
      if (changed.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `tenant content changed during the upgrade: ${changed.slice(0, 20).join(', ')}${changed.length > 20 ? ` and ${changed.length - 20} more` : ''}`,
          'tenant-content-changed',
        );
      }
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/**
 * Writes the image pin (core/image-pin.ts) with the images the services now
 * run, in one call to the tenant: a Quick Upgrade adds its core services to
 * what the pin holds (merge); a full `up` pins every service the compose file
 * declares (services null). Resolves with the services looked at.
 */
async function pinRunningImages(driver: ExecutionDriver, services: string[] | null, imageTag: string, merge: boolean): Promise<string[]> {
  const env = composeEnv(imageTag);
  // Refused by an agent older than it, or by one that does not manage both the pin and the compose file: then step by step, as before.
  const done = await pinAllowed(() => driver.pinRunningImages(services, env, merge));
  if (done) return done;
  const looked = services ?? (await tenantCall(() => driver.listServices(env)));
  const states = await tenantCall(() => driver.containerStates(looked));
  const paths = merge ? [PIN_PATH, COMPOSE_PATH] : [COMPOSE_PATH];
  const readEach = async () => {
    const each = await Promise.all(paths.map(async (p) => [p, (await pinAllowed(() => driver.readFiles([p])))?.[p] ?? null] as const));
    return Object.fromEntries(each);
  };
  // Refused as a whole when the agent manages only one of them: then each is read alone.
  const read = (await pinAllowed(() => driver.readFiles(paths))) ?? (await readEach());
  const pin = nextImagePin(states, read[PIN_PATH] ?? null, read[COMPOSE_PATH] ?? null);
  if (pin) await pinWrite(driver, pin);
  return looked;
}

async function pinWrite(driver: ExecutionDriver, content: string): Promise<void> {
  await pinAllowed(() => driver.writeFiles([PIN_PATH], [{ path: PIN_PATH, content }]));
}

async function readCompose(driver: ExecutionDriver): Promise<string | null> {
  return (await pinAllowed(() => driver.readFiles([COMPOSE_PATH])))?.[COMPOSE_PATH] ?? null;
}

/**
 * An agent whose `--managed` list leaves the pin out refuses it: that tenant
 * chose to manage its compose files itself, so the upgrade goes on without a
 * pin (undefined) rather than failing after compose succeeded.
 */
function pinAllowed<T>(fn: () => Promise<T>): Promise<T | undefined> {
  return unlessRefused(['path-rejected', 'agent-refused'], fn);
}

/** undefined when the tenant refuses the call with one of `codes`; any other error as tenantCall reports it. */
async function unlessRefused<T>(codes: readonly TenantErrorCode[], fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TenantError && codes.includes(err.code)) return undefined;
    return tenantCall(() => Promise.reject(err));
  }
}

/** Compose reads IMAGE_TAG from the process environment before `.env`, so no file is written. */
function composeEnv(imageTag: string): Record<string, string> {
  return { IMAGE_TAG: imageTag };
}

/** Turns tenant errors into failures Temporal understands: permanent ones are not retried. */
async function tenantCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof TenantError)) throw err;
    const message = err.output ? `${err.message}\n--- tenant output (last lines) ---\n${err.output}` : err.message;
    throw ApplicationFailure.create({
      message,
      type: err.code,
      nonRetryable: PERMANENT_TENANT_ERRORS.includes(err.code),
    });
  }
}

/** Render problems (a template needs what the context lacks) are not fixed by retrying. */
async function rendering<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DrydockError) throw ApplicationFailure.nonRetryable(err.message, 'render-failed');
    throw err;
  }
}

/**
 * A long tenant operation: its last output line becomes the activity's
 * heartbeat detail (keptAlive sends it), and cancellation reaches it.
 */
async function withHeartbeat<T>(fn: (opts: { signal: AbortSignal; onProgress: (line: string) => void }) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  reportProgress(ctx, 'started');
  try {
    return await tenantCall(() => fn({ signal: ctx.cancellationSignal, onProgress: (line) => progressOf.set(ctx, line) }));
  } catch (err) {
    // Report a cancelled operation as cancelled, not as a failure that a retry policy would run again.
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure(`cancelled: ${(err as Error).message}`);
    throw err;
  }
}
