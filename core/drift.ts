/**
 * Drift: how a tenant's host differs from what the release it runs would put
 * there. The managed files are compared by checksum first (only sha256 sums
 * cross the wire), and only files that differ are read and diffed, `.env`
 * masked as in the release preview. The images: what each service's
 * container runs against the reference the release names, and against what
 * that reference names on the host now (a re-tag). Read-only: nothing here
 * writes to the tenant.
 *
 * WORKFLOWS MUST NOT IMPORT THIS MODULE (node:crypto); they use its types.
 */
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { ExecutionDriver } from './driver.js';
import { DEFAULT_MAX_DIFF_BYTES, diffFile } from './file-diff.js';
import { parseImageRef } from './image-ref.js';
import { renderRelease, resolveRelease, versionOf, type PlanInstance, type ReleasePlanner } from './release-plan.js';
import type { RenderedFile } from './render.js';
import type { ContainerState } from './types.js';

export type DriftStatus = 'in-sync' | 'drifted' | 'unknown';
export const DRIFT_STATUSES: readonly DriftStatus[] = ['in-sync', 'drifted', 'unknown'];

export interface DriftedFile {
  path: string;
  /** modified: the host's file differs; missing: the host has none. */
  status: 'modified' | 'missing';
  /** From the release's content (a/) to the host's (b/); `.env` values masked. */
  diff?: string;
  truncated: boolean;
  approximate?: boolean;
}

export type ImageProblem =
  /** The service has no container. */
  | 'no-container'
  /** The container was made from another reference than the release names. */
  | 'other-image'
  /** The release's reference names another image on the host than the container runs (re-tagged, or pulled since). */
  | 'image-changed'
  /** The host has no image under the release's reference. */
  | 'not-on-host';

export interface DriftedImage {
  service: string;
  expected: string;
  /** The reference the container was made from; null without a container. */
  running: string | null;
  runningImageId: string | null;
  /** What `expected` names on the host now; null when nothing. */
  expectedImageId: string | null;
  problem: ImageProblem;
}

export interface DriftReport {
  status: DriftStatus;
  /** The release compared against (null: a template set without a version). */
  release: string | null;
  imageTag: string;
  files: DriftedFile[];
  images: DriftedImage[];
  /** How many managed files and services were compared. */
  checked: { files: number; services: number };
  /** Why the status is unknown (unreachable engine or agent, a render that failed). */
  reason?: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Paths whose host checksum is not the rendered content's (absent on the host included). */
export function changedPaths(rendered: readonly RenderedFile[], hostChecksums: Record<string, string | null>): string[] {
  return rendered.filter((f) => hostChecksums[f.path] !== sha256Hex(f.content)).map((f) => f.path);
}

/** The files that differ, with a masked diff from the release's content to the host's. */
export function fileDrift(
  rendered: readonly RenderedFile[],
  changed: readonly string[],
  hostFiles: Record<string, string | null>,
  maxDiffBytes = DEFAULT_MAX_DIFF_BYTES,
): DriftedFile[] {
  const out: DriftedFile[] = [];
  for (const f of rendered) {
    if (!changed.includes(f.path)) continue;
    const host = hostFiles[f.path];
    if (host === null || host === undefined) {
      out.push({ path: f.path, status: 'missing', truncated: false });
      continue;
    }
    // Read after the checksums: a file fixed in between is no longer drift.
    if (host === f.content) continue;
    const d = diffFile(f.path, f.content, host, { maxDiffBytes, isEnv: f.kind === 'env' });
    out.push({ path: f.path, status: 'modified', diff: d.diff, truncated: d.truncated, ...(d.approximate ? { approximate: true } : {}) });
  }
  return out;
}

/**
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$VAR` in an image
 * reference, as compose interpolates them; undefined when a variable without
 * a default is not given (the reference cannot be known here).
 */
export function interpolate(text: string, env: Record<string, string>): string | undefined {
  let unknown = false;
  const out = text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, braced?: string, op?: string, dflt?: string, bare?: string) => {
    if (m === '$$') return '$';
    const name = (braced ?? bare)!;
    const value = env[name];
    if (op === ':-') return value ? value : dflt!;
    if (op === '-') return value !== undefined ? value : dflt!;
    if (value === undefined) unknown = true;
    return value ?? '';
  });
  return unknown ? undefined : out;
}

/** Service -> image reference of a compose file, interpolated with env; services whose reference cannot be known are left out. */
export function composeImages(composeText: string, env: Record<string, string>): Record<string, string> {
  let doc: unknown;
  try {
    doc = parseYaml(composeText);
  } catch {
    return {};
  }
  const services = (doc as { services?: Record<string, { image?: unknown } | null> } | null)?.services;
  const out: Record<string, string> = {};
  for (const [name, svc] of Object.entries(services ?? {})) {
    if (typeof svc?.image !== 'string') continue;
    const ref = interpolate(svc.image, env);
    if (ref) out[name] = ref;
  }
  return out;
}

/** The images a release names: its own map (bundles), else those of its rendered compose file with the instance's tag. */
export function expectedImages(rendered: readonly RenderedFile[], releaseImages: Record<string, string>, imageTag: string): Record<string, string> {
  if (Object.keys(releaseImages).length > 0) return releaseImages;
  const compose = rendered.find((f) => f.kind === 'compose');
  return compose ? composeImages(compose.content, { IMAGE_TAG: imageTag }) : {};
}

/** `repo:tag` with the implicit `latest` spelled out, so `web` and `web:latest` compare equal. */
const normalRef = (ref: string) => {
  const { repo, tag } = parseImageRef(ref);
  return `${repo}:${tag}`;
};

export function imageDrift(expected: Record<string, string>, containers: readonly ContainerState[], hostIds: Record<string, string | null>): DriftedImage[] {
  const out: DriftedImage[] = [];
  for (const [service, ref] of Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const c = containers.find((s) => s.service === service);
    const expectedImageId = hostIds[ref] ?? null;
    const running = c && c.containerId ? (c.imageRef ?? null) : null;
    const runningImageId = c && c.containerId ? c.imageId || null : null;
    const base = { service, expected: ref, running, runningImageId, expectedImageId };
    if (!c || !c.containerId) out.push({ ...base, problem: 'no-container' });
    else if (!running || normalRef(running) !== normalRef(ref)) out.push({ ...base, problem: 'other-image' });
    else if (!expectedImageId) out.push({ ...base, problem: 'not-on-host' });
    else if (expectedImageId !== runningImageId) out.push({ ...base, problem: 'image-changed' });
  }
  return out;
}

/** The effective tag of an instance: its own, else its release's, else the control plane's default. */
export async function driftTarget(planner: ReleasePlanner, instance: PlanInstance & { imageTag: string | null }) {
  const release = await resolveRelease(planner, instance);
  const releaseTag = release.kind === 'bundle' ? release.bundle.release.imageTag : undefined;
  return { release, imageTag: instance.imageTag ?? releaseTag ?? planner.defaults.imageTag };
}

/**
 * The drift of one instance through its execution driver: render the release
 * it runs (reading only `.env`, for the secrets a render needs), checksums,
 * then the files that differ, then containers and the host's images.
 * Throws what the driver or the render throws; the caller records `unknown`.
 */
export async function inspectDrift(planner: ReleasePlanner, driver: ExecutionDriver, instance: PlanInstance & { imageTag: string | null }): Promise<DriftReport> {
  const { release, imageTag } = await driftTarget(planner, instance);
  const { rendered, images } = await renderRelease(planner, driver, instance, imageTag, undefined, { readOnly: 'env' });
  const changed = changedPaths(rendered, await driver.fileChecksums(rendered.map((f) => f.path)));
  const files = changed.length > 0 ? fileDrift(rendered, changed, await driver.readFiles(changed)) : [];
  const expected = expectedImages(rendered, images, imageTag);
  const services = Object.keys(expected);
  const containers = services.length > 0 ? await driver.containerStates(services) : [];
  const hostIds = services.length > 0 ? await driver.imageIds([...new Set(Object.values(expected))]) : {};
  const drifted = imageDrift(expected, containers, hostIds);
  return {
    status: files.length > 0 || drifted.length > 0 ? 'drifted' : 'in-sync',
    release: versionOf(release) ?? null,
    imageTag,
    files,
    images: drifted,
    checked: { files: rendered.length, services: services.length },
  };
}

export function unknownDrift(reason: string): DriftReport {
  return { status: 'unknown', release: null, imageTag: '', files: [], images: [], checked: { files: 0, services: 0 }, reason };
}

/** One line for a notification or a log: what differs, never a diff. */
export function driftSummary(r: DriftReport): string {
  if (r.status === 'unknown') return `unknown: ${r.reason ?? 'not checked'}`;
  if (r.status === 'in-sync') return 'in sync';
  const parts = [
    ...r.files.map((f) => `${f.path} ${f.status}`),
    ...r.images.map((i) => `${i.service}: ${i.problem}`),
  ];
  return `drifted: ${parts.join(', ')}`;
}
