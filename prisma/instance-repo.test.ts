/**
 * The instance as every upgrade step reads it (plain SQL, not Prisma), on the
 * real PostgreSQL: the same record Prisma's own read makes, field for field,
 * Dates included in a process whose time zone is not UTC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/support.js';
import { openDatabase, type Database } from './db.js';
import { createInstanceRepo, toInstance } from './repositories.js';

describe('reading an instance', () => {
  let drop: () => Promise<void>;
  let db: Database;
  let repo: ReturnType<typeof createInstanceRepo>;
  const zone = process.env.TZ;

  beforeAll(async () => {
    // pg reads a `timestamp` column in the process's zone: New York would shift a naive read by hours.
    process.env.TZ = 'America/New_York';
    const t = await createTestDatabase();
    drop = t.drop;
    db = await openDatabase({ url: t.url });
    repo = createInstanceRepo(db.prisma);
  });
  afterAll(async () => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
    await db?.close();
    await drop?.();
  });

  const prismaRead = async (id: string) => toInstance((await db.prisma.instance.findUnique({ where: { id } }))!);

  it('gives what Prisma gives, for a bare instance and for one with labels, a tag, a release, values and secrets', async () => {
    const bare = (await repo.create({ slug: 'bare', name: 'Bare', composeProjectName: 'bare', composeDir: '/srv/bare', coreServices: ['api'] }))!;
    expect(await repo.get(bare.id)).toEqual(await prismaRead(bare.id));

    const full = (await repo.create({ slug: 'full', name: 'Full', composeProjectName: 'full', composeDir: '/srv/full', coreServices: ['api', 'web'] }))!;
    await repo.update(full.id, { imageTag: '2.1.0', labels: ['eu', 'canary'], releaseVersion: '2.1.0' });
    await repo.setValues(full.id, { replicas: 2, site: { title: 'Acme' } }, { SMTP_PASSWORD: 'dd1.sealed-elsewhere' });
    const read = await repo.get(full.id);
    expect(read).toEqual(await prismaRead(full.id));
    expect(read).toMatchObject({ imageTag: '2.1.0', labels: ['eu', 'canary'], releaseVersion: '2.1.0', values: { replicas: 2, site: { title: 'Acme' } }, secretsSet: ['SMTP_PASSWORD'] });
    expect(read).not.toHaveProperty('secrets');
    expect(Math.abs(read!.updatedAt.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it("reads inside a transaction what that transaction changed, as the audited API routes do, and the same record", async () => {
    const inst = (await repo.create({ slug: 'in-tx', name: 'In a transaction', composeProjectName: 'in-tx', composeDir: '/srv/in-tx', coreServices: ['api'] }))!;
    const seen = await db.prisma.$transaction(async (tx) => {
      const inTx = createInstanceRepo(tx as typeof db.prisma);
      await inTx.update(inst.id, { imageTag: '3.0.0', labels: ['eu'] });
      return inTx.get(inst.id);
    });
    expect(seen).toMatchObject({ imageTag: '3.0.0', labels: ['eu'] });
    expect(seen).toEqual(await prismaRead(inst.id));
  });

  it('is undefined for an id no instance has', async () => {
    expect(await repo.get('00000000-0000-0000-0000-000000000000')).toBeUndefined();
    expect(await repo.get('not-even-a-uuid')).toBeUndefined();
  });
});
