/**
 * Types shared by workflows, activities and the API. Workflow code imports this
 * module, so it must stay free of dependencies.
 */
export type UpgradeMode = 'full' | 'image-only' | 'release';
export const UPGRADE_MODES: readonly UpgradeMode[] = ['full', 'image-only', 'release'];

export type UpgradeStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type StepStatus = 'running' | 'succeeded' | 'failed';

export interface StepProgress {
  name: string;
  status: StepStatus;
  startedAt: string;
  finishedAt?: string;
  error?: string;
}

/** What the workflow needs to know about the instance; resolved by the API at start. */
export interface InstanceTarget {
  instanceId: string;
  slug: string;
  composeProjectName: string;
  composeDir: string;
  coreServices: string[];
  /** Remote instances are driven through their agent over mTLS. */
  isRemote: boolean;
  agentUrl: string | null;
}

export interface ImageUpgradeInput {
  upgradeId: string;
  target: InstanceTarget;
  imageTag: string;
  /** Persist imageTag on the instance once the upgrade succeeds (it was asked for explicitly). */
  persistImageTag: boolean;
  requestedBy?: string;
}

export interface ReleaseUpgradeInput {
  upgradeId: string;
  target: InstanceTarget;
  imageTag: string;
  /** From a preview: refuse before writing when the plan no longer matches. */
  planHash?: string;
  requestedBy?: string;
}

export interface ReleasePlanSummary {
  planHash: string;
  renderHash: string;
  files: { path: string; status: 'unchanged' | 'modified' | 'created' }[];
  missingInTenantEnv: string[];
}

export interface UpgradeResult {
  status: 'succeeded' | 'failed';
  failedStep?: string;
  error?: string;
  steps: StepProgress[];
}

/** A relative path -> sha256 hex map of tenant content. */
export type ContentManifest = Record<string, string>;

export interface ContainerState {
  service: string;
  containerId: string;
  imageId: string;
  state: string;
  /** Absent when the container has no healthcheck. */
  health?: string;
}

/** Tenant-owned content: never written by drydock, checked unchanged after upgrades. */
export const TENANT_CONTENT_DIRS: readonly string[] = ['mkdocs', 'configs', 'scripts'];
