import { Router } from 'express';
import { conflict, notFound } from '../../core/errors.js';
import type { InstanceRecord, InstanceRepo, UpgradeRecord, UpgradeRepo } from '../../prisma/repositories.js';
import { planRelease, resolveRelease, type ReleasePlanner } from '../../activities/release-plan.js';
import { TenantError } from '../../core/driver.js';
import { DrydockError, unavailable } from '../../core/errors.js';
import type { DriverFor } from '../../worker/drivers.js';
import type { Keyring } from '../../core/keyring.js';
import { DEFAULT_CORE_SERVICES } from '../../core/validation.js';
import type { ReleaseCatalog } from '../../worker/catalog.js';
import { createValuesService } from '../values-service.js';
import { resolveUpgradeTarget } from '../upgrade-service.js';
import {
  createInstanceBody,
  valuesBody,
  idParam,
  operatorActionParam,
  patchInstanceBody,
  releasePreviewBody,
  startFullUpgradeBody,
  startImageUpgradeBody,
  startReleaseUpgradeBody,
} from '../schemas.js';
import { operatorOf } from '../auth.js';
import type { UpgradeService } from '../upgrade-service.js';

export interface InstancesRouterDeps {
  instances: InstanceRepo;
  upgrades: UpgradeRepo;
  upgradeService: UpgradeService;
  defaultImageTag: string;
  temporalUiUrl?: string;
  driverFor: DriverFor;
  planner: ReleasePlanner;
  /** The release catalog (GET/POST /api/releases); with it, requests may name a release. */
  catalog?: ReleaseCatalog;
  /** Seals instance secrets; without it, secrets are refused. */
  keyring?: Keyring;
}

export function createRouter(deps: InstancesRouterDeps): Router {
  const router = Router();

  // A release that names its tag is the default of its instances (the catalog caches bundles by version).
  const releaseTag = async (i: InstanceRecord) => (i.releaseVersion ? (await deps.catalog?.get(i.releaseVersion))?.release.imageTag : undefined);
  const view = async (i: InstanceRecord) => ({
    ...i,
    effectiveImageTag: i.imageTag ?? (await releaseTag(i)) ?? deps.defaultImageTag,
    usesDefaultImageTag: i.imageTag === null,
    effectiveRelease: i.releaseVersion ?? deps.catalog?.defaultVersion() ?? null,
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
    const created = await deps.instances.create({
      slug: body.slug,
      name: body.name,
      composeDir: body.composeDir,
      composeProjectName,
      coreServices: body.coreServices ?? (release.kind === 'bundle' ? release.bundle.release.coreServices : [...DEFAULT_CORE_SERVICES]),
      imageTag: body.imageTag ?? null,
      labels: body.labels,
      releaseVersion: body.release ?? null,
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
    await valuesService().set(instance, body);
    res.json(await valuesService().view(await load(instance.id)));
  });

  router.get('/instances', async (_req, res) => {
    res.json(await Promise.all((await deps.instances.list()).map(view)));
  });

  router.get('/instances/:id', async (req, res) => {
    res.json(await view(await load(idParam.parse(req.params).id)));
  });

  router.patch('/instances/:id', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    const body = patchInstanceBody.parse(req.body ?? {});
    await deps.instances.update(instance.id, body);
    res.json(await view(await load(instance.id)));
  });

  // Who starts an upgrade is who signed in (the auth guard sets req.operator).
  const operator = operatorOf;

  router.post('/instances/:id/upgrade', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    const body = startFullUpgradeBody.parse(req.body ?? {});
    res.status(202).json(await deps.upgradeService.startFullUpgrade(instance, body, operator(req)));
  });

  router.post('/instances/:id/upgrade-images', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    const body = startImageUpgradeBody.parse(req.body ?? {});
    res.status(202).json(await deps.upgradeService.startImageUpgrade(instance, body, operator(req)));
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
    res.status(202).json(await deps.upgradeService.startReleaseUpgrade(instance, body, operator(req)));
  });

  router.get('/instances/:id/upgrades', async (req, res) => {
    const instance = await load(idParam.parse(req.params).id);
    res.json((await deps.upgrades.listForInstance(instance.id)).map((u) => upgradeView(u, deps.temporalUiUrl)));
  });

  router.get('/upgrades/:id', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const upgrade = await deps.upgrades.get(id);
    if (!upgrade) throw notFound(`no upgrade with id ${id}`);
    res.json(upgradeView(upgrade, deps.temporalUiUrl));
  });

  router.post('/upgrades/:id/:action', async (req, res) => {
    const { id, action } = operatorActionParam.parse(req.params);
    const upgrade = await deps.upgrades.get(id);
    if (!upgrade) throw notFound(`no upgrade with id ${id}`);
    if (action === 'cancel') {
      await deps.upgradeService.cancel(upgrade);
      res.status(202).json({ upgradeId: id, action });
      return;
    }
    const progress = await deps.upgradeService.act(upgrade, action);
    res.status(202).json({ upgradeId: id, action, progress });
  });

  return router;
}

export function upgradeView(u: UpgradeRecord, temporalUiUrl?: string) {
  return {
    ...u,
    temporalUrl: temporalUiUrl
      ? `${temporalUiUrl}/namespaces/default/workflows/${encodeURIComponent(u.workflowId)}${u.runId ? `/${u.runId}` : ''}/history`
      : undefined,
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
