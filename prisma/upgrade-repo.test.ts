/**
 * The upgrade row as a workflow marks it running, on the real PostgreSQL:
 * whoever writes first (the API's `queued` row or the workflow), the row ends
 * up running once, and only the write that made it so says it did, so the
 * started counter counts each upgrade once however often its first step runs.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/support.js';
import { createKeyring } from '../core/keyring.js';
import { openDatabase, type Database } from './db.js';
import { createInstanceRepo, createUpgradeRepo } from './repositories.js';
import { createSnapshotStore } from './snapshot-store.js';

describe('marking an upgrade running', () => {
  let drop: () => Promise<void>;
  let db: Database;
  let repo: ReturnType<typeof createUpgradeRepo>;
  let instanceId: string;

  beforeAll(async () => {
    const t = await createTestDatabase();
    drop = t.drop;
    db = await openDatabase({ url: t.url });
    repo = createUpgradeRepo(db.prisma);
    const created = await createInstanceRepo(db.prisma).create({
      slug: 'marks', name: 'Marks', composeProjectName: 'marks', composeDir: '/srv/marks', coreServices: ['api'],
    });
    instanceId = created!.id;
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  const upgrade = () => ({ id: randomUUID(), instanceId, mode: 'release' as const, imageTag: '2.0.0', workflowId: `upgrade-${randomUUID()}`, runId: randomUUID(), requestedBy: 'ops@example.com' });

  it('creates the row running when the workflow comes first, says so once, and the API writing after it changes nothing', async () => {
    const u = upgrade();
    expect(await repo.markRunning(u)).toBe('created');
    expect(await repo.markRunning(u)).toBe('existing');
    await repo.ensure({ ...u, status: 'queued' });
    expect(await repo.get(u.id)).toMatchObject({ status: 'running', runId: u.runId, requestedBy: 'ops@example.com', mode: 'release', imageTag: '2.0.0' });
  });

  it("moves the API's queued row to running when the API came first, and says so once", async () => {
    const u = upgrade();
    await repo.ensure({ ...u, status: 'queued' });
    expect(await repo.markRunning(u)).toBe('queued');
    expect(await repo.markRunning(u)).toBe('existing');
    expect((await repo.get(u.id))!.status).toBe('running');
  });

  const running = { status: 'running' as const, currentStep: 'plan', steps: [{ name: 'plan', status: 'running' as const, startedAt: '2026-12-03T00:00:00.000Z' }], error: null };

  it('writes the first step with the row, whether it creates the row or finds the API\'s', async () => {
    const first = upgrade();
    expect(await repo.markRunning(first, running)).toBe('created');
    const second = upgrade();
    await repo.ensure({ ...second, status: 'queued' });
    expect(await repo.markRunning(second, running)).toBe('queued');
    for (const u of [first, second]) expect(await repo.get(u.id)).toMatchObject({ status: 'running', currentStep: 'plan', steps: running.steps, runId: u.runId });
  });

  it('counts the upgrade started once when two steps run together both carry its first record, with or without the API\'s row', async () => {
    const fresh = upgrade();
    expect((await Promise.all([repo.markRunning(fresh, running), repo.markRunning(fresh, running)])).sort()).toEqual(['created', 'existing']);
    const queued = upgrade();
    await repo.ensure({ ...queued, status: 'queued' });
    expect((await Promise.all([repo.markRunning(queued, running), repo.markRunning(queued, running)])).sort()).toEqual(['existing', 'queued']);
    for (const u of [fresh, queued]) expect(await repo.get(u.id)).toMatchObject({ status: 'running', currentStep: 'plan', steps: running.steps });
  });

  it('leaves a finished upgrade as it ended when a late attempt marks it running', async () => {
    const u = upgrade();
    await repo.markRunning(u);
    await repo.saveProgress(u.id, { status: 'succeeded', currentStep: 'verify', steps: [], error: null, finished: true });
    expect(await repo.markRunning(u, running)).toBe('existing');
    expect(await repo.get(u.id)).toMatchObject({ status: 'succeeded', currentStep: 'verify', steps: [] });
  });

  it("writes each step's progress while the upgrade runs, and never over one that has finished", async () => {
    const u = upgrade();
    await repo.markRunning(u, running);
    const next = {
      status: 'running' as const,
      currentStep: 'snapshot',
      steps: [{ ...running.steps[0]!, status: 'failed' as const, finishedAt: '2026-12-03T00:00:01.000Z', error: 'compose said "no" \\ twice' }, { name: 'snapshot', status: 'running' as const, startedAt: '2026-12-03T00:00:02.000Z' }],
      error: null,
    };
    await repo.saveStepProgress(u.id, next);
    expect(await repo.get(u.id)).toMatchObject(next);
    await repo.saveProgress(u.id, { status: 'succeeded', currentStep: 'verify', steps: [], error: null, finished: true });
    await repo.saveStepProgress(u.id, { ...next, currentStep: 'late' });
    expect(await repo.get(u.id)).toMatchObject({ status: 'succeeded', currentStep: 'verify', steps: [] });
  });

  it("writes its times as the UTC Prisma reads, whatever the database session's time zone", async () => {
    // A session fourteen hours ahead of UTC: a bare now() into a timestamp column would be off by that much.
    const name = new URL(db.url).pathname.slice(1);
    await db.prisma.$executeRawUnsafe(`ALTER DATABASE "${name}" SET timezone TO 'Pacific/Kiritimati'`);
    const ahead = await openDatabase({ url: db.url });
    try {
      const [session] = await ahead.prisma.$queryRawUnsafe<{ tz: string }[]>("SELECT current_setting('TimeZone') AS tz");
      expect(session?.tz).toBe('Pacific/Kiritimati');
      const upgrades = createUpgradeRepo(ahead.prisma);
      const u = upgrade();
      const t0 = Date.now();
      await upgrades.markRunning(u, running);
      const ended = await upgrades.saveProgress(u.id, { status: 'succeeded', currentStep: 'verify', steps: [], error: null, finished: true });
      await createInstanceRepo(ahead.prisma).setImageTag(instanceId, '2.0.0', '2.0.0');
      const filesRef = await createSnapshotStore(ahead.prisma, createKeyring([Buffer.alloc(32, 7)])).save(u.id, {});
      const t1 = Date.now();
      const near = (d: Date | null | undefined) => expect(d?.getTime()).toSatisfy((ms: number) => ms >= t0 - 1000 && ms <= t1 + 1000);
      const row = await db.prisma.instanceUpgrade.findUniqueOrThrow({ where: { id: u.id } });
      near(row.startedAt);
      near(row.finishedAt);
      expect(ended.finishedAt?.getTime()).toBe(row.finishedAt?.getTime());
      expect(ended.startedAt.getTime()).toBe(row.startedAt.getTime());
      near((await db.prisma.instance.findUniqueOrThrow({ where: { id: instanceId } })).updatedAt);
      near((await db.prisma.snapshotFiles.findUniqueOrThrow({ where: { id: filesRef } })).createdAt);
    } finally {
      await ahead.close();
      await db.prisma.$executeRawUnsafe(`ALTER DATABASE "${name}" RESET timezone`);
    }
  });

  it('sets the tag, and the release only when one is given, and says so when the instance is gone', async () => {
    const instances = createInstanceRepo(db.prisma);
    await instances.setImageTag(instanceId, '3.0.0', '3.0.0');
    await instances.setImageTag(instanceId, '3.0.1');
    expect(await instances.get(instanceId)).toMatchObject({ imageTag: '3.0.1', releaseVersion: '3.0.0' });
    await instances.setImageTag(instanceId, null, null);
    expect(await instances.get(instanceId)).toMatchObject({ imageTag: null, releaseVersion: null });
    await expect(instances.setImageTag(randomUUID(), '1.0.0')).rejects.toThrow(/does not exist/);
  });

  it('says so when the upgrade whose end it records is gone', async () => {
    await expect(repo.saveProgress(randomUUID(), { status: 'succeeded', currentStep: null, steps: [], error: null, finished: true })).rejects.toThrow(/does not exist/);
  });
});
