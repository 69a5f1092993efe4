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

/** Control-plane-wide settings every stack shares: where images live and under which domain tenants are served. */
export interface PlatformSettings {
  /** The tag of instances (and releases) that name none. */
  imageTag: string;
  /** e.g. `registry.example.com` or `127.0.0.1:5000` */
  registry: string;
  /** Repository path under the registry; app images are `<registry>/<imagePrefix>/<service>`. */
  imagePrefix: string;
  /** Tenants are served at `<slug>.<baseDomain>`. */
  baseDomain: string;
}

export { buildRenderContext, type RenderDefaults, type TenantSecrets } from './legacy-context.js';

/** The fields every stack's templates see: the instance and the platform. */
export interface InstanceContext {
  slug: string;
  name: string;
  projectName: string;
  /** The effective tag: the request's, the instance's own, the release's, else the default. */
  imageTag: string;
  usesDefaultImageTag: boolean;
  registry: string;
  imagePrefix: string;
  /** `<registry>/<imagePrefix>`: app images are `<imageRepo>/<service>:<tag>`. */
  imageRepo: string;
  /** The tenant's public host name, `<slug>.<baseDomain>`. */
  domain: string;
}

/**
 * The data templates see as `it`. Plain data: no functions, no dates. What a
 * stack needs beyond the instance and platform fields is its release's values
 * (`it.values`, validated against the bundle's values.schema.json), its
 * secrets (`it.secrets`, only for tenants drydock created) and its image
 * references (`it.images`). Template sets from before bundles read other
 * top-level fields (core/legacy-context.ts).
 */
export interface RenderContext extends InstanceContext {
  release?: { name: string; version: string };
  values?: Record<string, unknown>;
  /** Service -> image reference, from release.json's `images`. */
  images?: Record<string, string>;
  /** Absent for registered tenants, whose `.env` is theirs and never rendered. */
  secrets?: Record<string, string>;
  [field: string]: unknown;
}

export interface RenderData {
  release: { name: string; version: string };
  values: Record<string, unknown>;
  secrets?: Record<string, string>;
  /** Explicit tag (the request's or the release's) when the instance's own does not apply. */
  imageTag?: string;
}

const HOST_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const REGISTRY_RE = /^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$/;
// Docker's repository path grammar: lowercase components separated by "/".
const IMAGE_PATH_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
// A full image reference, loosely: it goes into YAML unquoted, so no spaces, quotes or "#".
export const IMAGE_REF_RE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;
// Values written unquoted into `.env`: readable alike by compose v1 and v2 (no "$", quotes, "#" or spaces).
const SECRET_RE = /^[A-Za-z0-9._~+/=-]+$/;
// A newline in the display name would end the comment it is written in.
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
export { HOST_RE };

export function must(ok: boolean, message: string): void {
  if (!ok) throw new Error(`render context: ${message}`);
}

/**
 * The instance and platform fields. Every value is checked against the
 * grammar of the place it is written into, because templates write them
 * unescaped into YAML, nginx configuration and `.env`.
 */
export function instanceContext(instance: RenderInstance, platform: PlatformSettings, imageTag = instance.imageTag ?? platform.imageTag): InstanceContext {
  must(SLUG_RE.test(instance.slug), `slug ${JSON.stringify(instance.slug)} must be ${SLUG_RULE}`);
  must(instance.name.trim() !== '' && !CONTROL_RE.test(instance.name), 'the instance name must be non-empty, without control characters');
  must(
    PROJECT_NAME_RE.test(instance.composeProjectName),
    `compose project name ${JSON.stringify(instance.composeProjectName)} must be ${PROJECT_NAME_RULE}`,
  );
  must(IMAGE_TAG_RE.test(imageTag), `image tag ${JSON.stringify(imageTag)} must be ${IMAGE_TAG_RULE}`);
  must(REGISTRY_RE.test(platform.registry), `registry ${JSON.stringify(platform.registry)} must be a host name with an optional :port`);
  must(IMAGE_PATH_RE.test(platform.imagePrefix), `image prefix ${JSON.stringify(platform.imagePrefix)} must be a lowercase repository path`);
  const domain = `${instance.slug}.${platform.baseDomain}`;
  must(HOST_RE.test(domain), `base domain ${JSON.stringify(platform.baseDomain)} must be a DNS name`);
  return {
    slug: instance.slug,
    name: instance.name,
    projectName: instance.composeProjectName,
    imageTag,
    usesDefaultImageTag: instance.imageTag === null,
    registry: platform.registry,
    imagePrefix: platform.imagePrefix,
    imageRepo: `${platform.registry}/${platform.imagePrefix}`,
    domain,
  };
}

/** Secrets are written unquoted into `.env`; the message never echoes one. */
export function checkSecrets(secrets: Record<string, string>): void {
  for (const [key, value] of Object.entries(secrets)) {
    must(typeof value === 'string' && SECRET_RE.test(value), `secret ${key} must be non-empty letters, digits and ._~+/=-`);
  }
}

/** The context of a bundle's render: instance and platform, release, values, secrets. */
export function buildContext(instance: RenderInstance, platform: PlatformSettings, data: RenderData): RenderContext {
  const ctx: RenderContext = {
    ...instanceContext(instance, platform, data.imageTag),
    release: data.release,
    values: data.values,
    images: {},
  };
  if (data.secrets) {
    checkSecrets(data.secrets);
    ctx.secrets = { ...data.secrets };
  }
  return ctx;
}

/** Renders release.json's image references with the context and adds them as `it.images`. */
export function withImages(ctx: RenderContext, images: Record<string, string>): RenderContext {
  const out: Record<string, string> = {};
  for (const [svc, template] of Object.entries(images)) {
    let ref: string;
    try {
      ref = eta.renderString(template, strict(ctx, 'it')).trim();
    } catch (err) {
      throw new Error(`rendering the image of ${svc} failed: ${(err as Error).message}`);
    }
    must(IMAGE_REF_RE.test(ref), `the image of ${svc}, ${JSON.stringify(ref)}, must be an image reference`);
    out[svc] = ref;
  }
  return { ...ctx, images: out };
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
