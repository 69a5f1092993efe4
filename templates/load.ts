/**
 * Reads releases from disk: the only I/O of the render path. A directory
 * with release.json is a bundle (core/bundle.ts); one without is a template
 * set from before bundles (manifest.json and templates). The manifest is
 * validated before any template is read, so a bad entry cannot make the
 * loader read outside the directory either.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { BundleError, bundleContentHash, MANIFEST_FILE, parseBundle, RELEASE_FILE, SCHEMA_FILE, type Bundle } from '../core/bundle.js';
import { parseManifest, type TemplateSet } from '../core/render.js';

export const TEMPLATES_DIR = import.meta.dirname;

/** How the loaders read a file (utf-8); `onDisk` records what they read. */
export type ReadFile = (file: string) => Promise<string>;
const readUtf8: ReadFile = (file) => readFile(file, 'utf8');

export async function loadTemplateSet(dir: string = TEMPLATES_DIR, read: ReadFile = readUtf8): Promise<TemplateSet> {
  const manifestFile = path.join(dir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await read(manifestFile));
  } catch (err) {
    throw new Error(`cannot read the template manifest ${manifestFile}: ${(err as Error).message}`);
  }
  const manifest = parseManifest(raw);
  const sources: Record<string, string> = {};
  for (const { template, path: target } of manifest) {
    if (Object.hasOwn(sources, template)) continue;
    const file = path.join(dir, template);
    try {
      sources[template] = await read(file);
    } catch (err) {
      throw new Error(`cannot read template ${template} (for ${target}): ${(err as Error).message}`);
    }
  }
  return { manifest, sources };
}

/**
 * What a file is now (inode, size, modification time), or that it is missing.
 * A synchronous stat: most steps of every upgrade stamp each template, and
 * through the thread pool a stat costs 25 times the CPU (tenant/files.ts).
 */
function stampOf(file: string): string {
  try {
    const s = statSync(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
}

/**
 * `load` (a loader above, given the ReadFile it passes on) run again only
 * when a file it read, or found missing, has changed since: every plan still
 * sees templates edited on disk, for a stat per file instead of reading,
 * parsing and checking them all again. The answer is shared: callers must
 * not change it (as with the catalog's bundles).
 */
export function onDisk<T>(load: (read: ReadFile) => Promise<T>): () => Promise<T> {
  let last: { stamps: Map<string, string>; value: T } | undefined;
  return async () => {
    if (last && [...last.stamps].every(([file, stamp]) => stampOf(file) === stamp)) return last.value;
    const stamps = new Map<string, string>();
    // Stamped before it is read: a change while reading shows at the next call.
    const read: ReadFile = async (file) => {
      stamps.set(file, stampOf(file));
      return readUtf8(file);
    };
    const value = await load(read);
    last = { stamps, value };
    return value;
  };
}

export const isBundleDir = (dir: string) => existsSync(path.join(dir, RELEASE_FILE));

/** A bundle from its files (a directory's or an upload's); the content hash covers exactly the bundle's files. */
export function bundleFromFiles(files: Record<string, string>): Bundle {
  const parsed = parseBundle(files);
  return { ...parsed, contentHash: bundleContentHash(parsed.files) };
}

/** Reads the bundle in `dir`: release.json, manifest.json, values.schema.json and the templates the manifest names. */
export async function loadBundleDir(dir: string, readOne: ReadFile = readUtf8): Promise<Bundle> {
  const files: Record<string, string> = {};
  const read = async (name: string) => {
    try {
      files[name] = await readOne(path.join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new BundleError(name, `cannot be read: ${(err as Error).message}`);
    }
  };
  for (const name of [RELEASE_FILE, MANIFEST_FILE, SCHEMA_FILE]) await read(name);
  if (files[MANIFEST_FILE] !== undefined) {
    try {
      for (const { template } of parseManifest(JSON.parse(files[MANIFEST_FILE]!))) if (!Object.hasOwn(files, template)) await read(template);
    } catch {
      // parseBundle names the manifest's problem with its line
    }
  }
  try {
    return bundleFromFiles(files);
  } catch (err) {
    if (err instanceof BundleError) throw new BundleError(path.join(dir, err.file), err.problem, err.line);
    throw err;
  }
}

/**
 * DRYDOCK_RELEASES_DIR: a directory holding one bundle (release.json at its
 * top, as templates/ does), or a directory of bundle directories (each
 * subdirectory with a release.json is one; others are ignored).
 */
export async function loadReleasesDir(dir: string): Promise<Bundle[]> {
  if (isBundleDir(dir)) return [await loadBundleDir(dir)];
  const out: Bundle[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.isDirectory() && isBundleDir(path.join(dir, e.name))) out.push(await loadBundleDir(path.join(dir, e.name)));
  }
  if (out.length === 0) throw new Error(`${dir} holds no release bundle (no release.json in it or in any of its subdirectories)`);
  return out;
}
