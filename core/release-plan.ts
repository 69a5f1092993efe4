/**
 * The release plan: render the managed files with a proposed image tag, read
 * the tenant's current files through its driver, and compare. The preview API
 * and the release workflow's plan step both call this, so what an operator
 * previews is exactly what the workflow applies (same plan hash).
 */
import type { ExecutionDriver } from './driver.js';
import { envCoverage, parseEnvFile, type EnvCoverage } from './env-file.js';
import { badRequest } from './errors.js';
import { DEFAULT_MAX_DIFF_BYTES, diffFile, type FileDiff } from './file-diff.js';
import { planHash } from './plan-hash.js';
import type { Bundle } from './bundle.js';
import { renderBundle, ValuesError } from './release-render.js';
import { buildRenderContext, renderTemplates, type RenderDefaults, type RenderedFile, type TemplateSet } from './render.js';
import type { ReleaseCatalog } from '../worker/catalog.js';

export interface PlanInstance {
  /** Absent: no stored values or secrets (a tenant laid out by a test or a benchmark). */
  id?: string;
  slug: string;
  name: string;
  composeProjectName: string;
  isRegistered: boolean;
  releaseVersion?: string | null;
  values?: Record<string, unknown>;
}

export interface ReleasePlanner {
  /** The default release's templates when its directory is a template set from before bundles. */
  templates(): Promise<TemplateSet>;
  /** imageTag here is the control plane's default IMAGE_TAG. */
  defaults: RenderDefaults;
  /** The default release when its directory is a bundle (read on each plan, like templates()). */
  bundle?(): Promise<Bundle | undefined>;
  /** Published releases by version. */
  catalog?: ReleaseCatalog;
  /** Opens an instance's stored secrets (name -> value); only the render path calls it. */
  secrets?(instanceId: string): Promise<Record<string, string>>;
}

/** What a render renders: a bundle of the catalog (or the default one), or the default template set. */
export type ResolvedRelease = { kind: 'bundle'; bundle: Bundle } | { kind: 'legacy'; set: TemplateSet };

/**
 * The release to render: the requested version, else the one the instance
 * runs, else the default release. A version not in the catalog is a 400
 * naming it.
 */
export async function resolveRelease(planner: ReleasePlanner, instance: PlanInstance, version?: string | null): Promise<ResolvedRelease> {
  const wanted = version ?? instance.releaseVersion ?? undefined;
  if (wanted) {
    const own = await planner.bundle?.();
    if (own && own.release.version === wanted) return { kind: 'bundle', bundle: own };
    const bundle = await planner.catalog?.get(wanted);
    if (!bundle) throw badRequest(`release ${wanted} is not in the catalog (GET /api/releases lists them)`);
    return { kind: 'bundle', bundle };
  }
  const own = await planner.bundle?.();
  return own ? { kind: 'bundle', bundle: own } : { kind: 'legacy', set: await planner.templates() };
}

export const templatesOf = (r: ResolvedRelease): TemplateSet => (r.kind === 'bundle' ? r.bundle.templates : r.set);

/** The version recorded for a resolved release (a template set has none). */
export const versionOf = (r: ResolvedRelease): string | undefined => (r.kind === 'bundle' ? r.bundle.release.version : undefined);

export interface ReleasePlan {
  imageTag: string;
  /** The release rendered (absent for a template set from before bundles). */
  release?: { name: string; version: string };
  /** Service -> image reference the release sets. */
  images: Record<string, string>;
  /** Over the rendered files and the tenant's current ones: stale when either changes. */
  planHash: string;
  /** Over the rendered files alone: a retried write checks only this. */
  renderHash: string;
  files: FileDiff[];
  envCoverage: EnvCoverage;
  /** Paths the plan may write: the manifest, less `.env` for registered tenants. */
  managedPaths: string[];
}

export const ENV_PATH = '.env';

/** Renders the managed set; `.env` is left out for registered tenants, who keep their own. */
export async function renderRelease(
  planner: ReleasePlanner,
  driver: ExecutionDriver,
  instance: PlanInstance,
  imageTag: string,
  releaseVersion?: string | null,
  /**
   * readOnly 'env': read only what the render itself needs, `.env` for the
   * secrets, and nothing at all for a registered tenant (its `.env` is its
   * own, and no render uses it): `current` then holds no other file.
   */
  opts: { readOnly?: 'env' } = {},
): Promise<{ rendered: RenderedFile[]; current: Record<string, string | null>; set: TemplateSet; release: ResolvedRelease; images: Record<string, string> }> {
  const release = await resolveRelease(planner, instance, releaseVersion);
  const set = templatesOf(release);
  const renderNeeds = instance.isRegistered ? [] : [ENV_PATH];
  const paths = opts.readOnly === 'env' ? renderNeeds : [...new Set([...set.manifest.map((m) => m.path), ENV_PATH])];
  const current = paths.length > 0 ? await driver.readFiles(paths) : {};
  const renderInstance = { slug: instance.slug, name: instance.name, imageTag, composeProjectName: instance.composeProjectName };
  if (release.kind === 'legacy') {
    const secrets = instance.isRegistered ? undefined : secretsFrom(current[ENV_PATH] ?? null, instance.slug);
    try {
      const rendered = renderTemplates(set, buildRenderContext(renderInstance, planner.defaults, secrets), { excludeEnv: instance.isRegistered });
      return { rendered, current, set, release, images: {} };
    } catch (err) {
      throw badRequest(`rendering the release templates for ${instance.slug} failed: ${(err as Error).message}`);
    }
  }
  const { bundle } = release;
  const secrets = instance.isRegistered ? null : await bundleSecrets(planner, bundle, instance, current[ENV_PATH] ?? null);
  try {
    const r = renderBundle(bundle, renderInstance, planner.defaults, { values: instance.values ?? {}, secrets, imageTag });
    return { rendered: r.rendered, current, set, release, images: r.images };
  } catch (err) {
    if (err instanceof ValuesError) throw badRequest(`${instance.slug}: ${err.message}`, { errors: err.errors });
    throw badRequest(`rendering release ${bundle.release.version} for ${instance.slug} failed: ${(err as Error).message}`);
  }
}

/**
 * A created tenant's secrets: those stored for the instance (opened here, in
 * the process that renders, never carried through a workflow), and for the
 * rest the value the tenant's current `.env` holds under the variable the
 * schema names (`x-drydock-env`), as tenants created before drydock stored
 * secrets have them.
 */
async function bundleSecrets(planner: ReleasePlanner, bundle: Bundle, instance: PlanInstance, envText: string | null): Promise<Record<string, string>> {
  const stored = instance.id && planner.secrets ? await planner.secrets(instance.id) : {};
  const out: Record<string, string> = {};
  const env = envText === null ? undefined : parseEnvFile(envText).vars;
  for (const key of bundle.secretKeys) {
    const value = stored[key] ?? (bundle.secretEnvNames[key] ? env?.get(bundle.secretEnvNames[key]!) : undefined);
    if (value) out[key] = value;
  }
  return out;
}

export async function planRelease(
  planner: ReleasePlanner,
  driver: ExecutionDriver,
  instance: PlanInstance,
  imageTag: string,
  /** null: statuses only, no diff text (the workflow records statuses; only operators read diffs). */
  maxDiffBytes: number | null = DEFAULT_MAX_DIFF_BYTES,
  releaseVersion?: string | null,
): Promise<ReleasePlan> {
  const { rendered, current, release, images } = await renderRelease(planner, driver, instance, imageTag, releaseVersion);
  const currentOf = (p: string) => current[p] ?? undefined;
  const files = rendered.map((f): FileDiff => {
    const before = currentOf(f.path);
    if (maxDiffBytes !== null) return diffFile(f.path, before, f.content, { maxDiffBytes, isEnv: f.kind === 'env' });
    return { path: f.path, status: before === undefined ? 'created' : before === f.content ? 'unchanged' : 'modified', truncated: false };
  });
  const compose = rendered.find((f) => f.kind === 'compose');
  // The .env the tenant will have after the apply: ours when we render it, else its own.
  const envAfter = rendered.find((f) => f.kind === 'env')?.content ?? currentOf(ENV_PATH);
  return {
    imageTag,
    ...(release.kind === 'bundle' ? { release: { name: release.bundle.release.name, version: release.bundle.release.version } } : {}),
    images,
    planHash: planHash(rendered, Object.fromEntries(rendered.map((f) => [f.path, currentOf(f.path)]))),
    renderHash: hashOfRender(rendered),
    files,
    envCoverage: envCoverage(compose?.content ?? '', envAfter),
    managedPaths: rendered.map((f) => f.path),
  };
}

export function hashOfRender(rendered: RenderedFile[]): string {
  return planHash(rendered, {});
}

/**
 * Tenants drydock created get their `.env` rendered, secrets included; the
 * secrets themselves live only in that file, so they are read back from it.
 */
function secretsFrom(envText: string | null, slug: string) {
  if (envText === null) throw badRequest(`tenant ${slug} has no .env to take its secrets from`);
  const { vars } = parseEnvFile(envText);
  const postgresPassword = vars.get('POSTGRES_PASSWORD');
  const apiSecret = vars.get('API_SECRET');
  const missing = [!postgresPassword && 'POSTGRES_PASSWORD', !apiSecret && 'API_SECRET'].filter(Boolean);
  if (missing.length > 0) throw badRequest(`tenant ${slug}'s .env does not define ${missing.join(' and ')}`);
  return { postgresPassword: postgresPassword!, apiSecret: apiSecret! };
}
