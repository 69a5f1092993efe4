/**
 * zod schemas for every request body the API accepts. The UI types its calls
 * from these same schemas.
 */
import path from 'node:path';
import { z } from 'zod';
import {
  DEFAULT_CORE_SERVICES,
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
const serviceName = z.string().regex(SERVICE_NAME_RE, `must be ${SERVICE_NAME_RULE}`);

export const createInstanceBody = z
  .object({
    slug: z.string().regex(SLUG_RE, `must be ${SLUG_RULE}`),
    name: z.string().trim().min(1, 'must not be empty').max(200),
    composeDir: z
      .string()
      .min(1)
      .max(4096)
      .refine((p) => path.isAbsolute(p) && !p.includes('\0'), 'must be an absolute path'),
    composeProjectName: z.string().regex(PROJECT_NAME_RE, `must be ${PROJECT_NAME_RULE}`).optional(),
    coreServices: z
      .array(serviceName)
      .min(1, 'must name at least one service')
      .max(50)
      .refine((s) => new Set(s).size === s.length, 'must not repeat a service')
      .default([...DEFAULT_CORE_SERVICES]),
    imageTag: imageTag.nullable().optional(),
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
    reason: upgradeOptions.reason,
  })
  .strict();

export const startFullUpgradeBody = z.object(upgradeOptions).strict();

export const operatorActionParam = z.object({
  id: z.string().min(1).max(100),
  action: z.enum(['retry', 'rollback', 'abort', 'cancel']),
});

export const idParam = z.object({ id: z.string().min(1).max(100) });

export type CreateInstanceBody = z.infer<typeof createInstanceBody>;
export type StartImageUpgradeBody = z.infer<typeof startImageUpgradeBody>;

export const releasePreviewBody = z.object({ imageTag }).strict();

export const startReleaseUpgradeBody = z
  .object({
    imageTag,
    planHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be the planHash of a preview (64 hex digits)').optional(),
    ...upgradeOptions,
  })
  .strict();

/** null clears the instance's own tag, so it follows the default IMAGE_TAG again. */
export const patchInstanceBody = z.object({ imageTag: imageTag.nullable() }).strict();
