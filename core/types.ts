/**
 * Types shared by workflows, activities and the API. Workflow code imports this
 * module, so it must stay free of dependencies.
 */
export type UpgradeMode = 'full' | 'image-only' | 'release';
export const UPGRADE_MODES: readonly UpgradeMode[] = ['full', 'image-only', 'release'];

export type UpgradeStatus =
  | 'queued'
  | 'running'
  /** A step used up its retries; the workflow waits for retry, rollback or abort. */
  | 'needs-attention'
  | 'rolling-back'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'rolled-back';
export const TERMINAL_STATUSES: readonly UpgradeStatus[] = ['succeeded', 'failed', 'cancelled', 'rolled-back'];

/** What an operator can do with a parked upgrade. */
export type OperatorAction = 'retry' | 'rollback' | 'abort';

/** Options every upgrade request may carry. */
export interface UpgradeRequestOptions {
  requestedBy?: string;
  reason?: string;
  /** How long a parked upgrade waits for an operator before it fails. */
  parkTimeoutMs?: number;
  /** Roll back by itself when verify fails, instead of parking. */
  autoRollback?: boolean;
  /** How long services get to become running and healthy. */
  verifyDeadlineMs?: number;
}
export type StepStatus = 'running' | 'succeeded' | 'failed';

export interface StepProgress {
  name: string;
  status: StepStatus;
  startedAt: string;
  finishedAt?: string;
  error?: string;
  /** When the step parked: what the operator decided, and who (the signed-in operator). */
  decision?: OperatorAction;
  decidedBy?: string;
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

/** The target of an instance as the database holds it (its `id` is the target's instanceId). */
export function targetOf(i: Omit<InstanceTarget, 'instanceId'> & { id: string }): InstanceTarget {
  return {
    instanceId: i.id,
    slug: i.slug,
    composeProjectName: i.composeProjectName,
    composeDir: i.composeDir,
    coreServices: i.coreServices,
    isRemote: i.isRemote,
    agentUrl: i.agentUrl,
  };
}

export interface ImageUpgradeInput extends UpgradeRequestOptions {
  upgradeId: string;
  target: InstanceTarget;
  imageTag: string;
  /** The release asked for (recorded on the instance with the tag); absent: the instance's own. */
  releaseVersion?: string;
  /** Persist imageTag on the instance once the upgrade succeeds (it was asked for explicitly). */
  persistImageTag: boolean;
}

export interface FullUpgradeInput extends UpgradeRequestOptions {
  upgradeId: string;
  target: InstanceTarget;
  imageTag: string;
  /** The release to render; absent: the instance's own. Only a reference: activities read the bundle and values themselves. */
  releaseVersion?: string;
}

/** What a rollback restores: files byte for byte, the tag, and the images the containers ran. */
export interface TenantSnapshot {
  files: Record<string, { content: string; mode: number } | null>;
  images: { service: string; imageRef: string; imageId: string }[];
  previousImageTag: string | null;
  /**
   * The tag the core services actually ran (a Quick Upgrade sets it through
   * the environment only), so the rollback's `up` resolves to those images.
   */
  runningImageTag: string;
  /** The release the instance ran (absent in snapshots from before releases). */
  previousReleaseVersion?: string | null;
}

/** A snapshot whose files are sealed in PostgreSQL (prisma/snapshot-store.ts): the history holds only `filesRef`. */
export type SealedTenantSnapshot = Omit<TenantSnapshot, 'files'> & { filesRef: string };

export interface ReleaseUpgradeInput extends UpgradeRequestOptions {
  upgradeId: string;
  target: InstanceTarget;
  imageTag: string;
  /** From a preview: refuse before writing when the plan no longer matches. */
  planHash?: string;
  /** The release to render; absent: the instance's own. */
  releaseVersion?: string;
}

export interface ReleasePlanSummary {
  planHash: string;
  renderHash: string;
  files: { path: string; status: 'unchanged' | 'modified' | 'created' }[];
  missingInTenantEnv: string[];
}

export interface UpgradeResult {
  status: 'succeeded' | 'rolled-back';
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
  /** The image reference the container was created from (compose's resolved `image:`). */
  imageRef?: string;
  state: string;
  /** Absent when the container has no healthcheck. */
  health?: string;
}

/** Tenant-owned content: never written by drydock, checked unchanged after upgrades. */
export const TENANT_CONTENT_DIRS: readonly string[] = ['mkdocs', 'configs', 'scripts'];

export type RolloutInstanceStatus = 'pending' | 'running' | 'updated' | 'failed' | 'skipped';

export interface RolloutInstance {
  target: InstanceTarget;
  /** The tag this instance is upgraded to (resolved at start for each instance). */
  imageTag: string;
  /** The release it is upgraded to, when the rollout named one. */
  releaseVersion?: string;
  wave: number;
  status: RolloutInstanceStatus;
  reason?: string;
  upgradeId?: string;
}

export interface FailureBudget {
  /** At most this many failures... */
  count?: number;
  /** ...and at most this share (0-100) of the instances attempted so far. */
  percent?: number;
}

export type RolloutStatus = 'running' | 'baking' | 'awaiting-approval' | 'paused' | 'succeeded' | 'aborted' | 'failed';
/** A rollout in one of these has ended: nothing starts any more, and no signal changes it. */
export const ENDED_ROLLOUT_STATUSES: ReadonlySet<string> = new Set<RolloutStatus>(['succeeded', 'aborted', 'failed']);

export interface FleetRolloutInput {
  rolloutId: string;
  mode: UpgradeMode;
  instances: RolloutInstance[];
  /** Wave sizes as counts, resolved from counts and percentages at start. */
  waveSizes: number[];
  maxParallel: number;
  failureBudget: FailureBudget;
  /** Milliseconds to wait between waves, or wait for an operator's approval. */
  bake: number | 'approval';
  /** A child that has not finished by then counts as failed (an offline agent must not hold a wave). */
  perInstanceTimeoutMs: number;
  requestedBy?: string;
  /** Carried across continue-as-new. */
  state?: { nextWave: number; status: RolloutStatus; log: string[] };
  /** Continue-as-new at the next wave boundary past this many history events (default 20,000). */
  continueAsNewAfterEvents?: number;
  verifyDeadlineMs?: number;
}

export interface RolloutView {
  rolloutId: string;
  mode: UpgradeMode;
  status: RolloutStatus;
  currentWave: number;
  waves: { index: number; size: number; updated: number; failed: number; skipped: number; running: number; pending: number }[];
  instances: { instanceId: string; slug: string; wave: number; status: RolloutInstanceStatus; reason?: string; upgradeId?: string }[];
  counts: Record<RolloutInstanceStatus, number>;
  log: string[];
}

/** What a full upgrade probes last: the tenant's public entry (DRYDOCK_FRONT_DOOR). */
export interface FrontDoor {
  service: string;
  port: number;
  path: string;
}

export const DEFAULT_FRONT_DOOR: FrontDoor = { service: 'nginx', port: 80, path: '/' };

/**
 * A step's progress record riding on the step's activity call, as its last
 * argument, instead of a local activity of its own (patch
 * `progress-rides-on-activity`): the worker writes it to the upgrade row
 * before the activity runs (activities/index.ts). The argument travels
 * through the payload codec like every other, so it is sealed in the history.
 */
export interface ProgressRide {
  rideAlong: 'upgrade-progress';
  upgradeId: string;
  progress: { status: UpgradeStatus; currentStep: string | null; steps: StepProgress[]; error: string | null };
  /** Until one of the upgrade's steps has succeeded (patch `mark-running-rides`): the row to create first, as markUpgradeRunning did. */
  started?: StartedUpgrade;
}

/** What an upgrade's row is created with when its workflow starts. */
export interface StartedUpgrade {
  upgradeId: string;
  instanceId: string;
  mode: UpgradeMode;
  imageTag: string;
  workflowId: string;
  runId: string;
  requestedBy?: string;
}

export const isProgressRide = (v: unknown): v is ProgressRide =>
  typeof v === 'object' && v !== null && (v as { rideAlong?: unknown }).rideAlong === 'upgrade-progress';
