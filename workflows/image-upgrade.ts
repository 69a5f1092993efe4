/**
 * Quick Upgrade: pull the latest images and recreate only the core services.
 * No tenant file is written; tenant content is checked unchanged after the
 * recreate, drydock's last change.
 */
import { workflowInfo } from '@temporalio/workflow';
import { TENANT_CONTENT_DIRS, type ImageUpgradeInput, type UpgradeResult } from '../core/types.js';
import { VERIFY_DEADLINE_MS } from './policies.js';
import { UpgradeRun } from './upgrade-run.js';

export async function imageUpgrade(input: ImageUpgradeInput): Promise<UpgradeResult> {
  const { target, imageTag } = input;
  const services = target.coreServices;
  const run = new UpgradeRun(input.upgradeId, input.parkTimeoutMs);
  const { pullImages, recreateServices, tenant, verifyServices } = run.activities;
  await run.begin({ ...started(input), mode: 'image-only' });

  return run.run(async () => {
    const [, content] = await run.together([
      ['preflight', () => tenant.checkTenantReady(target, services, imageTag)],
      ['snapshot-content', () => tenant.snapshotTenantContent(target, TENANT_CONTENT_DIRS)],
    ]);
    await run.step('pull', () => pullImages(target, services, imageTag));
    await run.step('recreate', () => recreateServices(target, services, imageTag));
    // The recreate was drydock's last change to the tenant: its content is checked while the services come up.
    await run.together([
      ['verify', () => verifyServices(target, services, input.verifyDeadlineMs ?? VERIFY_DEADLINE_MS)],
      ['check-content', () => tenant.assertTenantContentUnchanged(target, TENANT_CONTENT_DIRS, content)],
    ]);
    if (input.persistImageTag) {
      await run.step('persist-image-tag', () => run.databaseStep().persistInstanceImageTag(target.instanceId, imageTag, input.releaseVersion));
    }
  });
}

/** The row every path creates first. */
export function started(input: { upgradeId: string; target: { instanceId: string }; imageTag: string; requestedBy?: string }) {
  const { workflowId, runId } = workflowInfo();
  return {
    upgradeId: input.upgradeId,
    instanceId: input.target.instanceId,
    imageTag: input.imageTag,
    workflowId,
    runId,
    requestedBy: input.requestedBy,
  };
}
