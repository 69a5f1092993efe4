/**
 * Activities are thin adapters between a workflow step and a real client: the
 * database repositories and the execution driver of the instance. They are
 * built by createActivities(deps); the worker's entry point makes the clients.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { manifestChanges } from '../agent/tenant.js';
import { PERMANENT_TENANT_ERRORS, TenantError, type ExecutionDriver } from '../core/driver.js';
import type { ContainerState, ContentManifest, InstanceTarget, UpgradeMode } from '../core/types.js';
import type { InstanceRepo, UpgradeProgress, UpgradeRepo } from '../prisma/repositories.js';

export interface ActivityDeps {
  instances: InstanceRepo;
  upgrades: UpgradeRepo;
  driverFor(target: InstanceTarget): ExecutionDriver;
  /** How often verify looks at the containers again. */
  verifyPollMs?: number;
}

export interface StartedUpgrade {
  upgradeId: string;
  instanceId: string;
  mode: UpgradeMode;
  imageTag: string;
  workflowId: string;
  runId: string;
  requestedBy?: string;
}

const HEARTBEAT_MS = 5_000;

export function createActivities(deps: ActivityDeps) {
  const pollMs = deps.verifyPollMs ?? 1_000;

  return {
    async markUpgradeRunning(u: StartedUpgrade): Promise<void> {
      await deps.upgrades.ensure({
        id: u.upgradeId,
        instanceId: u.instanceId,
        mode: u.mode,
        imageTag: u.imageTag,
        workflowId: u.workflowId,
        runId: u.runId,
        requestedBy: u.requestedBy,
        status: 'running',
      });
    },

    async recordUpgradeProgress(upgradeId: string, progress: UpgradeProgress): Promise<void> {
      await deps.upgrades.saveProgress(upgradeId, progress);
    },

    async persistInstanceImageTag(instanceId: string, imageTag: string): Promise<void> {
      await deps.instances.setImageTag(instanceId, imageTag);
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

    async pullImages(target: InstanceTarget, services: string[], imageTag: string): Promise<void> {
      await withHeartbeat((opts) => deps.driverFor(target).pull(services, composeEnv(imageTag), opts));
    },

    async recreateServices(target: InstanceTarget, services: string[], imageTag: string): Promise<void> {
      await withHeartbeat((opts) => deps.driverFor(target).recreate(services, composeEnv(imageTag), opts));
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
        ctx.heartbeat(summary);
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

/** Heartbeats the last output line while a long tenant operation runs; cancellation reaches it. */
async function withHeartbeat<T>(fn: (opts: { signal: AbortSignal; onProgress: (line: string) => void }) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  let last = '';
  const timer = setInterval(() => ctx.heartbeat(last), HEARTBEAT_MS);
  ctx.heartbeat('started');
  try {
    return await tenantCall(() => fn({ signal: ctx.cancellationSignal, onProgress: (line) => (last = line) }));
  } finally {
    clearInterval(timer);
  }
}
