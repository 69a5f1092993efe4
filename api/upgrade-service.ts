/**
 * Starts upgrade workflows and passes operator decisions to them. The
 * one-at-a-time guard is Temporal's: the workflow ID comes from the instance
 * and a second start is refused with workflowIdConflictPolicy FAIL, not by a
 * flag in our database.
 */
import { randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { badRequest, conflict, notFound, unavailable } from '../core/errors.js';
import {
  targetOf,
  TERMINAL_STATUSES,
  type FullUpgradeInput,
  type ImageUpgradeInput,
  type InstanceTarget,
  type OperatorAction,
  type ReleaseUpgradeInput,
  type UpgradeMode,
  type UpgradeRequestOptions,
} from '../core/types.js';
import { operatorActionUpdate, SEARCH, TASK_QUEUE, upgradeWorkflowId, WORKFLOW_TYPE } from '../workflows/surface.js';
import type { InstanceRecord, UpgradeRecord, UpgradeRepo } from '../prisma/repositories.js';
import { resolveRelease, type ReleasePlanner } from '../core/release-plan.js';

export interface StartedUpgradeView {
  upgradeId: string;
  workflowId: string;
  runId: string;
  imageTag: string;
  /** The release the upgrade renders, when it named one. */
  release?: string;
}

export interface UpgradeServiceDeps {
  temporal: Client;
  temporalAddress: string;
  upgrades: UpgradeRepo;
  defaultImageTag: string;
  taskQueue?: string;
  /** How long parked upgrades wait for an operator. */
  parkTimeoutMs?: number;
  /** How long services get to become healthy (at most 10 minutes). */
  verifyDeadlineMs?: number;
  /** Resolves a requested release and its image tag; without it, requests name tags only. */
  planner?: ReleasePlanner;
}

/** What a request asks for: a release, a tag, both, or neither (the instance's own). */
export interface ReleaseRequest {
  imageTag?: string;
  release?: string;
}

/**
 * The tag and release an upgrade goes to. `imageTag` alone is the shorthand
 * for the instance's release with that tag; a release alone takes the tag
 * the release names (else the instance's effective tag); neither: the
 * instance's own tag, else its release's, else IMAGE_TAG.
 */
export async function resolveUpgradeTarget(
  planner: ReleasePlanner | undefined,
  instance: InstanceRecord,
  req: ReleaseRequest,
  defaultImageTag: string,
): Promise<{ imageTag: string; releaseVersion?: string }> {
  if (req.imageTag !== undefined && req.release === undefined) return { imageTag: req.imageTag };
  if (!planner) {
    if (req.release !== undefined) throw badRequest('this control plane has no release catalog');
    return { imageTag: effectiveImageTag(instance, defaultImageTag) };
  }
  const resolved = await resolveRelease(planner, instance, req.release);
  const releaseTag = resolved.kind === 'bundle' ? resolved.bundle.release.imageTag : undefined;
  if (req.release === undefined) return { imageTag: instance.imageTag ?? releaseTag ?? defaultImageTag };
  return { imageTag: req.imageTag ?? releaseTag ?? effectiveImageTag(instance, defaultImageTag), releaseVersion: req.release };
}

const CALL_DEADLINE_MS = 5_000;


export function effectiveImageTag(instance: Pick<InstanceRecord, 'imageTag'>, defaultImageTag: string): string {
  return instance.imageTag ?? defaultImageTag;
}

export { targetOf };

/** gRPC UNAVAILABLE (14) and DEADLINE_EXCEEDED (4): the server did not answer. */
function temporalDown(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e.code === 14 || e.code === 4) return true;
  }
  return /UNAVAILABLE|DEADLINE_EXCEEDED|failed to connect|Connection refused/i.test(String((err as Error)?.message));
}

/** A Temporal call with a deadline; an unanswered one becomes a 503 naming Temporal. */
export async function temporalCall<T>(client: Client, address: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await client.connection.withDeadline(Date.now() + CALL_DEADLINE_MS, fn);
  } catch (err) {
    if (temporalDown(err)) throw unavailable('the Temporal server', `${address} did not answer`);
    throw err;
  }
}

type AnyInput = ImageUpgradeInput | ReleaseUpgradeInput | FullUpgradeInput;
export type RequestOptions = Pick<UpgradeRequestOptions, 'reason' | 'autoRollback'>;

export function createUpgradeService(deps: UpgradeServiceDeps) {
  const call = <T>(fn: () => Promise<T>) => temporalCall(deps.temporal, deps.temporalAddress, fn);

  async function start(instance: InstanceRecord, mode: UpgradeMode, input: AnyInput): Promise<StartedUpgradeView> {
    const workflowId = upgradeWorkflowId(instance.slug);
    let handle;
    try {
      handle = await call(() =>
        deps.temporal.workflow.start(WORKFLOW_TYPE[mode], {
          taskQueue: deps.taskQueue ?? TASK_QUEUE,
          workflowId,
          args: [input],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          memo: { requestedBy: input.requestedBy ?? 'api', reason: input.reason ?? '', upgradeId: input.upgradeId, mode },
          typedSearchAttributes: new TypedSearchAttributes([
            { key: SEARCH.slug, value: instance.slug },
            { key: SEARCH.mode, value: mode },
            { key: SEARCH.tag, value: input.imageTag },
            { key: SEARCH.status, value: 'running' },
          ]),
        }),
      );
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw conflict(`an upgrade of ${instance.slug} is already running (workflow ${workflowId}); wait for it to finish`, {
          workflowId,
        });
      }
      throw err;
    }
    // The workflow creates the row too; whichever comes first wins.
    await deps.upgrades.ensure({
      id: input.upgradeId,
      instanceId: instance.id,
      mode,
      imageTag: input.imageTag,
      workflowId,
      runId: handle.firstExecutionRunId,
      requestedBy: input.requestedBy,
      status: 'queued',
    });
    return {
      upgradeId: input.upgradeId,
      workflowId,
      runId: handle.firstExecutionRunId,
      imageTag: input.imageTag,
      ...(input.releaseVersion ? { release: input.releaseVersion } : {}),
    };
  }

  const common = (opts: RequestOptions, requestedBy?: string) => ({
    upgradeId: randomUUID(),
    requestedBy,
    reason: opts.reason,
    autoRollback: opts.autoRollback ?? false,
    parkTimeoutMs: deps.parkTimeoutMs,
    verifyDeadlineMs: deps.verifyDeadlineMs,
  });

  /** The running execution of an upgrade, or 409 when it has ended. */
  function handleOf(upgrade: UpgradeRecord) {
    if (TERMINAL_STATUSES.includes(upgrade.status)) {
      throw conflict(`the upgrade has ended (${upgrade.status}); start a new one`, { status: upgrade.status });
    }
    return deps.temporal.workflow.getHandle(upgrade.workflowId, upgrade.runId ?? undefined);
  }

  return {
    async startImageUpgrade(instance: InstanceRecord, body: ReleaseRequest & RequestOptions, requestedBy?: string) {
      const { imageTag, releaseVersion } = await resolveUpgradeTarget(deps.planner, instance, body, deps.defaultImageTag);
      const newRelease = releaseVersion !== undefined && releaseVersion !== instance.releaseVersion;
      return start(instance, 'image-only', {
        ...common(body, requestedBy),
        target: targetOf(instance),
        imageTag,
        ...(releaseVersion ? { releaseVersion } : {}),
        persistImageTag: (body.imageTag !== undefined && body.imageTag !== instance.imageTag) || newRelease,
      });
    },

    async startReleaseUpgrade(instance: InstanceRecord, body: ReleaseRequest & { planHash?: string } & RequestOptions, requestedBy?: string) {
      const { imageTag, releaseVersion } = await resolveUpgradeTarget(deps.planner, instance, body, deps.defaultImageTag);
      return start(instance, 'release', {
        ...common(body, requestedBy),
        target: targetOf(instance),
        imageTag,
        ...(releaseVersion ? { releaseVersion } : {}),
        planHash: body.planHash,
      });
    },

    async startFullUpgrade(instance: InstanceRecord, body: { release?: string } & RequestOptions, requestedBy?: string) {
      const { imageTag, releaseVersion } = await resolveUpgradeTarget(deps.planner, instance, { release: body.release }, deps.defaultImageTag);
      return start(instance, 'full', {
        ...common(body, requestedBy),
        target: targetOf(instance),
        imageTag,
        ...(releaseVersion ? { releaseVersion } : {}),
      });
    },

    /** Retry, roll back or abort a parked upgrade; 409 with the workflow's reason when it does not fit. */
    async act(upgrade: UpgradeRecord, action: OperatorAction, by?: string) {
      const handle = handleOf(upgrade);
      try {
        // Who decided travels with the decision: the workflow records it on the parked step.
        return await call(() => handle.executeUpdate(operatorActionUpdate, { args: [action, by] }));
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) throw conflict(err.cause?.message ?? err.message);
        if (err instanceof WorkflowNotFoundError || /already completed/i.test(String((err as Error).message))) {
          throw conflict('the upgrade has ended; start a new one');
        }
        throw err;
      }
    },

    async cancel(upgrade: UpgradeRecord) {
      const handle = handleOf(upgrade);
      try {
        await call(() => handle.cancel());
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw notFound(`workflow ${upgrade.workflowId} not found`);
        throw err;
      }
    },
  };
}

export type UpgradeService = ReturnType<typeof createUpgradeService>;
