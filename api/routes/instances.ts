import { Router, type Request, type Response } from 'express';
import { conflict, notFound } from '../../core/errors.js';
import { createInstanceRepo, type InstanceRecord, type InstanceRepo, type UpgradeRecord, type UpgradeRepo } from '../../prisma/repositories.js';
import { auditLocals, changeAudited, entryFor, type AuditLog } from '../audit.js';
import { planRelease, resolveRelease, type ReleasePlanner } from '../../core/release-plan.js';
import { TenantError } from '../../core/driver.js';
import { DrydockError, unavailable } from '../../core/errors.js';
import type { DriverFor } from '../../transports/drivers.js';
import type { Keyring } from '../../core/keyring.js';
import { DEFAULT_CORE_SERVICES } from '../../core/validation.js';
import type { ReleaseCatalog } from '../../worker/catalog.js';
import { driftStateOf, type DriftRepo, type DriftState } from '../../prisma/drift-repo.js';
import { createValuesService } from '../values-service.js';
import { resolveUpgradeTarget } from '../upgrade-service.js';
import { createInstanceBody, valuesBody, idParam, operatorActionParam, patchInstanceBody, releasePreviewBody, startFullUpgradeBody, startImageUpgradeBody, startReleaseUpgradeBody } from '../schemas.js';
import { operatorOf } from '../auth.js';
import type { UpgradeService } from '../upgrade-service.js';
import { temporalWorkflowUrl } from '../../workflows/surface.js';

export interface InstancesRouterDeps {
  instances: InstanceRepo;
  upgrades: UpgradeRepo;
  upgradeService: UpgradeService;
  defaultImageTag: string;
  temporalUiUrl?: string;
  driverFor: DriverFor;
  planner: ReleasePlanner;
  /** Set by createApp: instance changes are written with their audit entry. */
  audit?: AuditLog;
  /** The release catalog (GET/POST /api/releases); with it, requests may name a release. */
  catalog?: ReleaseCatalog;
  /** Seals instance secrets; without it, secrets are refused. */
  keyring?: Keyring;
  /** The last drift check of each instance (shown with it). */
  drift?: DriftRepo;
}

/** An instance's settings as the audit log records them before and after a change. */
const settingsOf = (i: InstanceRecord) => ({ imageTag: i.imageTag, labels: i.labels });

export function createRouter(deps: InstancesRouterDeps): Router {
  const router = Router();

  // A release that names its tag is the default of its instances (the catalog caches bundles by version).
  const releaseTag = async (i: InstanceRecord) => (i.releaseVersion ? (await deps.catalog?.get(i.releaseVersion))?.release.imageTag : undefined);
  const driftOf = async (i: InstanceRecord) => {
    const r = await deps.drift?.get(i.id);
    return r ? driftStateOf(r) : null;
  };
  const view = async (i: InstanceRecord, drift?: DriftState | null) => ({
    ...i,
    effectiveImageTag: i.imageTag ?? (await releaseTag(i)) ?? deps.defaultImageTag,
    usesDefaultImageTag: i.imageTag === null,
    effectiveRelease: i.releaseVersion ?? deps.catalog?.defaultVersion() ?? null,
    drift: drift === undefined ? await driftOf(i) : drift,
  });
  const valuesService = () => {
    if (!deps.keyring) throw new DrydockError('bad-request', 'this control plane has no key store: values and secrets are unavailable');
    return createValuesService({ instances: deps.instances, planner: deps.planner, keyring: deps.keyring });
  };

  async function load(id: string): Promise<InstanceRecord> {
    const instance = await deps.instances.get(id);
    if (!instance) throw notFound(`no instance with id ${id}`);
    return instance;
  }

  /** Runs a change of instances with its audit entry in one transaction (without an audit log: just the change). */
  async function audited<T>(req: Request, res: Response, fn: (repo: InstanceRepo) => Promise<{ result: T; entry: Parameters<typeof entryFor>[1] }>): Promise<T> {
    if (!deps.audit) return (await fn(deps.instances)).result;
    return changeAudited(deps.audit, req, res, (tx) => fn(createInstanceRepo(tx)));
  }

  router.post('/instances', async (req, res) => {
    const body = createInstanceBody.parse(req.body);
    const composeProjectName = body.composeProjectName ?? body.slug;
    // Two instances never manage one tenant: they could be upgraded at once.
    const other = await deps.instances.managing(body.composeDir, composeProjectName);
    if (other) {
      throw conflict(`instance ${other.slug} already manages compose project ${composeProjectName} in ${body.composeDir}${other.isRemote ? ' (through its agent)' : ''}`, {
        instanceId: other.id,
        slug: other.slug,
      });
    }
    const draft = { slug: body.slug, name: body.name, composeProjectName, isRegistered: false, releaseVersion: body.release ?? null };
    const release = await resolveRelease(deps.planner, draft, body.release);
    if (body.values !== undefined || body.secrets !== undefined) await valuesService().checkNew(draft, { values: body.values, secrets: body.secrets });
    const created = await audited(req, res, async (repo) => {
      const c = await repo.create({
        slug: body.slug,
        name: body.name,
        composeDir: body.composeDir,
        composeProjectName,
        coreServices: body.coreServices ?? (release.kind === 'bundle' ? release.bundle.release.coreServices : [...DEFAULT_CORE_SERVICES]),
        imageTag: body.imageTag ?? null,
        labels: body.labels,
        releaseVersion: body.release ?? null,
      });
      return {
        result: c,
        entry: c
          ? { outcome: 'accepted', targetId: c.id, after: { slug: c.slug, name: c.name, composeDir: c.composeDir, release: c.releaseVersion, ...settingsOf(c) } }
          : { outcome: 'refused', reason: `an instance with slug ${body.slug} exists already`, after: { slug: body.slug } },
      };
    });
    if (!created) throw conflict(`an instance with slug ${body.slug} exists already`);
    if (body.values !== undefined || body.secrets !== undefined) await valuesService().set(created, { values: body.values, secrets: body.secrets });
    res.status(201).json(await view((await deps.instances.get(created.id))!));
  });

  router.get('/instances/:id/values', async (req, res) => {
    res.json(await valuesService().view(await load(idParam.parse(req.params).id)));
  });

  router.put('/instances/:id/values', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    const body = valuesBody.parse(req.body ?? {});
    // Secrets as set/unset only: the view never holds a secret's value.
    const valuesOf = (v: { values: unknown; secrets: Record<string, string> }) => ({ values: v.values, secrets: v.secrets });
    const before = valuesOf(await valuesService().view(instance));
    Object.assign(auditLocals(res), { auditTarget: { kind: 'instance', id: instance.id }, auditBefore: before });
    await valuesService().set(instance, body);
    const after = await valuesService().view(await load(instance.id));
    auditLocals(res).auditAfter = valuesOf(after);
    res.json(after);
  });

  router.get('/instances', async (_req, res) => {
    const drift = (await deps.drift?.states()) ?? new Map<string, DriftState>();
    res.json(await Promise.all((await deps.instances.list()).map((i) => view(i, drift.get(i.id) ?? null))));
  });

  router.get('/instances/:id', async (req, res) => {
    res.json(await view(await load(idParam.parse(req.params).id)));
  });

  router.patch('/instances/:id', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    const body = patchInstanceBody.parse(req.body ?? {});
    const after = await audited(req, res, async (repo) => {
      await repo.update(instance.id, body);
      const a = (await repo.get(instance.id))!;
      return { result: a, entry: { outcome: 'accepted', before: settingsOf(instance), after: settingsOf(a) } };
    });
    res.json(await view(after));
  });

  // Who starts an upgrade is who signed in (the auth guard sets req.operator).
  const operator = operatorOf;

  /** The audit entry of a start names the upgrade it created. */
  function started(res: Parameters<Parameters<Router['post']>[1]>[1], s: { upgradeId: string; imageTag: string }, mode: string) {
    Object.assign(auditLocals(res), { auditTarget: { kind: 'upgrade', id: s.upgradeId }, auditAfter: { mode, imageTag: s.imageTag } });
    res.status(202).json(s);
  }

  router.post('/instances/:id/upgrade', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    const body = startFullUpgradeBody.parse(req.body ?? {});
    started(res, await deps.upgradeService.startFullUpgrade(instance, body, operator(req)), 'full');
  });

  router.post('/instances/:id/upgrade-images', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    const body = startImageUpgradeBody.parse(req.body ?? {});
    started(res, await deps.upgradeService.startImageUpgrade(instance, body, operator(req)), 'image-only');
  });

  // Read-only: renders in memory and reads the tenant's files; writes nothing.
  router.post('/instances/:id/upgrade-release/preview', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    const body = releasePreviewBody.parse(req.body ?? {});
    const { imageTag, releaseVersion } = await resolveUpgradeTarget(deps.planner, instance, body, deps.defaultImageTag);
    const plan = await tenantErrors(() => planRelease(deps.planner, deps.driverFor(instance), instance, imageTag, undefined, releaseVersion));
    res.json(plan);
  });

  router.post('/instances/:id/upgrade-release', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    const body = startReleaseUpgradeBody.parse(req.body ?? {});
    started(res, await deps.upgradeService.startReleaseUpgrade(instance, body, operator(req)), 'release');
  });

  router.get('/instances/:id/upgrades', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    const upgrades = await deps.upgrades.listForInstance(instance.id);
    // Who started, retried, rolled back, aborted or cancelled each upgrade: from the audit log.
    const actions = (await deps.audit?.actionsOn('upgrade', upgrades.map((u) => u.id))) ?? [];
    res.json(
      upgrades.map((u) => ({
        ...upgradeView(u, deps.temporalUiUrl),
        actions: actions
          .filter((a) => a.targetId === u.id)
          .map((a) => ({ action: a.action.replace(/^upgrade\./, ''), by: a.actorName, via: a.tokenName ? `token ${a.tokenName}` : undefined, at: a.at })),
      })),
    );
  });

  router.post('/upgrades/:id/:action', async (req, res) => {
    const { id, action } = operatorActionParam.parse(req.params);
    const upgrade = await deps.upgrades.get(id);
    if (!upgrade) throw notFound(`no upgrade with id ${id}`);
    auditLocals(res).auditBefore = { status: upgrade.status, currentStep: upgrade.currentStep };
    // Recorded (by the audit middleware) once Temporal has accepted or refused it: the change happens in the workflow.
    if (action === 'cancel') {
      await deps.upgradeService.cancel(upgrade);
      res.status(202).json({ upgradeId: id, action });
      return;
    }
    const progress = await deps.upgradeService.act(upgrade, action, operator(req));
    res.status(202).json({ upgradeId: id, action, progress });
  });

  return router;
}

export function upgradeView(u: UpgradeRecord, temporalUiUrl?: string) {
  return {
    ...u,
    temporalUrl: temporalUiUrl ? temporalWorkflowUrl(temporalUiUrl, u.workflowId, u.runId) : undefined,
  };
}

/** Tenant-side failures during a request: an unreachable engine or agent is a 503, a bad path a 400. */
async function tenantErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof TenantError)) throw err;
    if (err.code === 'engine-unreachable' || err.code === 'agent-unreachable') throw unavailable('the tenant', err.message);
    if (err.code === 'agent-not-approved') throw new DrydockError('conflict', err.message);
    throw new DrydockError('bad-request', err.message);
  }
}
