/**
 * `npm start` publishes the shipped release at every start; on the embedded
 * database the second start must find it there, not fail (found when a fresh
 * clone's second `npm start` stopped with "Connection terminated unexpectedly").
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openDatabase } from './db.js';
import { createReleaseRepo } from './repositories.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it('publishes a release again on embedded PGlite after a restart: the same content is a no-op, other content a conflict', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'drydock-pglite-'));
  dirs.push(dataDir);
  const release = { version: 'r-1.0.0', name: 'r', contentHash: 'a'.repeat(64), files: { 'release.json': '{}' }, source: 'test' };

  const first = await openDatabase({ dataDir, log: () => {} });
  expect((await createReleaseRepo(first.prisma).publish(release)).outcome).toBe('created');
  await first.close();

  const second = await openDatabase({ dataDir, log: () => {} });
  try {
    const repo = createReleaseRepo(second.prisma);
    expect((await repo.publish(release)).outcome).toBe('same');
    expect((await repo.publish({ ...release, contentHash: 'b'.repeat(64) })).outcome).toBe('conflict');
    expect(await repo.list()).toHaveLength(1);
  } finally {
    await second.close();
  }
});
