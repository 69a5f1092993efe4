/**
 * Upgrade Now: pre-flight, snapshot, render and write the whole managed set,
 * pull and bring up everything, verify every service and the front door.
 */
import type { FullUpgradeInput, UpgradeResult } from '../core/types.js';
import { started } from './image-upgrade.js';
import { VERIFY_DEADLINE_MS } from './policies.js';
import { rollbackTo, snapshotTenant } from './rollback.js';
import { UpgradeRun } from './upgrade-run.js';

export async function fullUpgrade(input: FullUpgradeInput): Promise<UpgradeResult> {
  const { target, imageTag } = input;
  const run = new UpgradeRun(input.upgradeId, input.parkTimeoutMs);
  const { pullImages, startAllServices, tenant, verifyServices } = run.activities;
  await run.begin({ ...started(input), mode: 'full' });
  const verifyOpts = { onExhausted: input.autoRollback ? ('rollback' as const) : ('park' as const) };

  return run.run(async () => {
    const release = input.releaseVersion;
    const [, snapshot] = await run.together([
      ['preflight', () => tenant.preflightFullUpgrade(target, imageTag)],
      ['snapshot', () => snapshotTenant(run, target, input.upgradeId, release)],
    ]);
    run.enableRollback(rollbackTo(run, target, snapshot, input.verifyDeadlineMs));
    const plan = await run.step('render', () => tenant.planReleaseUpgrade(target, imageTag, undefined, release));
    await run.step('write', () => tenant.writeReleaseFiles(target, imageTag, plan.renderHash, release));
    await run.step('pull', () => pullImages(target, [], imageTag));
    const services = await run.step('up', () => startAllServices(target, imageTag, release));
    await run.step('verify', () => verifyServices(target, services, input.verifyDeadlineMs ?? VERIFY_DEADLINE_MS), verifyOpts);
    await run.step('probe-front-door', () => tenant.probeFrontDoor(target, release), verifyOpts);
    // Upgrade Now to a named release records it; the persist step is new, hence the patch.
    if (release !== undefined && run.patched('full-upgrade-persists-release')) {
      await run.step('persist-release', () => run.databaseStep().persistInstanceRelease(target.instanceId, release));
    }
  });
}
