/**
 * One task queue and one workflow-ID scheme for every upgrade path. The ID is
 * derived from the instance alone, so Temporal itself refuses a second upgrade
 * of an instance while one runs (workflowIdConflictPolicy FAIL), whatever the
 * path. Workflow code imports this module: keep it free of dependencies.
 */
export const TASK_QUEUE = 'drydock-upgrades';

export function upgradeWorkflowId(instanceSlug: string): string {
  return `upgrade-${instanceSlug}`;
}

export function slugFromWorkflowId(workflowId: string): string | undefined {
  return workflowId.startsWith('upgrade-') ? workflowId.slice('upgrade-'.length) : undefined;
}

/** Workflow type names of the three upgrade paths. */
export const WORKFLOW_TYPE = { 'image-only': 'imageUpgrade', release: 'releaseUpgrade', full: 'fullUpgrade' } as const;

export function rolloutWorkflowId(rolloutId: string): string {
  return `rollout-${rolloutId}`;
}
