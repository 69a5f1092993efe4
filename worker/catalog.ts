/**
 * The release catalog: bundles published into PostgreSQL (the Release table),
 * so the API and every worker agree on what a version is. Loaded from
 * DRYDOCK_RELEASES_DIR at start by `npm start` and `npm run worker`, and by
 * `POST /api/releases`. Versions are immutable: the same content again is a
 * no-op, other content under a published version is refused.
 */
import type { Bundle } from '../core/bundle.js';
import { BundleError } from '../core/bundle.js';
import { renderWithDefaults } from '../core/release-render.js';
import type { PlatformSettings } from '../core/render.js';
import { conflict } from '../core/errors.js';
import type { ReleaseRecord, ReleaseRepo } from '../prisma/repositories.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST_FILE } from '../core/bundle.js';
import { bundleFromFiles, isBundleDir, loadReleasesDir } from '../templates/load.js';

export interface PublishResult {
  outcome: 'created' | 'same';
  bundle: Bundle;
}

export interface ReleaseCatalog {
  /** The release of instances that name none: the (last) bundle of DRYDOCK_RELEASES_DIR. */
  defaultVersion(): string | undefined;
  get(version: string): Promise<Bundle | undefined>;
  list(): Promise<Omit<ReleaseRecord, 'files'>[]>;
  /** Checks the bundle (schema, templates, a render with the defaults), then stores it; 409 for other content under its version. */
  publish(files: Record<string, string>, source: string): Promise<PublishResult>;
  /** Publishes every bundle of a releases directory; the last one becomes the default. A template set publishes nothing. */
  loadDir(dir: string): Promise<Bundle[]>;
}

export function createCatalog(repo: ReleaseRepo, platform: PlatformSettings): ReleaseCatalog {
  // Parsed bundles by version; a version's content never changes, so the cache never goes stale.
  const cache = new Map<string, Bundle>();
  let defaultVersion: string | undefined;

  async function store(bundle: Bundle, source: string): Promise<PublishResult> {
    renderWithDefaults(bundle, platform);
    const { release, contentHash, files } = bundle;
    const r = await repo.publish({ version: release.version, name: release.name, contentHash, files, source });
    if (r.outcome === 'conflict') {
      throw conflict(`release ${release.version} is published already with other content (sha256 ${r.release.contentHash.slice(0, 12)}); publish it under a new version`, {
        version: release.version,
      });
    }
    cache.set(release.version, bundle);
    return { outcome: r.outcome, bundle };
  }

  return {
    defaultVersion: () => defaultVersion,
    async get(version) {
      const hit = cache.get(version);
      if (hit) return hit;
      const row = await repo.get(version);
      if (!row) return undefined;
      const bundle = bundleFromFiles(row.files);
      cache.set(version, bundle);
      return bundle;
    },
    list: () => repo.list(),
    publish: (files, source) => store(bundleFromFiles(files), source),
    async loadDir(dir) {
      // A template set from before bundles (manifest.json, no release.json) renders as before, outside the catalog.
      if (!isBundleDir(dir) && existsSync(path.join(dir, MANIFEST_FILE))) return [];
      const bundles = await loadReleasesDir(dir);
      for (const b of bundles) {
        try {
          await store(b, `directory ${dir}`);
        } catch (err) {
          if (err instanceof BundleError) throw new Error(`release bundle in ${dir}: ${err.message}`);
          throw err;
        }
      }
      defaultVersion = bundles.at(-1)?.release.version;
      return bundles;
    },
  };
}
