/**
 * Tenant content (mkdocs/, configs/, scripts/) is checked unchanged after an
 * upgrade by comparing manifests (path -> sha256) taken before and after.
 */
import type { ContentManifest } from './types.js';

/** Paths added, removed or changed between two manifests. */
export function manifestChanges(before: ContentManifest, after: ContentManifest): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]).sort();
}
