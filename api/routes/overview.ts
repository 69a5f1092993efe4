/**
 * What the fleet view needs in one request: the most recent upgrade of every
 * instance (`GET /api/upgrades`).
 */
import { Router } from 'express';
import type { UpgradeRecord } from '../../prisma/repositories.js';
import type { PrismaClient } from '../../prisma/generated/client.js';
import { upgradeView } from './instances.js';

export interface OverviewRouterDeps {
  latestUpgrades(): Promise<UpgradeRecord[]>;
  temporalUiUrl?: string;
}

/** One row per instance that has any upgrade: its newest (the (instanceId, startedAt) index serves it). */
export function latestUpgradesFrom(prisma: PrismaClient) {
  return async (): Promise<UpgradeRecord[]> => {
    const rows = await prisma.$queryRaw<Record<string, unknown>[]>`
      SELECT DISTINCT ON ("instanceId") * FROM "InstanceUpgrade" ORDER BY "instanceId", "startedAt" DESC`;
    return rows.map((r) => ({ ...(r as unknown as UpgradeRecord), steps: (r.steps as UpgradeRecord['steps'] | null) ?? [] }));
  };
}

export function createOverviewRouter(deps: OverviewRouterDeps): Router {
  const router = Router();
  router.get('/upgrades', async (_req, res) => {
    res.json((await deps.latestUpgrades()).map((u) => upgradeView(u, deps.temporalUiUrl)));
  });
  return router;
}
