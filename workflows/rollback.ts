import type { InstanceTarget, SealedTenantSnapshot, TenantSnapshot } from '../core/types.js';
import { VERIFY_DEADLINE_MS } from './policies.js';
import type { FoldedPatch, UpgradeRun } from './upgrade-run.js';

/** Since this patch, a snapshot's files (`.env` included) are sealed in PostgreSQL, not carried in the history. */
export const SEALED_SNAPSHOT_PATCH = 'snapshot-files-sealed' satisfies FoldedPatch;

export type AnySnapshot = TenantSnapshot | SealedTenantSnapshot;

/** What a rollback will need: files, tag and images. Histories from before the patch keep their inline snapshot. */
export function snapshotTenant(run: UpgradeRun, target: InstanceTarget, upgradeId: string, releaseVersion?: string): Promise<AnySnapshot> {
  const { tenant } = run.activities;
  return run.patched(SEALED_SNAPSHOT_PATCH) ? tenant.snapshotTenantSealed(target, upgradeId, releaseVersion) : tenant.snapshotTenant(target, releaseVersion);
}

/** Undo an upgrade that changed files, the tag or images: restore all three, then up and verify. */
export function rollbackTo(run: UpgradeRun, target: InstanceTarget, snapshot: AnySnapshot, verifyDeadlineMs = VERIFY_DEADLINE_MS) {
  const { startAllServices, tenant, verifyServices } = run.activities;
  return async () => {
    await run.step('rollback-files', () =>
      'filesRef' in snapshot ? tenant.restoreSealedTenantFiles(target, snapshot.filesRef) : tenant.restoreTenantFiles(target, snapshot.files),
    );
    await run.step('rollback-image-tag', () =>
      run.databaseStep().restoreInstanceImageTag(target.instanceId, snapshot.previousImageTag, snapshot.previousReleaseVersion),
    );
    await run.step('rollback-images', () => tenant.restorePreviousImages(target, snapshot.images));
    const services = await run.step('rollback-up', () => startAllServices(target, snapshot.runningImageTag));
    await run.step('rollback-verify', () => verifyServices(target, services, verifyDeadlineMs));
  };
}
