/**
 * Activity proxies, one per kind of step, each with the policy that fits it.
 * Workflows import activities as types only; this is where they get stubs.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ProgressRide } from '../core/types.js';
import { BOOKKEEPING, CONTAINER_RECREATE, DATABASE_WRITE, IMAGE_PULL, TENANT_QUERY, VERIFY } from './policies.js';

export const db = proxyActivities<Activities>(DATABASE_WRITE);
/**
 * Steps that only write drydock's own database (the tag, the release, the
 * tag's rollback) as local activities: the worker runs them inside the
 * workflow task, so such a step costs no activity task and no workflow task
 * of its own. The console still lists each one, as a local activity under
 * its name.
 */
export const localDb = proxyLocalActivities<Activities>(BOOKKEEPING);
export const tenant = proxyActivities<Activities>(TENANT_QUERY);
export const { pullImages } = proxyActivities<Activities>(IMAGE_PULL);
export const { recreateServices, startAllServices } = proxyActivities<Activities>(CONTAINER_RECREATE);
export const { verifyServices } = proxyActivities<Activities>(VERIFY);

const proxies = { db, localDb, tenant, pullImages, recreateServices, startAllServices, verifyServices };
export type StepActivities = typeof proxies;

type AnyActivity = (...args: unknown[]) => Promise<unknown>;

/**
 * The same proxies, but the first call after a step began carries that
 * step's progress record as its last argument (`ride()` hands it out once);
 * the worker writes it before the activity runs and drops the argument.
 */
export function carryingProgress(ride: () => ProgressRide | undefined): StepActivities {
  const carry = <F>(fn: F): F =>
    ((...args: unknown[]) => {
      const r = ride();
      return r ? (fn as AnyActivity)(...args, r) : (fn as AnyActivity)(...args);
    }) as F;
  const group = <G extends object>(g: G): G => new Proxy(g, { get: (target, name) => carry(Reflect.get(target, name)) });
  return {
    db: group(db),
    localDb: group(localDb),
    tenant: group(tenant),
    pullImages: carry(pullImages),
    recreateServices: carry(recreateServices),
    startAllServices: carry(startAllServices),
    verifyServices: carry(verifyServices),
  };
}
