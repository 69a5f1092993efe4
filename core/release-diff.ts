/**
 * Release to release: which managed files and which images change between
 * two bundles, both rendered with their schema's defaults for the same
 * sample instance. `.env` files are masked as in a preview. Image-only: the
 * new release renders byte for byte like the old one once it is given the
 * old one's tag, image references and name/version (a version written into a
 * comment is no change), and its core services are the same,
 * so a Quick Upgrade fits. Pure.
 */
import type { Bundle } from './bundle.js';
import { diffFile, type FileDiff } from './file-diff.js';
import { renderWithDefaults } from './release-render.js';
import type { PlatformSettings } from './render.js';

export interface ReleaseFileDiff extends Omit<FileDiff, 'status'> {
  status: FileDiff['status'] | 'removed';
}

export interface ReleaseDiff {
  from: string;
  to: string;
  files: ReleaseFileDiff[];
  images: { service: string; from: string | null; to: string | null }[];
  imageTag: { from: string; to: string };
  imageOnly: boolean;
  coreServices: { from: string[]; to: string[] };
}

export function diffReleases(from: Bundle, to: Bundle, platform: PlatformSettings, maxDiffBytes = 64 * 1024): ReleaseDiff {
  const a = renderWithDefaults(from, platform);
  const b = renderWithDefaults(to, platform);
  const before = new Map(a.rendered.map((f) => [f.path, f]));
  const after = new Map(b.rendered.map((f) => [f.path, f]));
  const files: ReleaseFileDiff[] = b.rendered.map((f) =>
    diffFile(f.path, before.get(f.path)?.content, f.content, { maxDiffBytes, isEnv: f.kind === 'env' || before.get(f.path)?.kind === 'env' }),
  );
  for (const f of a.rendered) {
    if (after.has(f.path)) continue;
    files.push({ ...diffFile(f.path, f.content, '', { maxDiffBytes, isEnv: f.kind === 'env' }), status: 'removed' });
  }
  const services = [...new Set([...Object.keys(a.images), ...Object.keys(b.images)])].sort();
  const images = services
    .map((service) => ({ service, from: a.images[service] ?? null, to: b.images[service] ?? null }))
    .filter((i) => i.from !== i.to);
  const sameCore = JSON.stringify([...from.release.coreServices].sort()) === JSON.stringify([...to.release.coreServices].sort());
  const sameServices = JSON.stringify(Object.keys(a.images).sort()) === JSON.stringify(Object.keys(b.images).sort());
  let imageOnly = false;
  if (sameCore && sameServices && (images.length > 0 || a.imageTag !== b.imageTag)) {
    const asOld = renderWithDefaults(to, platform, { imageTag: a.imageTag, images: a.images, as: { name: from.release.name, version: from.release.version } });
    imageOnly = asOld.rendered.length === a.rendered.length && asOld.rendered.every((f) => before.get(f.path)?.content === f.content);
  }
  return {
    from: from.release.version,
    to: to.release.version,
    files,
    images,
    imageTag: { from: a.imageTag, to: b.imageTag },
    imageOnly,
    coreServices: { from: from.release.coreServices, to: to.release.coreServices },
  };
}
