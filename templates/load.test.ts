/** The planner's loaders read a release directory again only when one of its files changed (onDisk). */
import { cp, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundleDir, loadTemplateSet, onDisk, TEMPLATES_DIR } from './load.js';

describe('a release directory loaded through onDisk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = path.join(await mkdtemp(path.join(tmpdir(), 'drydock-ondisk-')), 'bundle');
    await cp(TEMPLATES_DIR, dir, { recursive: true, filter: (src) => !src.endsWith('.ts') });
  });
  afterAll(async () => {
    await rm(path.dirname(dir), { recursive: true, force: true });
  });

  it('answers the same bundle while no file changed, and reads an edited template at the next call', async () => {
    const reads: string[] = [];
    const bundle = onDisk((read) => loadBundleDir(dir, (f) => (reads.push(path.relative(dir, f)), read(f))));
    const first = await bundle();
    const readsOfFirst = reads.length;
    expect(reads).toEqual(expect.arrayContaining(['release.json', 'manifest.json', 'values.schema.json', 'docker-compose.yml.eta']));
    expect(await bundle()).toBe(first);
    expect(reads).toHaveLength(readsOfFirst);

    const template = path.join(dir, 'drydock/VERSION.eta');
    await writeFile(template, 'edited <%= it.release.version %>\n');
    const second = await bundle();
    expect(second).not.toBe(first);
    expect(second.templates.sources['drydock/VERSION.eta']).toBe('edited <%= it.release.version %>\n');
  });

  it('sees a rewrite that keeps the size, and does not keep a load that failed', async () => {
    const set = onDisk((read) => loadTemplateSet(dir, read));
    const first = await set();
    // Same size, other content: the modification time (and inode of a rename) tell.
    const template = path.join(dir, 'drydock/VERSION.eta');
    await writeFile(template, 'EDITED <%= it.release.version %>\n');
    await utimes(template, new Date(), new Date(Date.now() + 5_000));
    expect((await set()).sources['drydock/VERSION.eta']).toBe('EDITED <%= it.release.version %>\n');
    expect(first.sources['drydock/VERSION.eta']).not.toBe('EDITED <%= it.release.version %>\n');

    // A load that failed is not kept: the file put right is read at the next call.
    const bare = path.join(path.dirname(dir), 'bare');
    await cp(dir, bare, { recursive: true });
    await rm(path.join(bare, 'values.schema.json'));
    const bundle = onDisk((read) => loadBundleDir(bare, read));
    await expect(bundle()).rejects.toThrow(/values\.schema\.json: is missing from the bundle/);
    await cp(path.join(dir, 'values.schema.json'), path.join(bare, 'values.schema.json'));
    expect((await bundle()).release.version).toBe((await loadBundleDir(dir)).release.version);
  });
});
