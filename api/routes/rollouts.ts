/**
 * Fleet rollouts. The rollout's state lives in its workflow (query and
 * signals); nothing about it is kept in our database.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Router } from 'express';
import { badRequest, conflict, notFound } from '../../core/errors.js';
import { ENDED_ROLLOUT_STATUSES, type FleetRolloutInput, type RolloutInstance } from '../../core/types.js';
import { parseDuration, resolveWaves } from '../../core/waves.js';
import { waveSlices, wavesPreview } from '../../core/rollout.js';
import {
  ROLLOUT_ACTION_SIGNAL,
  ROLLOUT_WORKFLOW_TYPE,
  rolloutIdFromWorkflowId,
  rolloutQuery,
  rolloutsQuery,
  rolloutWorkflowId,
  TASK_QUEUE,
  temporalWorkflowUrl,
} from '../../workflows/surface.js';
import type { InstanceRecord, InstanceRepo } from '../../prisma/repositories.js';
import { operatorOf } from '../auth.js';
import { auditLocals } from '../audit.js';
import { rolloutActionParam, rolloutBody, type RolloutBody } from '../schemas.js';
import { resolveUpgradeTarget, targetOf, temporalCall } from '../upgrade-service.js';
import type { ReleasePlanner } from '../../core/release-plan.js';

export interface RolloutRouterDeps {
  instances: InstanceRepo;
  temporal: Client;
  temporalAddress: string;
  /** The Temporal web console, for links to a rollout's workflow. */
  temporalUiUrl?: string;
  defaultImageTag: string;
  taskQueue?: string;
  verifyDeadlineMs?: number;
  /** Resolves a rollout's `release` (its tag) for each instance. */
  planner?: ReleasePlanner;
}

export function createRouter(deps: RolloutRouterDeps): Router {
  const router = Router();
  const call = <T>(fn: () => Promise<T>) => temporalCall(deps.temporal, deps.temporalAddress, fn);

  async function targets(body: RolloutBody): Promise<InstanceRecord[]> {
    const t = body.target;
    let found: InstanceRecord[];
    if ('instanceIds' in t) {
      const byId = new Map((await deps.instances.byIds(t.instanceIds)).map((i) => [i.id, i]));
      const unknown = t.instanceIds.filter((id) => !byId.has(id));
      if (unknown.length > 0) throw badRequest(`target: no instance with id ${unknown.slice(0, 10).join(', ')}`);
      found = [...new Set(t.instanceIds)].map((id) => byId.get(id)!);
    } else if ('label' in t) {
      found = await deps.instances.withLabel(t.label);
    } else {
      found = await deps.instances.list();
    }
    if (found.length === 0) throw badRequest('target: no instance matches');
    return found;
  }

  async function plan(body: RolloutBody, found: InstanceRecord[]) {
    let sizes: number[];
    try {
      sizes = resolveWaves(found.length, body.waves);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
    const instances: RolloutInstance[] = [];
    for (const { wave, start, end } of waveSlices(sizes)) {
      for (const i of found.slice(start, end)) {
        const { imageTag, releaseVersion } = await resolveUpgradeTarget(deps.planner, i, body, deps.defaultImageTag);
        instances.push({ target: targetOf(i), imageTag, ...(releaseVersion ? { releaseVersion } : {}), wave, status: 'pending' });
      }
    }
    return { sizes, instances };
  }

  router.post('/rollouts/preview', async (req, res) => {
    const body = rolloutBody.parse(req.body ?? {});
    const { sizes, instances } = await plan(body, await targets(body));
    res.json({ waves: wavesPreview(sizes, instances) });
  });

  router.post('/rollouts', async (req, res) => {
    const body = rolloutBody.parse(req.body ?? {});
    const { sizes, instances } = await plan(body, await targets(body));
    const rolloutId = randomUUID();
    const input: FleetRolloutInput = {
      rolloutId,
      mode: body.mode,
      instances,
      waveSizes: sizes,
      maxParallel: body.maxParallel,
      failureBudget: body.failureBudget,
      bake: body.bake === 'approval' ? 'approval' : parseDuration(body.bake),
      perInstanceTimeoutMs: parseDuration(body.perInstanceTimeout),
      requestedBy: operatorOf(req),
      verifyDeadlineMs: deps.verifyDeadlineMs,
    };
    const workflowId = rolloutWorkflowId(rolloutId);
    await call(() =>
      deps.temporal.workflow.start(ROLLOUT_WORKFLOW_TYPE, {
        taskQueue: deps.taskQueue ?? TASK_QUEUE,
        workflowId,
        args: [input],
        memo: { requestedBy: input.requestedBy ?? 'api', reason: body.reason ?? '', mode: body.mode },
      }),
    );
    Object.assign(auditLocals(res), { auditTarget: { kind: 'rollout', id: rolloutId }, auditAfter: { mode: body.mode, imageTag: body.imageTag ?? null, instances: instances.length, waves: sizes } });
    res.status(202).json({ rolloutId, workflowId, waves: wavesPreview(sizes, instances) });
  });

  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const memoOf = (memo: Record<string, unknown> | undefined) => ({
    mode: text(memo?.mode),
    requestedBy: text(memo?.requestedBy),
    reason: text(memo?.reason),
  });

  // This control plane's rollouts: those on its task queue, newest first.
  router.get('/rollouts', async (_req, res) => {
    const rows: Record<string, unknown>[] = [];
    await call(async () => {
      for await (const w of deps.temporal.workflow.list({ query: rolloutsQuery(deps.taskQueue), pageSize: 100 })) {
        rows.push({
          rolloutId: rolloutIdFromWorkflowId(w.workflowId),
          workflowId: w.workflowId,
          execution: w.status.name,
          startTime: w.startTime,
          closeTime: w.closeTime ?? null,
          ...memoOf(w.memo),
        });
        if (rows.length >= 100) break;
      }
    });
    res.json(rows);
  });

  // The workflow's own view (its query), with who started it and where its workflow is.
  router.get('/rollouts/:id', async (req, res) => {
    const { id } = rolloutActionParam.pick({ id: true }).parse(req.params);
    const handle = deps.temporal.workflow.getHandle(rolloutWorkflowId(id));
    try {
      const [view, described] = await call(() => Promise.all([handle.query(rolloutQuery), handle.describe()]));
      res.json({
        ...memoOf(described.memo),
        ...view,
        execution: described.status.name,
        startedAt: described.startTime,
        closedAt: described.closeTime ?? null,
        ...(deps.temporalUiUrl
          ? { temporalUrl: temporalWorkflowUrl(deps.temporalUiUrl, described.workflowId, described.runId) }
          : {}),
      });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw notFound(`no rollout with id ${id}`);
      throw err;
    }
  });

  router.post('/rollouts/:id/:action', async (req, res) => {
    const { id, action } = rolloutActionParam.parse(req.params);
    const handle = deps.temporal.workflow.getHandle(rolloutWorkflowId(id));
    try {
      // A rollout that has ended may still be open for a moment (its last notifications are being recorded):
      // its own view says it ended, and a signal then would be answered 202 and do nothing.
      const { status } = await call(() => handle.query(rolloutQuery));
      if (ENDED_ROLLOUT_STATUSES.has(status)) throw conflict(`the rollout has ended (${status}); nothing to ${action}`);
      // Who sent it travels with the signal (the rollout's log names them); the audit entry is written once answered.
      await call(() => handle.signal(ROLLOUT_ACTION_SIGNAL[action], { by: operatorOf(req) }));
    } catch (err) {
      if (/already completed/i.test((err as Error).message)) throw conflict(`the rollout has ended; nothing to ${action}`);
      if (err instanceof WorkflowNotFoundError) throw notFound(`no rollout with id ${id}`);
      throw err;
    }
    res.status(202).json({ rolloutId: id, action });
  });

  return router;
}
