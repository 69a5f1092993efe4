/**
 * The release plan: render the managed files with a proposed image tag, read
 * the tenant's current files through its driver, and compare. The preview API
 * and the release workflow's plan step both call this, so what an operator
 * previews is exactly what the workflow applies (same plan hash).
 */
import type { ExecutionDriver } from '../core/driver.js';
import { envCoverage, parseEnvFile, type EnvCoverage } from '../core/env-file.js';
import { badRequest } from '../core/errors.js';
import { diffFile, type FileDiff } from '../core/file-diff.js';
import { planHash } from '../core/plan-hash.js';
import { buildRenderContext, renderTemplates, type RenderDefaults, type RenderedFile, type TemplateSet } from '../core/render.js';

export interface PlanInstance {
  slug: string;
  name: string;
  composeProjectName: string;
  isRegistered: boolean;
}

export interface ReleasePlanner {
  templates(): Promise<TemplateSet>;
  /** imageTag here is the control plane's default IMAGE_TAG. */
  defaults: RenderDefaults;
}

export interface ReleasePlan {
  imageTag: string;
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
export const DEFAULT_MAX_DIFF_BYTES = 64 * 1024;

/** Renders the managed set; `.env` is left out for registered tenants, who keep their own. */
export async function renderRelease(
  planner: ReleasePlanner,
  driver: ExecutionDriver,
  instance: PlanInstance,
  imageTag: string,
): Promise<{ rendered: RenderedFile[]; current: Record<string, string | null>; set: TemplateSet }> {
  const set = await planner.templates();
  const paths = [...new Set([...set.manifest.map((m) => m.path), ENV_PATH])];
  const current = await driver.readFiles(paths);
  const secrets = instance.isRegistered ? undefined : secretsFrom(current[ENV_PATH] ?? null, instance.slug);
  let rendered: RenderedFile[];
  try {
    const ctx = buildRenderContext(
      { slug: instance.slug, name: instance.name, imageTag, composeProjectName: instance.composeProjectName },
      planner.defaults,
      secrets,
    );
    rendered = renderTemplates(set, ctx, { excludeEnv: instance.isRegistered });
  } catch (err) {
    throw badRequest(`rendering the release templates for ${instance.slug} failed: ${(err as Error).message}`);
  }
  return { rendered, current, set };
}

export async function planRelease(
  planner: ReleasePlanner,
  driver: ExecutionDriver,
  instance: PlanInstance,
  imageTag: string,
  /** null: statuses only, no diff text (the workflow records statuses; only operators read diffs). */
  maxDiffBytes: number | null = DEFAULT_MAX_DIFF_BYTES,
): Promise<ReleasePlan> {
  const { rendered, current } = await renderRelease(planner, driver, instance, imageTag);
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
