import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReleaseRepo } from '../prisma/repositories.js';
import { createCatalog } from './catalog.js';

const platform = { imageTag: 'latest', registry: 'registry.example.com', imagePrefix: 'drydock', baseDomain: 'tenants.example.com' };
// The table is never reached in this test: a repository that fails if it is.
const untouched = new Proxy({}, { get: () => () => Promise.reject(new Error('the release table was used')) }) as ReleaseRepo;

describe('loading a releases directory', () => {
  it('publishes nothing from a template set without release.json (DRYDOCK_TEMPLATES_DIR of old), which renders as before', async () => {
    const catalog = createCatalog(untouched, platform);
    expect(await catalog.loadDir(path.join(import.meta.dirname, '..', 'test', 'fixtures', 'releases', 'n1'))).toEqual([]);
    expect(catalog.defaultVersion()).toBeUndefined();
  });

  it('refuses a directory that holds no bundle at all, naming it', async () => {
    const dir = path.join(import.meta.dirname, '..', 'test', 'fixtures');
    await expect(createCatalog(untouched, platform).loadDir(dir)).rejects.toThrow(`${dir} holds no release bundle`);
  });
});
