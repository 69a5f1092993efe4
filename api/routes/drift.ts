/**
 * Drift: run the fleet's drift check now, and one instance's drift report.
 * The check itself is the driftCheck workflow (the schedule runs it too);
 * its state per instance is also in the instances list and detail.
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { notFound } from '../../core/errors.js';
import type { ReleasePlanner } from '../../core/release-plan.js';
import { driftTarget } from '../../core/drift.js';
import type { InstanceRepo } from '../../prisma/repositories.js';
import type { DriftRepo } from '../../prisma/drift-repo.js';
import { DRIFT_CHECK_WORKFLOW_TYPE, manualDriftCheckWorkflowId, TASK_QUEUE, type DriftCheckInput } from '../../workflows/surface.js';
import { auditLocals } from '../audit.js';
import { driftCheckBody, idParam } from '../schemas.js';
import { temporalCall } from '../upgrade-service.js';

export interface DriftRouterDeps {
  drift: DriftRepo;
  instances: InstanceRepo;
  planner: ReleasePlanner;
  temporal: Client;
  temporalAddress: string;
  taskQueue?: string;
}

export function createDriftRouter(deps: DriftRouterDeps): Router {
  const router = Router();
  const taskQueue = deps.taskQueue ?? TASK_QUEUE;

  // The whole fleet: one check at a time, a second request joins the running one. Named instances: a check of their own.
  router.post('/drift/check', async (req, res) => {
    const body = driftCheckBody.parse(req.body ?? {});
    if (body.instanceIds) {
      const found = await deps.instances.byIds(body.instanceIds);
      const missing = body.instanceIds.filter((id) => !found.some((i) => i.id === id));
      if (missing.length > 0) throw notFound(`no instance with id ${missing.join(', ')}`);
    }
    const input: DriftCheckInput = body.instanceIds ? { instanceIds: body.instanceIds } : {};
    const workflowId = body.instanceIds ? `${manualDriftCheckWorkflowId(taskQueue)}-${randomUUID()}` : manualDriftCheckWorkflowId(taskQueue);
    const handle = await temporalCall(deps.temporal, deps.temporalAddress, () =>
      deps.temporal.workflow.start(DRIFT_CHECK_WORKFLOW_TYPE, { taskQueue, workflowId, args: [input], workflowIdConflictPolicy: 'USE_EXISTING' }),
    );
    auditLocals(res).auditAfter = { workflowId, instanceIds: body.instanceIds ?? 'all' };
    res.status(202).json({ workflowId, runId: handle.firstExecutionRunId, ...(body.instanceIds ? { instanceIds: body.instanceIds } : {}) });
  });

  router.get('/instances/:id/drift', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const instance = await deps.instances.get(id);
    if (!instance) throw notFound(`no instance with id ${id}`);
    const record = await deps.drift.get(id);
    const report = record?.report;
    // Reconcile = an Upgrade to Release of the release it runs, with its tag: the preview shows exactly what it writes.
    const reconcile = await driftTarget(deps.planner, instance).then(
      (t) => ({ release: instance.releaseVersion ?? (t.release.kind === 'bundle' ? t.release.bundle.release.version : null), imageTag: t.imageTag }),
      () => null,
    );
    res.json({
      instanceId: instance.id,
      slug: instance.slug,
      status: record?.status ?? null,
      checkedAt: record?.checkedAt ?? null,
      driftedSince: record?.driftedSince ?? null,
      release: report?.release ?? null,
      imageTag: report?.imageTag || null,
      files: report?.files ?? [],
      images: report?.images ?? [],
      ...(report?.reason ? { reason: report.reason } : {}),
      reconcile,
    });
  });

  return router;
}
