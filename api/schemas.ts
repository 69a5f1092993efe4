/**
 * zod schemas for every request body the API accepts, and for the answers the
 * web UI reads. The UI (ui/) bundles this module and types its calls from
 * these same schemas, so it must stay free of Node-only imports.
 */
import { z } from 'zod';
import { BAKE_BOUNDS, durationProblem, PER_INSTANCE_TIMEOUT_BOUNDS } from '../core/waves.js';
import type { RolloutInstanceStatus, RolloutStatus, UpgradeStatus } from '../core/types.js';
import {
  DEFAULT_CORE_SERVICES,
  DISPLAY_NAME_FORBIDDEN_RE,
  DISPLAY_NAME_RULE,
  IMAGE_TAG_RE,
  IMAGE_TAG_RULE,
  PROJECT_NAME_RE,
  PROJECT_NAME_RULE,
  SERVICE_NAME_RE,
  SERVICE_NAME_RULE,
  SLUG_RE,
  SLUG_RULE,
} from '../core/validation.js';

export const imageTag = z.string().regex(IMAGE_TAG_RE, `must be ${IMAGE_TAG_RULE}`);
/** A release version of the catalog (GET /api/releases). */
export const releaseVersion = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, 'must be a release version (letters, digits, ".", "_", "+", "-")');
/** Per-instance values, checked against the release's values.schema.json by the API (ajv), not here. */
export const instanceValues = z.record(z.string(), z.unknown());
/** Secret values by name; null unsets one. Never returned: the API shows which are set. */
export const instanceSecrets = z.record(z.string(), z.string().max(4096).nullable());
export const valuesBody = z.object({ values: instanceValues.optional(), secrets: instanceSecrets.optional() }).strict();
const serviceName = z.string().regex(SERVICE_NAME_RE, `must be ${SERVICE_NAME_RULE}`);
/** An instance's or agent's display name. */
export const displayName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200)
  .refine((n) => !DISPLAY_NAME_FORBIDDEN_RE.test(n), DISPLAY_NAME_RULE);

export const createInstanceBody = z
  .object({
    slug: z.string().regex(SLUG_RE, `must be ${SLUG_RULE}`),
    name: displayName,
    composeDir: z
      .string()
      .min(1)
      .max(4096)
      // POSIX absolute (what path.isAbsolute checks on the Linux hosts tenants run on), browser-safe.
      .refine((p) => p.startsWith('/') && !p.includes('\0'), 'must be an absolute path'),
    composeProjectName: z.string().regex(PROJECT_NAME_RE, `must be ${PROJECT_NAME_RULE}`).optional(),
    coreServices: z
      .array(serviceName)
      .min(1, 'must name at least one service')
      .max(50)
      .refine((s) => new Set(s).size === s.length, 'must not repeat a service')
      // Absent: the release's core services (the sample's are api, admin, media-api, nginx).
      .optional(),
    imageTag: imageTag.nullable().optional(),
    labels: z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a label: lowercase letters, digits, ".", "_" and "-"')).max(50).default([]),
    /** Absent: the default release. */
    release: releaseVersion.optional(),
    values: instanceValues.optional(),
    secrets: z.record(z.string(), z.string().max(4096)).optional(),
  })
  .strict();

/** What every upgrade request may add: why, and whether a failed verify rolls back by itself. */
const upgradeOptions = {
  reason: z.string().trim().max(500).optional(),
  autoRollback: z.boolean().optional(),
};

export const startImageUpgradeBody = z
  .object({
    imageTag: imageTag.optional(),
    release: releaseVersion.optional(),
    reason: upgradeOptions.reason,
  })
  .strict();

export const startFullUpgradeBody = z.object({ ...upgradeOptions, release: releaseVersion.optional() }).strict();

export const operatorActionParam = z.object({
  id: z.string().min(1).max(100),
  action: z.enum(['retry', 'rollback', 'abort', 'cancel']),
});

export const idParam = z.object({ id: z.string().min(1).max(100) });

export type CreateInstanceBody = z.infer<typeof createInstanceBody>;
export type StartImageUpgradeBody = z.infer<typeof startImageUpgradeBody>;

/** imageTag alone: the instance's release with that tag; release: that release with its own tag (or imageTag). */
export const releasePreviewBody = z
  .object({ imageTag: imageTag.optional(), release: releaseVersion.optional() })
  .strict()
  .refine((b) => b.imageTag !== undefined || b.release !== undefined, { message: 'give imageTag, release, or both', path: ['imageTag'] });

export const startReleaseUpgradeBody = z
  .object({
    imageTag: imageTag.optional(),
    release: releaseVersion.optional(),
    planHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be the planHash of a preview (64 hex digits)').optional(),
    ...upgradeOptions,
  })
  .strict()
  .refine((b) => b.imageTag !== undefined || b.release !== undefined, { message: 'give imageTag, release, or both', path: ['imageTag'] });

/** null clears the instance's own tag, so it follows the default IMAGE_TAG again. */
const label = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a label: lowercase letters, digits, ".", "_" and "-"');
const labels = z.array(label).max(50).refine((l) => new Set(l).size === l.length, 'must not repeat a label');

export const patchInstanceBody = z
  .object({
    imageTag: imageTag.nullable().optional(),
    labels: labels.optional(),
    name: z.string().trim().min(1, 'must not be empty').max(200).optional(),
    coreServices: z
      .array(serviceName)
      .min(1, 'must name at least one service')
      .max(50)
      .refine((s) => new Set(s).size === s.length, 'must not repeat a service')
      .optional(),
  })
  .strict()
  .refine(
    (b) => b.imageTag !== undefined || b.labels !== undefined || b.name !== undefined || b.coreServices !== undefined,
    'give imageTag (a tag, or null for the default), labels, name or coreServices',
  );

const waveSpec = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+(\.\d+)?%$/, 'must be a count or a percentage like "10%"') as z.ZodType<`${number}%`>,
]);

/** A duration as typed ("90s") or milliseconds; its value is checked by `bounded` (zod's own number check would only say "Invalid input" for Infinity). */
const duration = (what: string, word?: string) =>
  z.custom<string | number>((v) => typeof v === 'number' || v === word || (typeof v === 'string' && /^\d+(\.\d+)?(ms|s|m|h)$/.test(v)), { message: `must be ${what}` });

/** A rollout duration within its bounds ("approval" passes through): JSON's 1e400 is Infinity, "0ms" would time out at once. */
function bounded(b: Parameters<typeof durationProblem>[1], zeroMeans?: string) {
  return (v: string | number, ctx: z.RefinementCtx) => {
    if (v === 'approval') return;
    const problem = durationProblem(v, b, zeroMeans);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  };
}

export const rolloutBody = z
  .object({
    mode: z.enum(['full', 'image-only', 'release']),
    imageTag: imageTag.optional(),
    release: releaseVersion.optional(),
    target: z.union([
      z.object({ instanceIds: z.array(z.string().min(1).max(100)).min(1).max(10_000) }).strict(),
      z.object({ all: z.literal(true) }).strict(),
      z.object({ label }).strict(),
    ]),
    waves: z.array(waveSpec).min(1).max(50),
    maxParallel: z.number().int().min(1).max(1_000).default(10),
    failureBudget: z
      .object({ count: z.number().int().min(0).optional(), percent: z.number().min(0).max(100).optional() })
      .strict()
      .default({ count: 0 }),
    bake: (duration('"approval" or a duration like 90s, 5m', 'approval') as z.ZodType<'approval' | string | number>).superRefine(bounded(BAKE_BOUNDS, 'no bake')).default(0),
    perInstanceTimeout: duration('a duration like 15m').superRefine(bounded(PER_INSTANCE_TIMEOUT_BOUNDS)).default('30m'),
    reason: z.string().trim().max(500).optional(),
  })
  .strict()
  .refine((b) => b.mode !== 'release' || b.imageTag !== undefined || b.release !== undefined, { message: 'a release rollout needs imageTag or release', path: ['imageTag'] })
  .refine((b) => b.mode !== 'full' || b.imageTag === undefined || b.release !== undefined, {
    message: "Upgrade Now uses each instance's own tag: set it with PATCH /api/instances/:id, or roll out a release",
    path: ['imageTag'],
  });

export const rolloutActionParam = z.object({
  id: z.string().regex(/^[0-9a-f-]{36}$/, 'must be a rollout id'),
  action: z.enum(['pause', 'resume', 'approve', 'abort']),
});

export type RolloutBody = z.infer<typeof rolloutBody>;

// ---------------------------------------------------------------- sign-in and API tokens

export const loginBody = z
  .object({
    email: z.string().trim().min(1, 'enter your email').max(320),
    password: z.string().min(1, 'enter your password').max(1024),
  })
  .strict();

export const createTokenBody = z
  .object({
    name: z.string().trim().min(1, 'give the token a name').max(100),
    /** Unset: the token does not expire (revoke it when it is no longer needed). */
    expiresInDays: z.number().int().min(1).max(3650).optional(),
    /** At most the creator's role; default the creator's. */
    role: z.enum(['viewer', 'operator', 'admin']).optional(),
  })
  .strict();

export const createOperatorBody = z
  .object({
    email: z.string().trim().toLowerCase().max(320).regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address'),
    name: z.string().trim().min(1).max(200).optional(),
    role: z.enum(['viewer', 'operator', 'admin']),
    /** Unset: an invitation; a one-time password is generated and shown once in the answer. */
    password: z.string().min(10, 'must be at least 10 characters').max(1024).optional(),
  })
  .strict();

export const patchOperatorBody = z
  .object({ role: z.enum(['viewer', 'operator', 'admin']).optional(), disabled: z.boolean().optional() })
  .strict()
  .refine((b) => b.role !== undefined || b.disabled !== undefined, 'give role or disabled');

const isoTime = z
  .string()
  .max(40)
  .refine((v) => !Number.isNaN(Date.parse(v)), 'must be a date and time (ISO 8601)')
  .transform((v) => new Date(v));

export const auditQuery = z
  .object({
    actor: z.string().max(320).optional(),
    action: z.string().max(100).optional(),
    targetKind: z.string().max(40).optional(),
    targetId: z.string().max(200).optional(),
    outcome: z.enum(['accepted', 'refused']).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    cursor: z.string().regex(/^\d{1,19}$/, 'must be the nextCursor of a previous page').optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    format: z.enum(['csv', 'ndjson']).optional(),
  })
  .strict();

export type LoginBody = z.infer<typeof loginBody>;
export type CreateTokenBody = z.input<typeof createTokenBody>;

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

/** How long an invite lasts when the request does not say. */
export const DEFAULT_INVITE_TTL_MINUTES = 24 * 60;

const inviteFields = z
  .object({
    expiresInMinutes: z.number().int().min(1).max(30 * 24 * 60).default(DEFAULT_INVITE_TTL_MINUTES),
    slug: z.string().regex(SLUG_RE, `must be ${SLUG_RULE}`).optional(),
    /** An invite any slug may use: only when asked for. */
    anySlug: z.boolean().optional(),
    note: z.string().trim().max(500).optional(),
  })
  .strict();
/** An invite names its slug or says any slug may use it, not both. */
const inviteBody = (message: string) =>
  inviteFields.refine((b) => (b.slug === undefined) === (b.anySlug === true), { message, path: ['slug'] });

/** POST /api/agents/invites. */
export const createInviteBody = inviteBody('give the slug this invite is for, or anySlug: true for an invite any slug may use (not both)');
/** The same body as the UI's invite form checks it, in the form's words. */
export const createInviteForm = inviteBody('give the slug this invite is for, or choose any slug');

/** Reject or revoke a registration. */
export const agentDecisionBody = z.object({ reason: z.string().trim().max(500).optional() }).strict();

const agentUrl = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      const url = new URL(u);
      return url.protocol === 'https:' && !url.username && !url.password && !url.search && !url.hash && (url.pathname === '/' || url.pathname === '');
    } catch {
      return false;
    }
  }, 'must be an https:// URL with no path, query or credentials');

/** An agent asks to be trusted (POST /api/agents/register). */
export const agentRegisterBody = z
  .object({
    inviteCode: z.string().min(1).max(200),
    slug: z.string().regex(SLUG_RE, `must be ${SLUG_RULE}`),
    csr: z.string().min(1).max(16 * 1024),
    agentUrl,
    name: displayName.optional(),
    composeDir: z.string().min(1).max(4096).refine((p) => p.startsWith('/') && !p.includes('\0'), 'must be an absolute path'),
    composeProjectName: z.string().regex(PROJECT_NAME_RE, `must be ${PROJECT_NAME_RULE}`).optional(),
  })
  .strict();

/** An agent asks what became of its registration. */
export const agentPollBody = z.object({ registrationId: z.string().uuid(), slug: z.string().regex(SLUG_RE, `must be ${SLUG_RULE}`) }).strict();

export const agentApproveBody = z
  .object({
    name: displayName.optional(),
    coreServices: z.array(z.string().regex(SERVICE_NAME_RE)).min(1).max(50).optional(),
    /** The operator saw what approving replaces (the 409's `replaces`) and confirms it. */
    confirmReplace: z.boolean().optional(),
  })
  .strict();

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
export type UpgradeView = z.infer<typeof upgradeView>;
export type StepView = z.infer<typeof stepView>;
export type ReleasePreview = z.infer<typeof releasePreview>;
export type ApiTokenView = z.infer<typeof apiTokenView>;
export type AgentInviteView = z.infer<typeof agentInviteView>;
export type AgentRegistrationView = z.infer<typeof agentRegistrationView>;
export type OperatorView = z.infer<typeof operatorView>;
export type OperatorRecordView = z.infer<typeof operatorRecordView>;
export type AuditEntryViewAnswer = z.infer<typeof auditEntryView>;
