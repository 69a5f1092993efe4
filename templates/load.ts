/**
 * Reads a release's templates from disk: the only I/O of the render path.
 * The manifest is validated before any template is read, so a bad entry
 * cannot make the loader read outside the templates directory either.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
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
