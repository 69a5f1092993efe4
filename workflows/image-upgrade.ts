/**
 * Quick Upgrade: pull the latest images and recreate only the core services.
 * No tenant file is written; tenant content is checked unchanged at the end.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { TENANT_CONTENT_DIRS, type ImageUpgradeInput, type UpgradeResult } from '../core/types.js';
import { CONTAINER_RECREATE, DATABASE_WRITE, IMAGE_PULL, TENANT_QUERY, VERIFY, VERIFY_DEADLINE_MS } from './policies.js';
import { StepTracker } from './progress.js';

const db = proxyActivities<Activities>(DATABASE_WRITE);
const tenant = proxyActivities<Activities>(TENANT_QUERY);
const { pullImages } = proxyActivities<Activities>(IMAGE_PULL);
const { recreateServices } = proxyActivities<Activities>(CONTAINER_RECREATE);
const { verifyServices } = proxyActivities<Activities>(VERIFY);

export async function imageUpgrade(input: ImageUpgradeInput): Promise<UpgradeResult> {
  const { target, imageTag } = input;
  const services = target.coreServices;
  const progress = new StepTracker(input.upgradeId);
  const { workflowId, runId } = workflowInfo();

  await db.markUpgradeRunning({
    upgradeId: input.upgradeId,
    instanceId: target.instanceId,
    mode: 'image-only',
    imageTag,
    workflowId,
    runId,
    requestedBy: input.requestedBy,
  });

  return progress.run(async () => {
    await progress.step('preflight', () => tenant.checkTenantReady(target, services, imageTag));
    const content = await progress.step('snapshot-content', () => tenant.snapshotTenantContent(target, TENANT_CONTENT_DIRS));
    await progress.step('pull', () => pullImages(target, services, imageTag));
    await progress.step('recreate', () => recreateServices(target, services, imageTag));
    await progress.step('verify', () => verifyServices(target, services, VERIFY_DEADLINE_MS));
    await progress.step('check-content', () => tenant.assertTenantContentUnchanged(target, TENANT_CONTENT_DIRS, content));
    if (input.persistImageTag) {
      await progress.step('persist-image-tag', () => db.persistInstanceImageTag(target.instanceId, imageTag));
    }
  });
}
