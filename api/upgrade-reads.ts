/**
 * Reading upgrades for `GET /api/upgrades/:id`, which every open browser polls:
 *
 * - Finished upgrades never change: a workflow's last write is the one that
 *   sets finishedAt with a terminal status (UpgradeRun.finish), so each is
 *   read from the database once and then answered from memory.
 * - Reads of one running upgrade are shared: a request joins the next query
 *   for that id that starts after it arrived (never one already under way),
 *   so everyone still sees every change committed before they asked, and
 *   fifty pollers cost at most two queries at a time instead of fifty.
 */
import { TERMINAL_STATUSES } from '../core/types.js';
import type { UpgradeRecord, UpgradeRepo } from '../prisma/repositories.js';

const DEFAULT_MAX_FINISHED = 5_000;

export const isFinished = (u: UpgradeRecord) => u.finishedAt !== null && TERMINAL_STATUSES.includes(u.status);

/** The repo with `get` as described above; everything else passes through. */
export function fastUpgradeReads(repo: UpgradeRepo, maxFinished = DEFAULT_MAX_FINISHED): UpgradeRepo {
  const finished = new Map<string, UpgradeRecord>();
  const inFlight = new Map<string, Promise<UpgradeRecord | undefined>>();
  const queued = new Map<string, Promise<UpgradeRecord | undefined>>();

  function query(id: string): Promise<UpgradeRecord | undefined> {
    const p = repo.get(id).then((u) => {
      if (!u) return u;
      Object.freeze(u);
      if (isFinished(u)) {
        if (finished.size >= maxFinished) finished.delete(finished.keys().next().value!);
        finished.set(id, u);
      }
      return u;
    });
    inFlight.set(id, p);
    const done = () => {
      if (inFlight.get(id) === p) inFlight.delete(id);
    };
    p.then(done, done);
    return p;
  }

  return {
    ...repo,
    get(id) {
      const hit = finished.get(id);
      if (hit) return Promise.resolve(hit);
      const running = inFlight.get(id);
      if (!running) return query(id);
      // A query under way may have read before this request arrived: wait for the one after it.
      let next = queued.get(id);
      if (!next) {
        const after = () => {
          queued.delete(id);
          return finished.get(id) ?? query(id);
        };
        next = running.then(after, after);
        queued.set(id, next);
      }
      return next;
    },
  };
}
