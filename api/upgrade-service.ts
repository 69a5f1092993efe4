/**
 * Starts upgrade workflows. The one-at-a-time guard is Temporal's: the
 * workflow ID comes from the instance and a second start is refused with
 * workflowIdConflictPolicy FAIL, not by a flag in our database.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { conflict, unavailable } from '../core/errors.js';
import type { ImageUpgradeInput, InstanceTarget, ReleaseUpgradeInput, UpgradeMode } from '../core/types.js';
import { TASK_QUEUE, upgradeWorkflowId } from '../core/workflow-ids.js';
import type { InstanceRecord, UpgradeRepo } from '../prisma/repositories.js';

export interface StartedUpgradeView {
  upgradeId: string;
  workflowId: string;
  runId: string;
  imageTag: string;
}

export interface UpgradeServiceDeps {
  temporal: Client;
  temporalAddress: string;
  upgrades: UpgradeRepo;
  defaultImageTag: string;
  taskQueue?: string;
}

const START_DEADLINE_MS = 5_000;

export function effectiveImageTag(instance: Pick<InstanceRecord, 'imageTag'>, defaultImageTag: string): string {
  return instance.imageTag ?? defaultImageTag;
}

function targetOf(i: InstanceRecord): InstanceTarget {
  return {
    instanceId: i.id,
    slug: i.slug,
    composeProjectName: i.composeProjectName,
    composeDir: i.composeDir,
    coreServices: i.coreServices,
    isRemote: i.isRemote,
    agentUrl: i.agentUrl,
  };
}

/** gRPC UNAVAILABLE (14) and DEADLINE_EXCEEDED (4): the server did not answer. */
function temporalDown(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e.code === 14 || e.code === 4) return true;
  }
  return /UNAVAILABLE|DEADLINE_EXCEEDED|failed to connect|Connection refused/i.test(String((err as Error)?.message));
}

export function createUpgradeService(deps: UpgradeServiceDeps) {
  async function start(instance: InstanceRecord, mode: UpgradeMode, workflowType: string, input: ImageUpgradeInput | ReleaseUpgradeInput): Promise<StartedUpgradeView> {
    const workflowId = upgradeWorkflowId(instance.slug);
    let handle;
    try {
      handle = await deps.temporal.connection.withDeadline(Date.now() + START_DEADLINE_MS, () =>
        deps.temporal.workflow.start(workflowType, {
          taskQueue: deps.taskQueue ?? TASK_QUEUE,
          workflowId,
          args: [input],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          memo: { requestedBy: input.requestedBy ?? 'api', upgradeId: input.upgradeId, mode },
        }),
      );
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw conflict(`an upgrade of ${instance.slug} is already running (workflow ${workflowId}); wait for it to finish`, {
          workflowId,
        });
      }
      if (temporalDown(err)) throw unavailable('the Temporal server', `${deps.temporalAddress} did not answer`);
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
    return { upgradeId: input.upgradeId, workflowId, runId: handle.firstExecutionRunId, imageTag: input.imageTag };
  }

  return {
    startImageUpgrade(instance: InstanceRecord, body: { imageTag?: string }, requestedBy?: string) {
      const imageTag = body.imageTag ?? effectiveImageTag(instance, deps.defaultImageTag);
      return start(instance, 'image-only', 'imageUpgrade', {
        upgradeId: randomUUID(),
        target: targetOf(instance),
        imageTag,
        persistImageTag: body.imageTag !== undefined && body.imageTag !== instance.imageTag,
        requestedBy,
      });
    },

    startReleaseUpgrade(instance: InstanceRecord, body: { imageTag: string; planHash?: string }, requestedBy?: string) {
      return start(instance, 'release', 'releaseUpgrade', {
        upgradeId: randomUUID(),
        target: targetOf(instance),
        imageTag: body.imageTag,
        planHash: body.planHash,
        requestedBy,
      });
    },
  };
}

export type UpgradeService = ReturnType<typeof createUpgradeService>;
