/**
 * The release planner's configuration: where the default release lives, the
 * platform settings every render starts from, the catalog of published
 * releases and the opener of instance secrets, read from the environment by
 * the entry points.
 */
import type { ReleasePlanner } from '../core/release-plan.js';
import type { Keyring } from '../core/keyring.js';
import type { RenderDefaults } from '../core/render.js';
import type { InstanceRepo } from '../prisma/repositories.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { isBundleDir, loadBundleDir, loadTemplateSet, onDisk, TEMPLATES_DIR } from '../templates/load.js';
import type { ReleaseCatalog } from './catalog.js';

/** The tag an instance without its own runs, when IMAGE_TAG does not name one. */
export const DEFAULT_IMAGE_TAG = 'latest';

/** IMAGE_TAG, else DEFAULT_IMAGE_TAG: the one place the default tag is read. */
export function defaultImageTagFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.IMAGE_TAG || DEFAULT_IMAGE_TAG;
}

export function renderDefaultsFromEnv(env: NodeJS.ProcessEnv = process.env): RenderDefaults {
  return {
    imageTag: defaultImageTagFromEnv(env),
    registry: env.DRYDOCK_REGISTRY || 'registry.example.com',
    imagePrefix: env.DRYDOCK_IMAGE_PREFIX || 'drydock',
    baseDomain: env.DRYDOCK_BASE_DOMAIN || 'tenants.example.com',
    postgresImage: env.DRYDOCK_POSTGRES_IMAGE || 'postgres:16',
    redisImage: env.DRYDOCK_REDIS_IMAGE || 'redis:7',
    smtpHost: env.DRYDOCK_SMTP_HOST || 'smtp.example.com',
    smtpPort: Number(env.DRYDOCK_SMTP_PORT || 587),
  };
}

/** DRYDOCK_RELEASES_DIR, else DRYDOCK_TEMPLATES_DIR (its former name), else the shipped templates/. */
export function releasesDirFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.DRYDOCK_RELEASES_DIR || env.DRYDOCK_TEMPLATES_DIR || TEMPLATES_DIR;
}

/**
 * Templates are looked at on each plan, so a new release's templates apply
 * without a restart (read again only when a file changed: onDisk). A
 * directory with release.json is a bundle; one without is a template set
 * from before bundles, rendered as it always was.
 */
export function createPlanner(defaults: RenderDefaults, templatesDir = TEMPLATES_DIR): ReleasePlanner {
  const templates = onDisk((read) => loadTemplateSet(templatesDir, read));
  const bundle = onDisk((read) => loadBundleDir(templatesDir, read));
  return {
    defaults,
    templates,
    bundle: async () => (isBundleDir(templatesDir) ? bundle() : undefined),
  };
}

/** AAD of a sealed secret: bound to its instance and name, so a ciphertext copied elsewhere does not open. */
export const secretAad = (instanceId: string, key: string) => `drydock-instance-secret:${instanceId}:${key}`;

/** The planner with the catalog and the instances' secrets, as the control plane and the worker run it. */
export function withCatalog(planner: ReleasePlanner, catalog: ReleaseCatalog, instances: InstanceRepo, keyring: Keyring): ReleasePlanner {
  return {
    get defaults() {
      return planner.defaults;
    },
    templates: () => planner.templates(),
    bundle: () => planner.bundle?.() ?? Promise.resolve(undefined),
    catalog,
    async secrets(instanceId) {
      const sealed = await instances.sealedSecrets(instanceId);
      return Object.fromEntries(Object.entries(sealed).map(([k, v]) => [k, keyring.openString(v, secretAad(instanceId, k))]));
    },
  };
}

/**
 * The planner of a releases directory: the directory itself when it holds
 * one bundle (or a template set), else the catalog's default release (the
 * last bundle of a directory of bundles).
 */
export function defaultPlanner(defaults: RenderDefaults, releasesDir: string, catalog: ReleaseCatalog): ReleasePlanner {
  if (existsSync(path.join(releasesDir, 'manifest.json'))) return createPlanner(defaults, releasesDir);
  return {
    defaults,
    templates: () => Promise.reject(new Error(`${releasesDir} is a directory of bundles: every render names a release`)),
    bundle: async () => {
      const version = catalog.defaultVersion();
      return version ? catalog.get(version) : undefined;
    },
  };
}
