/**
 * The release planner's configuration: where templates live and the defaults
 * every render starts from, read from the environment by the entry points.
 */
import type { ReleasePlanner } from '../activities/release-plan.js';
import type { RenderDefaults } from '../core/render.js';
import { loadTemplateSet, TEMPLATES_DIR } from '../templates/load.js';

export function renderDefaultsFromEnv(env: NodeJS.ProcessEnv = process.env): RenderDefaults {
  return {
    imageTag: env.IMAGE_TAG || 'latest',
    registry: env.DRYDOCK_REGISTRY || 'registry.example.com',
    imagePrefix: env.DRYDOCK_IMAGE_PREFIX || 'drydock',
    baseDomain: env.DRYDOCK_BASE_DOMAIN || 'tenants.example.com',
    postgresImage: env.DRYDOCK_POSTGRES_IMAGE || 'postgres:16',
    redisImage: env.DRYDOCK_REDIS_IMAGE || 'redis:7',
    smtpHost: env.DRYDOCK_SMTP_HOST || 'smtp.example.com',
    smtpPort: Number(env.DRYDOCK_SMTP_PORT || 587),
  };
}

/** Templates are read on each plan, so a new release's templates apply without a restart. */
export function createPlanner(defaults: RenderDefaults, templatesDir = TEMPLATES_DIR): ReleasePlanner {
  return { defaults, templates: () => loadTemplateSet(templatesDir) };
}
