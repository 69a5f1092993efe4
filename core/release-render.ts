/**
 * Rendering one release bundle for one tenant: values checked against the
 * bundle's schema (defaults filled in), the context built from the instance,
 * the platform settings, the values and (for tenants drydock created) the
 * secrets, the image references rendered, then the templates. Pure.
 */
import { BundleError, checkValues, type Bundle } from './bundle.js';
import { buildContext, renderTemplates, withImages, type PlatformSettings, type RenderedFile, type RenderInstance } from './render.js';

export interface BundleRender {
  rendered: RenderedFile[];
  /** Service -> image reference this render sets. */
  images: Record<string, string>;
  imageTag: string;
}

export interface BundleRenderOptions {
  values: Record<string, unknown>;
  /** Null for registered tenants: no secrets, no `.env`. */
  secrets: Record<string, string> | null;
  /** The request's tag; else the instance's own, the release's, the platform's. */
  imageTag?: string;
  /** Secrets were checked elsewhere (placeholders of the publish check). */
  skipSecretCheck?: boolean;
  /** Render with these image references instead of the release's (the image-only check of a diff). */
  images?: Record<string, string>;
  /** Render as if it were this release (the image-only check: a version in a comment is no file change). */
  as?: { name: string; version: string };
}

export class ValuesError extends Error {
  constructor(
    readonly version: string,
    readonly errors: string[],
  ) {
    super(`values do not match the values schema of release ${version}: ${errors.join('; ')}`);
    this.name = 'ValuesError';
  }
}

export function renderBundle(bundle: Bundle, instance: RenderInstance, platform: PlatformSettings, opts: BundleRenderOptions): BundleRender {
  const checked = checkValues(bundle, opts.values, opts.skipSecretCheck ? null : opts.secrets);
  if (checked.errors.length > 0) throw new ValuesError(bundle.release.version, checked.errors);
  const imageTag = opts.imageTag ?? instance.imageTag ?? bundle.release.imageTag ?? platform.imageTag;
  let ctx = buildContext(instance, platform, {
    release: opts.as ?? { name: bundle.release.name, version: bundle.release.version },
    values: checked.values,
    ...(opts.secrets ? { secrets: opts.secrets } : {}),
    imageTag,
  });
  ctx = opts.images ? { ...ctx, images: { ...opts.images } } : withImages(ctx, bundle.release.images);
  const rendered = renderTemplates(bundle.templates, ctx, { excludeEnv: opts.secrets === null });
  return { rendered, images: ctx.images ?? {}, imageTag };
}

/** The instance a bundle is test-rendered for at publish and in release-to-release diffs. */
export const SAMPLE_INSTANCE: RenderInstance = { slug: 'example', name: 'Example tenant', imageTag: null, composeProjectName: 'example' };

/** Secrets of the sample render: placeholders, never shown (a diff masks `.env`). */
export function placeholderSecrets(bundle: Pick<Bundle, 'secretKeys'>): Record<string, string> {
  return Object.fromEntries(bundle.secretKeys.map((k) => [k, `placeholder-${k}`]));
}

/** Renders a bundle with its schema's defaults; a failure is a BundleError naming the template. */
export function renderWithDefaults(bundle: Bundle, platform: PlatformSettings, override: Pick<BundleRenderOptions, 'imageTag' | 'images' | 'as'> = {}): BundleRender {
  try {
    return renderBundle(bundle, SAMPLE_INSTANCE, platform, { values: {}, secrets: placeholderSecrets(bundle), skipSecretCheck: true, ...override });
  } catch (err) {
    const message = (err as Error).message;
    if (err instanceof ValuesError) throw new BundleError('values.schema.json', `its defaults do not validate: ${err.errors.join('; ')}`);
    const template = /rendering (\S+) for/.exec(message)?.[1];
    const line = /line:?\s*(\d+)/i.exec(message)?.[1];
    throw new BundleError(template ?? 'release.json', `does not render with the schema's defaults: ${message}`, line ? Number(line) : undefined);
  }
}
