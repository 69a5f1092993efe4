/**
 * The answers the web UI reads, as zod schemas: the UI (ui/) bundles this
 * module, parses every answer with these and types its pages from them, so it
 * must stay free of Node-only imports. Request validation is api/schemas.ts.
 */
import { z } from 'zod';
import type { RolloutInstanceStatus, RolloutStatus, UpgradeStatus } from '../core/types.js';

// ---------------------------------------------------------------- answers, as the UI reads them
// Dates arrive as ISO strings. Objects strip fields the UI does not use.

const isoDate = z.string();

export const operatorView = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  role: z.enum(['viewer', 'operator', 'admin']),
  via: z.enum(['session', 'token']),
});
export const meResponse = z.object({ operator: operatorView });

export const errorResponse = z.object({
  error: z.string(),
  fields: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  retryAfterSeconds: z.number().optional(),
  setupNeeded: z.boolean().optional(),
  /** A 409 from approving an agent: what the approval would replace. */
  replaces: z.lazy(() => agentReplacementView).optional(),
});

export const DRIFT_STATUS_VALUES = ['in-sync', 'drifted', 'unknown'] as const;
export const driftStatus = z.enum(DRIFT_STATUS_VALUES);

/** An instance's last drift check, as lists show it: the state and how much differs. */
export const driftStateView = z.object({
  status: driftStatus,
  checkedAt: isoDate,
  driftedSince: isoDate.nullable(),
  files: z.number(),
  images: z.number(),
  reason: z.string().optional(),
});

/** GET /api/instances/:id/drift: what differs, diffs masked where env. */
export const driftReportView = z.object({
  instanceId: z.string(),
  slug: z.string(),
  /** null: never checked. */
  status: driftStatus.nullable(),
  checkedAt: isoDate.nullable(),
  driftedSince: isoDate.nullable(),
  release: z.string().nullable(),
  imageTag: z.string().nullable(),
  files: z.array(
    z.object({ path: z.string(), status: z.enum(['modified', 'missing']), diff: z.string().optional(), truncated: z.boolean(), approximate: z.boolean().optional() }),
  ),
  images: z.array(
    z.object({
      service: z.string(),
      expected: z.string(),
      running: z.string().nullable(),
      runningImageId: z.string().nullable(),
      expectedImageId: z.string().nullable(),
      problem: z.enum(['no-container', 'other-image', 'image-changed', 'not-on-host']),
    }),
  ),
  reason: z.string().optional(),
  /** What "reconcile" applies: an Upgrade to Release of the release the instance runs, with its tag (preview first). */
  reconcile: z.object({ release: z.string().nullable(), imageTag: z.string() }).nullable(),
});

/** POST /api/drift/check */
export const startedDriftCheck = z.object({ workflowId: z.string(), runId: z.string(), instanceIds: z.array(z.string()).optional() });

export const instanceView = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  isRemote: z.boolean(),
  isRegistered: z.boolean(),
  imageTag: z.string().nullable(),
  composeProjectName: z.string(),
  composeDir: z.string(),
  coreServices: z.array(z.string()),
  agentUrl: z.string().nullable(),
  createdAt: isoDate,
  updatedAt: isoDate,
  effectiveImageTag: z.string(),
  usesDefaultImageTag: z.boolean(),
  labels: z.array(z.string()).default([]),
  /** The release the instance runs (null: the default release, named by effectiveRelease). */
  releaseVersion: z.string().nullable().optional(),
  effectiveRelease: z.string().nullable().optional(),
  values: z.record(z.string(), z.unknown()).optional(),
  /** Names of the secrets that are set; their values are never returned. */
  secretsSet: z.array(z.string()).optional(),
  /** The last drift check (null: never checked). */
  drift: driftStateView.nullable().optional(),
});

export const UPGRADE_STATUS_VALUES = [
  'queued',
  'running',
  'needs-attention',
  'rolling-back',
  'succeeded',
  'failed',
  'cancelled',
  'rolled-back',
] as const satisfies readonly UpgradeStatus[];
// Compile-time: every UpgradeStatus is listed.
const _everyStatusListed: [Exclude<UpgradeStatus, (typeof UPGRADE_STATUS_VALUES)[number]>] extends [never] ? true : never = true;
void _everyStatusListed;

export const stepView = z.object({
  name: z.string(),
  status: z.enum(['running', 'succeeded', 'failed']),
  startedAt: isoDate,
  finishedAt: isoDate.optional(),
  error: z.string().optional(),
  decision: z.enum(['retry', 'rollback', 'abort']).optional(),
  decidedBy: z.string().optional(),
});

export const upgradeView = z.object({
  id: z.string(),
  instanceId: z.string(),
  mode: z.enum(['full', 'image-only', 'release']),
  imageTag: z.string(),
  status: z.enum(UPGRADE_STATUS_VALUES),
  currentStep: z.string().nullable(),
  steps: z.array(stepView),
  error: z.string().nullable(),
  workflowId: z.string(),
  runId: z.string().nullable(),
  requestedBy: z.string().nullable(),
  startedAt: isoDate,
  finishedAt: isoDate.nullable(),
  temporalUrl: z.string().optional(),
  /** In an instance's history: who started, retried, rolled back, aborted or cancelled it (from the audit log). */
  actions: z.array(z.object({ action: z.string(), by: z.string().nullable(), via: z.string().optional(), at: isoDate })).optional(),
});

export const startedUpgrade = z.object({ upgradeId: z.string(), workflowId: z.string(), runId: z.string(), imageTag: z.string(), release: z.string().optional() });
export const operatorActionResponse = z.object({ upgradeId: z.string(), action: z.string() });

export const releasePreview = z.object({
  imageTag: z.string(),
  planHash: z.string(),
  files: z.array(
    z.object({
      path: z.string(),
      status: z.enum(['unchanged', 'modified', 'created']),
      diff: z.string().optional(),
      truncated: z.boolean(),
    }),
  ),
  envCoverage: z.object({
    referenced: z.array(z.string()),
    definedInTenantEnv: z.array(z.string()),
    missingInTenantEnv: z.array(z.string()),
    unusedInTenantEnv: z.array(z.string()),
    problems: z.array(z.string()).default([]),
  }),
  /** The release rendered (absent for a template set without release.json). */
  release: z.object({ name: z.string(), version: z.string() }).optional(),
  /** Service -> image reference the release sets. */
  images: z.record(z.string(), z.string()).default({}),
});

// ---------------------------------------------------------------- releases (docs/RELEASES.md)

export const releaseSummary = z.object({
  version: z.string(),
  name: z.string(),
  contentHash: z.string(),
  source: z.string(),
  createdAt: isoDate,
  isDefault: z.boolean(),
});

export const releaseInfo = z.object({
  name: z.string(),
  version: z.string(),
  imageTag: z.string().optional(),
  images: z.record(z.string(), z.string()),
  coreServices: z.array(z.string()),
  frontDoor: z.object({ service: z.string(), port: z.number(), path: z.string() }).optional(),
  allowRemoveOrphans: z.boolean(),
  notes: z.string(),
});

export const releaseDetail = releaseSummary.extend({
  source: z.string().optional(),
  createdAt: isoDate.optional(),
  release: releaseInfo,
  notes: z.string(),
  /** values.schema.json as published (JSON Schema; secrets carry "x-drydock-secret" or "writeOnly"). */
  schema: z.record(z.string(), z.unknown()),
  secrets: z.array(z.string()),
  managed: z.array(z.object({ path: z.string(), template: z.string(), kind: z.enum(['compose', 'config', 'env']) })),
  files: z.record(z.string(), z.string()),
});

export const publishedRelease = z.object({ version: z.string(), name: z.string(), contentHash: z.string(), outcome: z.enum(['created', 'same']) });

export const releaseDiff = z.object({
  from: z.string(),
  to: z.string(),
  files: z.array(
    z.object({
      path: z.string(),
      status: z.enum(['unchanged', 'modified', 'created', 'removed']),
      diff: z.string().optional(),
      truncated: z.boolean(),
      approximate: z.boolean().optional(),
    }),
  ),
  images: z.array(z.object({ service: z.string(), from: z.string().nullable(), to: z.string().nullable() })),
  imageTag: z.object({ from: z.string(), to: z.string() }),
  /** Only image references change: Quick Upgrade fits. */
  imageOnly: z.boolean(),
  coreServices: z.object({ from: z.array(z.string()), to: z.array(z.string()) }),
});

export const instanceValuesView = z.object({
  release: z.string().nullable(),
  schema: z.record(z.string(), z.unknown()).nullable(),
  values: z.record(z.string(), z.unknown()),
  effectiveValues: z.record(z.string(), z.unknown()),
  /** Every secret of the schema; values are never answered. */
  secrets: z.record(z.string(), z.enum(['set', 'unset'])),
});

export const apiTokenView = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  operatorEmail: z.string(),
  role: z.enum(['viewer', 'operator', 'admin']).optional(),
  createdAt: isoDate,
  lastUsedAt: isoDate.nullable(),
  expiresAt: isoDate.nullable(),
  revokedAt: isoDate.nullable(),
  revokedBy: z.string().nullable(),
});
export const createdApiToken = apiTokenView.extend({ token: z.string() });

export const operatorRecordView = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  role: z.enum(['viewer', 'operator', 'admin']),
  disabledAt: isoDate.nullable(),
  createdAt: isoDate,
});
export const createdOperator = operatorRecordView.extend({ oneTimePassword: z.string().optional() });

export const auditEntryView = z.object({
  id: z.string(),
  at: isoDate,
  actorKind: z.string(),
  actorId: z.string().nullable(),
  actorName: z.string().nullable(),
  tokenId: z.string().nullable(),
  tokenName: z.string().nullable(),
  action: z.string(),
  targetKind: z.string().nullable(),
  targetId: z.string().nullable(),
  clientAddress: z.string().nullable(),
  outcome: z.enum(['accepted', 'refused']),
  reason: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
});
export const auditPage = z.object({ entries: z.array(auditEntryView), nextCursor: z.string().nullable() });

export const agentInviteView = z.object({
  id: z.string(),
  slug: z.string().nullish(),
  note: z.string().nullish(),
  createdBy: z.string().nullish(),
  createdAt: isoDate,
  expiresAt: isoDate,
  usedAt: isoDate.nullish(),
  state: z.enum(['unused', 'used', 'expired']).optional(),
});
/** What approving a registration would replace, old beside new (409 from approve). */
export const agentReplacementView = z.object({
  slug: z.string(),
  current: z.object({
    instance: z.object({ id: z.string(), name: z.string(), isRemote: z.boolean(), agentUrl: z.string().nullable() }).nullable(),
    agent: z
      .object({ registrationId: z.string(), agentUrl: z.string(), keyFingerprint256: z.string().nullable(), certFingerprint256: z.string().nullable() })
      .nullable(),
  }),
  replacement: z.object({ registrationId: z.string(), agentUrl: z.string(), keyFingerprint256: z.string().nullable() }),
});
export type AgentReplacementView = z.infer<typeof agentReplacementView>;

export const createdAgentInvite = agentInviteView.extend({ code: z.string(), caFingerprint256: z.string().optional() });

export const agentRegistrationView = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  agentUrl: z.string(),
  composeDir: z.string(),
  clientAddress: z.string().nullish(),
  status: z.enum(['pending', 'approved', 'rejected', 'revoked']),
  instanceId: z.string().nullish(),
  certFingerprint: z.string().nullish(),
  /** sha256 of the agent's public key: what the agent logs when it registers, to compare before approving. */
  keyFingerprint256: z.string().nullish(),
  certNotAfter: isoDate.nullish(),
  decidedBy: z.string().nullish(),
  decidedAt: isoDate.nullish(),
  reason: z.string().nullish(),
  revokedBy: z.string().nullish(),
  revokedAt: isoDate.nullish(),
  createdAt: isoDate,
});

// ---------------------------------------------------------------- rollouts

export const ROLLOUT_STATUS_VALUES = [
  'running',
  'baking',
  'awaiting-approval',
  'paused',
  'succeeded',
  'aborted',
  'failed',
] as const satisfies readonly RolloutStatus[];
export const ROLLOUT_INSTANCE_STATUS_VALUES = ['pending', 'running', 'updated', 'failed', 'skipped'] as const satisfies readonly RolloutInstanceStatus[];
// Compile-time: every status of core/types.ts is listed.
const _everyRolloutStatusListed: [Exclude<RolloutStatus, (typeof ROLLOUT_STATUS_VALUES)[number]>] extends [never] ? true : never = true;
const _everyRolloutInstanceStatusListed: [Exclude<RolloutInstanceStatus, (typeof ROLLOUT_INSTANCE_STATUS_VALUES)[number]>] extends [never]
  ? true
  : never = true;
void _everyRolloutStatusListed;
void _everyRolloutInstanceStatusListed;

const upgradeMode = z.enum(['full', 'image-only', 'release']);
const rolloutInstanceStatus = z.enum(ROLLOUT_INSTANCE_STATUS_VALUES);

/** POST /api/rollouts/preview: which instances fall into each wave. */
export const rolloutPreview = z.object({
  waves: z.array(z.object({ index: z.number(), size: z.number(), instances: z.array(z.object({ id: z.string(), slug: z.string() })) })),
});
export const startedRollout = rolloutPreview.extend({ rolloutId: z.string(), workflowId: z.string() });

/** GET /api/rollouts: from Temporal's visibility (the rollout's own status needs GET /api/rollouts/:id). */
export const rolloutListItem = z.object({
  rolloutId: z.string(),
  workflowId: z.string(),
  /** The workflow execution's status: RUNNING, COMPLETED, FAILED, TERMINATED, … */
  execution: z.string(),
  startTime: isoDate,
  closeTime: isoDate.nullish(),
  mode: upgradeMode.optional().catch(undefined),
  requestedBy: z.string().optional(),
  reason: z.string().optional(),
});

/** GET /api/rollouts/:id: the workflow's RolloutView (core/types.ts), with who started it and its Temporal execution. */
export const rolloutView = z.object({
  rolloutId: z.string(),
  mode: upgradeMode,
  status: z.enum(ROLLOUT_STATUS_VALUES),
  currentWave: z.number(),
  waves: z.array(
    z.object({
      index: z.number(),
      size: z.number(),
      updated: z.number(),
      failed: z.number(),
      skipped: z.number(),
      running: z.number(),
      pending: z.number(),
    }),
  ),
  instances: z.array(
    z.object({
      instanceId: z.string(),
      slug: z.string(),
      wave: z.number(),
      status: rolloutInstanceStatus,
      reason: z.string().optional(),
      upgradeId: z.string().optional(),
    }),
  ),
  counts: z.record(rolloutInstanceStatus, z.number()),
  log: z.array(z.string()),
  execution: z.string().optional(),
  startedAt: isoDate.optional(),
  closedAt: isoDate.nullish(),
  requestedBy: z.string().optional(),
  reason: z.string().optional(),
  temporalUrl: z.string().optional(),
});
export const rolloutActionResponse = z.object({ rolloutId: z.string(), action: z.string() });

export type RolloutPreview = z.infer<typeof rolloutPreview>;
export type RolloutListItem = z.infer<typeof rolloutListItem>;
export type RolloutViewAnswer = z.infer<typeof rolloutView>;

export type InstanceView = z.infer<typeof instanceView>;
export type DriftReportView = z.infer<typeof driftReportView>;
export type DriftStatusValue = z.infer<typeof driftStatus>;
export type UpgradeView = z.infer<typeof upgradeView>;
export type StepView = z.infer<typeof stepView>;
export type ReleasePreview = z.infer<typeof releasePreview>;
export type ReleaseDiff = z.infer<typeof releaseDiff>;
export type ApiTokenView = z.infer<typeof apiTokenView>;
export type AgentInviteView = z.infer<typeof agentInviteView>;
export type AgentRegistrationView = z.infer<typeof agentRegistrationView>;
export type OperatorView = z.infer<typeof operatorView>;
export type OperatorRecordView = z.infer<typeof operatorRecordView>;
export type AuditEntryViewAnswer = z.infer<typeof auditEntryView>;

// ---------------------------------------------------------------- notifications

/** An endpoint as answered: where it points (origin only) and whether a secret is set, never the URL or the secret. */
export const notificationEndpointView = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['webhook', 'slack']),
  urlOrigin: z.string(),
  secret: z.enum(['set', 'unset']),
  events: z.array(z.string()),
  labels: z.array(z.string()),
  createdBy: z.string().nullable(),
  createdAt: isoDate,
  updatedAt: isoDate,
});

export const notificationDeliveryView = z.object({
  id: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  summary: z.string(),
  instanceSlug: z.string().nullable(),
  status: z.enum(['pending', 'delivered']),
  attempts: z.number(),
  lastError: z.string().nullable(),
  responseStatus: z.number().nullable(),
  lastAttemptAt: isoDate.nullable(),
  deliveredAt: isoDate.nullable(),
  createdAt: isoDate,
});
