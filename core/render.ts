/**
 * Rendering a release's templates for one tenant: the server-side half of
 * "Upgrade to Release". Pure: the templates come in as strings
 * (templates/load.ts reads them), and the same inputs always render the same
 * bytes, which the preview's plan hash relies on. Nothing here may depend on
 * the clock, the environment or randomness.
 */
import { Eta } from 'eta/core';
import { checkManagedPath, checkRelativePath } from './managed-paths.js';
import { IMAGE_TAG_RE, IMAGE_TAG_RULE, PROJECT_NAME_RE, PROJECT_NAME_RULE, SLUG_RE, SLUG_RULE } from './validation.js';

export type ManagedKind = 'compose' | 'config' | 'env';
export const MANAGED_KINDS: readonly ManagedKind[] = ['compose', 'config', 'env'];

export interface ManagedEntry {
  /** Where the rendered file goes, relative to the tenant's compose directory. */
  path: string;
  /** The template's name, relative to the templates directory. */
  template: string;
  kind: ManagedKind;
}

export interface TemplateSet {
  manifest: ManagedEntry[];
  /** Template name -> template source. */
  sources: Record<string, string>;
}

export interface RenderedFile {
  path: string;
  content: string;
  kind: ManagedKind;
}

/**
 * The manifest's entries, or an Error naming the first bad one. The manifest
 * is the complete list of what drydock may write into a tenant's directory.
 */
export function parseManifest(raw: unknown): ManagedEntry[] {
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { managed?: unknown }).managed)) {
    throw new Error('template manifest: expected an object with a "managed" array');
  }
  const entries: ManagedEntry[] = [];
  const byPath = new Map<string, string>();
  (raw as { managed: unknown[] }).managed.forEach((item, i) => {
    const where = `template manifest: managed[${i}]`;
    if (typeof item !== 'object' || item === null) throw new Error(`${where} is not an object`);
    const { path, template, kind } = item as Record<string, unknown>;
    if (typeof path !== 'string') throw new Error(`${where} has no string "path"`);
    const label = `${where} (${JSON.stringify(path)})`;
    const pathProblem = checkManagedPath(path);
    if (pathProblem) throw new Error(`${label}: path ${pathProblem}`);
    if (typeof template !== 'string') throw new Error(`${label} has no string "template"`);
    const templateProblem = checkRelativePath(template);
    if (templateProblem) throw new Error(`${label}: template ${JSON.stringify(template)} ${templateProblem}`);
    if (!MANAGED_KINDS.includes(kind as ManagedKind)) {
      throw new Error(`${label}: kind must be one of ${MANAGED_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
    }
    // Case-folded, so two entries cannot land on one file on a case-insensitive file system.
    const folded = path.toLowerCase();
    const dup = byPath.get(folded);
    if (dup !== undefined) throw new Error(`${label}: path duplicates ${JSON.stringify(dup)}`);
    for (const [other, original] of byPath) {
      if (folded.startsWith(`${other}/`) || other.startsWith(`${folded}/`)) {
        throw new Error(`${label}: path conflicts with ${JSON.stringify(original)} (one would be a directory of the other)`);
      }
    }
    byPath.set(folded, path);
    entries.push({ path, template, kind: kind as ManagedKind });
  });
  if (entries.filter((e) => e.kind === 'env').length > 1) throw new Error('template manifest: more than one entry of kind "env"');
  return entries;
}

/** What renderTemplates needs from an instance record. */
export interface RenderInstance {
  slug: string;
  /** Display name; only ever written into comments and quoted strings. */
  name: string;
  /** NULL means "use the default IMAGE_TAG". */
  imageTag: string | null;
  composeProjectName: string;
}

/** Control-plane-wide settings. */
export interface RenderDefaults {
  imageTag: string;
  /** e.g. `registry.example.com` or `127.0.0.1:5000` */
  registry: string;
  /** Repository path under the registry; app images are `<registry>/<imagePrefix>/<service>`. */
  imagePrefix: string;
  /** Tenants are served at `<slug>.<baseDomain>`. */
  baseDomain: string;
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

/** The data templates see as `it`. Plain data: no functions, no dates. */
export interface RenderContext {
  slug: string;
  name: string;
  projectName: string;
  /** The effective tag: the instance's own, else the default. */
  imageTag: string;
  usesDefaultImageTag: boolean;
  registry: string;
  imagePrefix: string;
  /** `<registry>/<imagePrefix>`: app images are `<imageRepo>/<service>:<tag>`. */
  imageRepo: string;
  /** The tenant's public host name, `<slug>.<baseDomain>`. */
  domain: string;
  postgresImage: string;
  redisImage: string;
  smtp: { host: string; port: number; from: string };
  /** Absent for registered tenants, whose `.env` is theirs and never rendered. */
  secrets?: TenantSecrets;
}

const HOST_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const REGISTRY_RE = /^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$/;
// Docker's repository path grammar: lowercase components separated by "/".
const IMAGE_PATH_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
// A full image reference, loosely: it goes into YAML unquoted, so no spaces, quotes or "#".
const IMAGE_REF_RE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;
// Values written unquoted into `.env`: readable alike by compose v1 and v2 (no "$", quotes, "#" or spaces).
const SECRET_RE = /^[A-Za-z0-9._~+/=-]+$/;
// A newline in the display name would end the comment it is written in.
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

function must(ok: boolean, message: string): void {
  if (!ok) throw new Error(`render context: ${message}`);
}

/**
 * The context for one tenant. Every value is checked against the grammar of
 * the place it is written into, because templates write them unescaped into
 * YAML, nginx configuration and `.env`.
 */
export function buildRenderContext(instance: RenderInstance, defaults: RenderDefaults, secrets?: TenantSecrets): RenderContext {
  const imageTag = instance.imageTag ?? defaults.imageTag;
  must(SLUG_RE.test(instance.slug), `slug ${JSON.stringify(instance.slug)} must be ${SLUG_RULE}`);
  must(instance.name.trim() !== '' && !CONTROL_RE.test(instance.name), 'the instance name must be non-empty, without control characters');
  must(
    PROJECT_NAME_RE.test(instance.composeProjectName),
    `compose project name ${JSON.stringify(instance.composeProjectName)} must be ${PROJECT_NAME_RULE}`,
  );
  must(IMAGE_TAG_RE.test(imageTag), `image tag ${JSON.stringify(imageTag)} must be ${IMAGE_TAG_RULE}`);
  must(REGISTRY_RE.test(defaults.registry), `registry ${JSON.stringify(defaults.registry)} must be a host name with an optional :port`);
  must(IMAGE_PATH_RE.test(defaults.imagePrefix), `image prefix ${JSON.stringify(defaults.imagePrefix)} must be a lowercase repository path`);
  const domain = `${instance.slug}.${defaults.baseDomain}`;
  must(HOST_RE.test(domain), `base domain ${JSON.stringify(defaults.baseDomain)} must be a DNS name`);
  for (const [what, ref] of [['postgres image', defaults.postgresImage], ['redis image', defaults.redisImage]] as const) {
    must(IMAGE_REF_RE.test(ref), `${what} ${JSON.stringify(ref)} must be an image reference`);
  }
  must(HOST_RE.test(defaults.smtpHost), `SMTP host ${JSON.stringify(defaults.smtpHost)} must be a DNS name`);
  must(Number.isInteger(defaults.smtpPort) && defaults.smtpPort > 0 && defaults.smtpPort < 65536, 'SMTP port must be 1-65535');
  if (secrets) {
    // Never echo a secret in the message.
    for (const [key, value] of Object.entries(secrets)) {
      must(SECRET_RE.test(value), `secret ${key} must be non-empty letters, digits and ._~+/=-`);
    }
  }
  const ctx: RenderContext = {
    slug: instance.slug,
    name: instance.name,
    projectName: instance.composeProjectName,
    imageTag,
    usesDefaultImageTag: instance.imageTag === null,
    registry: defaults.registry,
    imagePrefix: defaults.imagePrefix,
    imageRepo: `${defaults.registry}/${defaults.imagePrefix}`,
    domain,
    postgresImage: defaults.postgresImage,
    redisImage: defaults.redisImage,
    smtp: { host: defaults.smtpHost, port: defaults.smtpPort, from: `noreply@${domain}` },
  };
  if (secrets) ctx.secrets = { postgresPassword: secrets.postgresPassword, apiSecret: secrets.apiSecret };
  return ctx;
}

// Not HTML: escaping would turn `&` in a URL into `&amp;`. autoTrim is off
// because eta's default also eats the newline after `<%= %>`; control-flow
// tags trim their own newline with `-%>`.
const eta = new Eta({ autoEscape: false, autoTrim: false, cache: false, debug: true, useWith: false });

/**
 * Wraps the context so that reading a property it lacks throws: a typo in a
 * template must fail the render, not write "undefined" into a compose file.
 */
function strict<T extends object>(value: T, path: string): T {
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'symbol' || key in target) {
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === 'object' && v !== null && !Array.isArray(v) ? strict(v, `${path}.${key as string}`) : v;
      }
      throw new Error(`${path}.${key} is not in the render context`);
    },
  });
}

export interface RenderOptions {
  /** Leave out the `.env` entry: registered tenants own theirs. */
  excludeEnv: boolean;
}

/** Every managed file for one tenant, in manifest order. */
export function renderTemplates(set: TemplateSet, ctx: RenderContext, opts: RenderOptions = { excludeEnv: false }): RenderedFile[] {
  const out: RenderedFile[] = [];
  for (const entry of set.manifest) {
    if (entry.kind === 'env' && opts.excludeEnv) continue;
    // TemplateSets can be built by hand; the manifest rules hold regardless.
    const problem = checkManagedPath(entry.path);
    if (problem) throw new Error(`refusing to render ${JSON.stringify(entry.path)}: the path ${problem}`);
    if (entry.kind === 'env' && !ctx.secrets) {
      throw new Error(`rendering ${entry.path} needs the tenant's secrets; registered tenants render with excludeEnv`);
    }
    const source = Object.hasOwn(set.sources, entry.template) ? set.sources[entry.template] : undefined;
    if (source === undefined) throw new Error(`template ${entry.template} (for ${entry.path}) is missing from the template set`);
    let content: string;
    try {
      content = eta.renderString(source, strict(ctx, 'it'));
    } catch (err) {
      throw new Error(`rendering ${entry.template} for ${entry.path} failed: ${(err as Error).message}`);
    }
    out.push({ path: entry.path, content, kind: entry.kind });
  }
  return out;
}
