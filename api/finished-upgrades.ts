/**
 * Finished upgrades never change: a workflow's last write is the one that
 * sets finishedAt with a terminal status (UpgradeRun.finish), so the API reads
 * each finished upgrade from the database once and then answers from memory.
 * Upgrades still running are read on every request, as before.
 */
import { TERMINAL_STATUSES } from '../core/types.js';
import type { UpgradeRecord, UpgradeRepo } from '../prisma/repositories.js';

const DEFAULT_MAX_ENTRIES = 5_000;

export const isFinished = (u: UpgradeRecord) => u.finishedAt !== null && TERMINAL_STATUSES.includes(u.status);

/** The repo with `get` answered from memory for finished upgrades (at most maxEntries, oldest dropped first). */
export function cacheFinishedUpgrades(repo: UpgradeRepo, maxEntries = DEFAULT_MAX_ENTRIES): UpgradeRepo {
  const finished = new Map<string, UpgradeRecord>();
  return {
    ...repo,
    async get(id) {
      const hit = finished.get(id);
      if (hit) return hit;
      const u = await repo.get(id);
      if (u && isFinished(u)) {
        if (finished.size >= maxEntries) finished.delete(finished.keys().next().value!);
        finished.set(id, Object.freeze(u));
      }
      return u;
    },
  };
}
