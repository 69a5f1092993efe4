/**
 * zod schemas for every request body the API accepts (answers: api/responses.ts).
 * The UI (ui/) bundles this module and checks its requests with these same
 * schemas first, so it must stay free of Node-only imports.
 */
import { z } from 'zod';
import { ENDPOINT_KINDS, NOTIFICATION_EVENTS } from '../core/notification-events.js';

// The UI picks events from the same list the API accepts.
export { NOTIFICATION_EVENTS };
// For the UI, which imports only this file and api/responses.ts.
export { ENDED_ROLLOUT_STATUSES } from '../core/types.js';
import { BAKE_BOUNDS, durationProblem, PER_INSTANCE_TIMEOUT_BOUNDS } from '../core/waves.js';
import {
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
const coreServices = z
  .array(serviceName)
  .min(1, 'must name at least one service')
  .max(50)
  .refine((s) => new Set(s).size === s.length, 'must not repeat a service');
const label = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a label: lowercase letters, digits, ".", "_" and "-"');
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
    // Absent: the release's core services (the sample's are api, admin, media-api, nginx).
    coreServices: coreServices.optional(),
    imageTag: imageTag.nullable().optional(),
    labels: z.array(label).max(50).default([]),
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

/** POST /api/drift/check: the whole fleet, or the instances named. */
export const driftCheckBody = z.object({ instanceIds: z.array(z.string().min(1).max(100)).min(1).max(1000).optional() }).strict();

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

const labels = z.array(label).max(50).refine((l) => new Set(l).size === l.length, 'must not repeat a label');

export const patchInstanceBody = z
  .object({
    // null clears the instance's own tag, so it follows the default IMAGE_TAG again.
    imageTag: imageTag.nullable().optional(),
    labels: labels.optional(),
    name: z.string().trim().min(1, 'must not be empty').max(200).optional(),
    coreServices: coreServices.optional(),
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

// --- notification endpoints (docs/NOTIFICATIONS.md) --------------------------

const endpointUrl = z
  .string()
  .trim()
  .max(2000)
  .refine((u) => {
    try {
      const p = new URL(u).protocol;
      return p === 'http:' || p === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');
/** The webhook signing key: long enough that guessing it is hopeless. */
const endpointSecret = z.string().min(16, 'must be at least 16 characters').max(256);
const endpointEvents = z
  .array(z.enum(NOTIFICATION_EVENTS))
  .min(1, 'choose at least one event')
  .refine((e) => new Set(e).size === e.length, 'must not repeat an event');
const endpointName = z.string().trim().min(1, 'is required').max(100);

export const createEndpointBody = z
  .object({
    name: endpointName,
    kind: z.enum(ENDPOINT_KINDS),
    url: endpointUrl,
    /** Webhooks: the HMAC key of X-Drydock-Signature (required). Slack: none (the URL is the credential). */
    secret: endpointSecret.optional(),
    events: endpointEvents,
    /** Only events of instances carrying every one of these labels. */
    labels: labels.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.kind === 'webhook' && !b.secret) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'a webhook needs a signing secret' });
    if (b.kind === 'slack' && b.secret) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'a Slack webhook is not signed: leave it empty' });
  });

/** Unset fields stay as they are; the secret is replaced only when given. */
export const patchEndpointBody = z
  .object({ name: endpointName.optional(), url: endpointUrl.optional(), secret: endpointSecret.optional(), events: endpointEvents.optional(), labels: labels.optional() })
  .strict();
