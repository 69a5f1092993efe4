import type { InstanceTarget, TenantSnapshot } from '../core/types.js';
import { db, startAllServices, tenant, verifyServices } from './activities.js';
import { VERIFY_DEADLINE_MS } from './policies.js';
import type { UpgradeRun } from './upgrade-run.js';

/** Undo an upgrade that changed files, the tag or images: restore all three, then up and verify. */
export function rollbackTo(run: UpgradeRun, target: InstanceTarget, snapshot: TenantSnapshot, verifyDeadlineMs = VERIFY_DEADLINE_MS) {
  return async () => {
    await run.step('rollback-files', () => tenant.restoreTenantFiles(target, snapshot.files));
    await run.step('rollback-image-tag', () => db.restoreInstanceImageTag(target.instanceId, snapshot.previousImageTag, snapshot.previousReleaseVersion));
    await run.step('rollback-images', () => tenant.restorePreviousImages(target, snapshot.images));
    const services = await run.step('rollback-up', () => startAllServices(target, snapshot.runningImageTag));
    await run.step('rollback-verify', () => verifyServices(target, services, verifyDeadlineMs));
  };
}
