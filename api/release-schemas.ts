/**
 * The answers of the release catalog and the values API, as the web UI reads
 * them (kept beside api/schemas.ts; the UI bundles this module too, so it
 * stays free of Node-only imports).
 */
import { z } from 'zod';

const isoDate = z.string();

/** GET /api/releases */
export const releaseListItem = z.object({
  version: z.string(),
  name: z.string(),
  contentHash: z.string(),
  source: z.string().optional(),
  createdAt: isoDate.optional(),
  isDefault: z.boolean().default(false),
});

/** GET /api/releases/:version */
export const releaseDetail = releaseListItem.extend({
  release: z
    .object({
      imageTag: z.string().optional(),
      coreServices: z.array(z.string()).default([]),
      allowRemoveOrphans: z.boolean().optional(),
      images: z.record(z.string(), z.string()).optional(),
    })
    .passthrough(),
  notes: z.string().optional(),
  schema: z.record(z.string(), z.unknown()),
  secrets: z.array(z.string()).default([]),
  managed: z.array(z.object({ path: z.string(), template: z.string(), kind: z.string().optional() })).default([]),
  files: z.record(z.string(), z.string()),
});

/** GET /api/releases/:from/diff/:to */
export const releaseDiff = z.object({
  from: z.string(),
  to: z.string(),
  files: z.array(
    z.object({
      path: z.string(),
      status: z.enum(['unchanged', 'modified', 'created', 'removed']),
      diff: z.string().optional(),
      truncated: z.boolean().default(false),
    }),
  ),
  images: z.array(z.object({ service: z.string(), from: z.string().nullable(), to: z.string().nullable() })),
  imageTag: z.object({ from: z.string(), to: z.string() }),
  imageOnly: z.boolean(),
  coreServices: z.object({ from: z.array(z.string()), to: z.array(z.string()) }),
});

/** POST /api/releases */
export const publishedRelease = z.object({ version: z.string(), name: z.string(), contentHash: z.string(), outcome: z.enum(['created', 'same']) });

/** GET/PUT /api/instances/:id/values */
export const valuesView = z.object({
  release: z.string().nullable(),
  schema: z.record(z.string(), z.unknown()).nullable(),
  values: z.record(z.string(), z.unknown()),
  effectiveValues: z.record(z.string(), z.unknown()),
  secrets: z.record(z.string(), z.enum(['set', 'unset'])),
});

export type ReleaseListItem = z.infer<typeof releaseListItem>;
export type ReleaseDetail = z.infer<typeof releaseDetail>;
export type ReleaseDiff = z.infer<typeof releaseDiff>;
export type ValuesView = z.infer<typeof valuesView>;
