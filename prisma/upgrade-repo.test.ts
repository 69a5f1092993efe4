/**
 * The upgrade row as a workflow marks it running, on the real PostgreSQL:
 * whoever writes first (the API's `queued` row or the workflow), the row ends
 * up running once, and only the write that made it so says it did, so the
 * started counter counts each upgrade once however often its first step runs.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/support.js';
import { openDatabase, type Database } from './db.js';
import { createInstanceRepo, createUpgradeRepo } from './repositories.js';

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
});
