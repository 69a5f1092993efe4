/**
 * Upgrade to Release: render the managed files server-side and record what is
 * about to change (refusing a stale plan), snapshot, persist the tag, write,
 * pull, bring everything up, verify. A parked failure keeps the new tag so
 * the operator can retry, or rolls everything back.
 */
import type { ReleaseUpgradeInput, UpgradeResult } from '../core/types.js';
import { started } from './image-upgrade.js';
import { VERIFY_DEADLINE_MS } from './policies.js';
import { rollbackTo, snapshotTenant } from './rollback.js';
import { UpgradeRun } from './upgrade-run.js';

export async function releaseUpgrade(input: ReleaseUpgradeInput): Promise<UpgradeResult> {
  const { target, imageTag } = input;
  const run = new UpgradeRun(input.upgradeId, input.parkTimeoutMs);
  const { pullImages, startAllServices, tenant, verifyServices } = run.activities;
  await run.begin({ ...started(input), mode: 'release' });

  return run.run(async () => {
    // Plan and snapshot only read: a stale plan is refused before anything, the tag included, changes.
    // The release travels as a version only: activities read the bundle, values and secrets themselves.
    const release = input.releaseVersion;
    const [plan, snapshot] = await run.together([
      ['plan', () => tenant.planReleaseUpgrade(target, imageTag, input.planHash, release)],
      ['snapshot', () => snapshotTenant(run, target, input.upgradeId, release)],
    ]);
    run.enableRollback(rollbackTo(run, target, snapshot, input.verifyDeadlineMs));
    await run.step('persist-image-tag', () => run.databaseStep().persistInstanceImageTag(target.instanceId, imageTag, release));
    await run.step('write', () => tenant.writeReleaseFiles(target, imageTag, plan.renderHash, release));
    await run.step('pull', () => pullImages(target, [], imageTag));
    const services = await run.step('up', () => startAllServices(target, imageTag, release));
    await run.step('verify', () => verifyServices(target, services, input.verifyDeadlineMs ?? VERIFY_DEADLINE_MS), {
      onExhausted: input.autoRollback ? 'rollback' : 'park',
    });
  });
}
