/**
 * Reads releases from disk: the only I/O of the render path. A directory
 * with release.json is a bundle (core/bundle.ts); one without is a template
 * set from before bundles (manifest.json and templates). The manifest is
 * validated before any template is read, so a bad entry cannot make the
 * loader read outside the directory either.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { BundleError, bundleContentHash, MANIFEST_FILE, parseBundle, RELEASE_FILE, SCHEMA_FILE, type Bundle } from '../core/bundle.js';
import { parseManifest, type TemplateSet } from '../core/render.js';

export const TEMPLATES_DIR = import.meta.dirname;

export async function loadTemplateSet(dir: string = TEMPLATES_DIR): Promise<TemplateSet> {
  const manifestFile = path.join(dir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(manifestFile, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the template manifest ${manifestFile}: ${(err as Error).message}`);
  }
  const manifest = parseManifest(raw);
  const sources: Record<string, string> = {};
  for (const { template, path: target } of manifest) {
    if (Object.hasOwn(sources, template)) continue;
    const file = path.join(dir, template);
    try {
      sources[template] = await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read template ${template} (for ${target}): ${(err as Error).message}`);
    }
  }
  return { manifest, sources };
}

export const isBundleDir = (dir: string) => existsSync(path.join(dir, RELEASE_FILE));

/** A bundle from its files (a directory's or an upload's); the content hash covers exactly the bundle's files. */
export function bundleFromFiles(files: Record<string, string>): Bundle {
  const parsed = parseBundle(files);
  return { ...parsed, contentHash: bundleContentHash(parsed.files) };
}

/** Reads the bundle in `dir`: release.json, manifest.json, values.schema.json and the templates the manifest names. */
export async function loadBundleDir(dir: string): Promise<Bundle> {
  const files: Record<string, string> = {};
  const read = async (name: string) => {
    try {
      files[name] = await readFile(path.join(dir, name), 'utf8');
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
