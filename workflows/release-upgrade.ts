/**
 * Upgrade to Release: render the managed files server-side and record what is
 * about to change (refusing a stale plan), persist the tag, write, pull, bring everything up, verify.
 * On failure the instance keeps the new tag so the operator can retry.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ReleaseUpgradeInput, UpgradeResult } from '../core/types.js';
import { CONTAINER_RECREATE, DATABASE_WRITE, IMAGE_PULL, TENANT_QUERY, VERIFY, VERIFY_DEADLINE_MS } from './policies.js';
import { StepTracker } from './progress.js';

const db = proxyActivities<Activities>(DATABASE_WRITE);
const tenant = proxyActivities<Activities>(TENANT_QUERY);
const { pullImages } = proxyActivities<Activities>(IMAGE_PULL);
const { startAllServices } = proxyActivities<Activities>(CONTAINER_RECREATE);
const { verifyServices } = proxyActivities<Activities>(VERIFY);

export async function releaseUpgrade(input: ReleaseUpgradeInput): Promise<UpgradeResult> {
  const { target, imageTag } = input;
  const progress = new StepTracker(input.upgradeId);
  const { workflowId, runId } = workflowInfo();

  await db.markUpgradeRunning({
    upgradeId: input.upgradeId,
    instanceId: target.instanceId,
    mode: 'release',
    imageTag,
    workflowId,
    runId,
    requestedBy: input.requestedBy,
  });

  return progress.run(async () => {
    // Plan first: a stale plan is refused before anything, the tag included, changes.
    const plan = await progress.step('plan', () => tenant.planReleaseUpgrade(target, imageTag, input.planHash));
    await progress.step('persist-image-tag', () => db.persistInstanceImageTag(target.instanceId, imageTag));
    await progress.step('write', () => tenant.writeReleaseFiles(target, imageTag, plan.renderHash));
    await progress.step('pull', () => pullImages(target, [], imageTag));
    const services = await progress.step('up', () => startAllServices(target, imageTag));
    await progress.step('verify', () => verifyServices(target, services, VERIFY_DEADLINE_MS));
  });
}
