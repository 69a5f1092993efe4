/**
 * Template sets from before bundles (a directory with manifest.json and
 * templates, no release.json) were rendered with the sample stack's fields at
 * the top of the context: `it.postgresImage`, `it.redisImage`, `it.smtp`, and
 * `it.secrets.{postgresPassword, apiSecret}` read back from the tenant's
 * `.env`. They keep rendering exactly so; bundles declare such things as
 * values in their values.schema.json instead.
 */
import { checkSecrets, HOST_RE, IMAGE_REF_RE, instanceContext, must, type PlatformSettings, type RenderContext, type RenderInstance } from './render.js';

/** Platform settings plus the sample stack's defaults, as the control plane's environment sets them. */
export interface RenderDefaults extends PlatformSettings {
  postgresImage: string;
  redisImage: string;
  smtpHost: string;
  smtpPort: number;
}

/** Secrets written into `.env`, which only tenants drydock created get. */
export interface TenantSecrets {
  postgresPassword: string;
  apiSecret: string;
}

/** The `.env` variables a template set without a values schema takes its secrets from. */
export const LEGACY_SECRET_ENV: Record<keyof TenantSecrets, string> = { postgresPassword: 'POSTGRES_PASSWORD', apiSecret: 'API_SECRET' };

/** The top-level fields such template sets read. */
export function legacyFields(defaults: RenderDefaults, domain: string): Record<string, unknown> {
  for (const [what, ref] of [['postgres image', defaults.postgresImage], ['redis image', defaults.redisImage]] as const) {
    must(IMAGE_REF_RE.test(ref), `${what} ${JSON.stringify(ref)} must be an image reference`);
  }
  must(HOST_RE.test(defaults.smtpHost), `SMTP host ${JSON.stringify(defaults.smtpHost)} must be a DNS name`);
  must(Number.isInteger(defaults.smtpPort) && defaults.smtpPort > 0 && defaults.smtpPort < 65536, 'SMTP port must be 1-65535');
  return {
    postgresImage: defaults.postgresImage,
    redisImage: defaults.redisImage,
    smtp: { host: defaults.smtpHost, port: defaults.smtpPort, from: `noreply@${domain}` },
  };
}

/** The context such template sets render with: instance and platform fields, the stack's fields, the secrets. */
export function buildRenderContext(instance: RenderInstance, defaults: RenderDefaults, secrets?: TenantSecrets): RenderContext {
  const base = instanceContext(instance, defaults);
  const ctx: RenderContext = { ...base, ...legacyFields(defaults, base.domain) };
  if (secrets) {
    checkSecrets({ ...secrets });
    ctx.secrets = { postgresPassword: secrets.postgresPassword, apiSecret: secrets.apiSecret };
  }
  return ctx;
}
