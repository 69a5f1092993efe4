/**
 * `GET /api/upgrades/:id`, the endpoint browsers poll, on the real control
 * plane (real PostgreSQL): an upgrade still running shows every change at
 * once, even when concurrent polls share one query; a finished one (which
 * never changes again) is answered from memory, and a poller that sends back
 * its ETag gets a bodiless 304.
 */
import { randomUUID } from 'node:crypto';
import { get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstanceRepo, createUpgradeRepo } from '../prisma/repositories.js';
import type { StepProgress } from '../core/types.js';
import { fastUpgradeReads } from './upgrade-reads.js';
import { startTestControlPlane, uniqueName, type TestControlPlane } from '../test/support.js';

/** A GET as a browser revalidating its cached copy sends it; fetch() would add Cache-Control: no-cache, which asks for the body. */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

describe('the upgrade status endpoint', () => {
  let cp: TestControlPlane;
  beforeAll(async () => {
    cp = await startTestControlPlane({ runWorker: false });
  });
  afterAll(async () => cp?.stop());

  async function newUpgrade() {
    const slug = uniqueName('status-');
    const instance = await createInstanceRepo(cp.db.prisma).create({ slug, name: slug, composeProjectName: slug, composeDir: `/srv/${slug}`, coreServices: ['api'] });
    const id = randomUUID();
    await createUpgradeRepo(cp.db.prisma).ensure({ id, instanceId: instance!.id, mode: 'image-only', imageTag: '2.0.0', workflowId: `upgrade-${slug}`, status: 'running' });
    return id;
  }
  const step = (name: string, status: StepProgress['status']): StepProgress => ({ name, status, startedAt: new Date().toISOString() });

  it('shows each change of a running upgrade on the next request, up to and including its end', async () => {
    const id = await newUpgrade();
    const upgrades = createUpgradeRepo(cp.db.prisma);
    expect((await cp.api('GET', `/api/upgrades/${id}`)).body).toMatchObject({ status: 'running', steps: [], finishedAt: null });
    await upgrades.saveProgress(id, { status: 'running', currentStep: 'pull', steps: [step('pull', 'running')] });
    expect((await cp.api('GET', `/api/upgrades/${id}`)).body).toMatchObject({ currentStep: 'pull', steps: [{ name: 'pull', status: 'running' }] });
    await upgrades.saveProgress(id, { status: 'needs-attention', currentStep: 'pull', steps: [step('pull', 'failed')], error: 'registry down' });
    expect((await cp.api('GET', `/api/upgrades/${id}`)).body).toMatchObject({ status: 'needs-attention', error: 'registry down', finishedAt: null });
    await upgrades.saveProgress(id, { status: 'failed', currentStep: 'pull', steps: [step('pull', 'failed')], error: 'aborted', finished: true });
    const end = await cp.api('GET', `/api/upgrades/${id}`);
    expect(end.body).toMatchObject({ status: 'failed', error: 'aborted' });
    expect(end.body.finishedAt).not.toBeNull();
  });

  it('answers a finished upgrade from memory once read, and a poller holding its ETag with 304', async () => {
    const id = await newUpgrade();
    await createUpgradeRepo(cp.db.prisma).saveProgress(id, { status: 'succeeded', currentStep: 'verify', steps: [step('verify', 'succeeded')], finished: true });
    const first = await cp.api('GET', `/api/upgrades/${id}`);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/"/);
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');

    // Gone from the database (which no drydock path does to a finished upgrade): still answered, the same, from memory.
    await cp.db.prisma.instanceUpgrade.delete({ where: { id } });
    const again = await cp.api('GET', `/api/upgrades/${id}`);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('etag')).toBe(etag);

    const revalidated = await rawGet(`${cp.url}/api/upgrades/${id}`, { authorization: `Bearer ${cp.operator.token}`, 'if-none-match': etag! });
    expect(revalidated).toEqual({ status: 304, body: '' });
    // The token is still checked: no 304 (nor anything else) without it.
    expect((await rawGet(`${cp.url}/api/upgrades/${id}`, { 'if-none-match': etag! })).status).toBe(401);
  });

  it('shares the reads of concurrent pollers, yet each sees every change committed before it asked', async () => {
    const id = await newUpgrade();
    const upgrades = createUpgradeRepo(cp.db.prisma);
    let queries = 0;
    const reads = fastUpgradeReads({ ...upgrades, get: (x) => (queries++, upgrades.get(x)) });
    for (let round = 1; round <= 5; round++) {
      const steps = Array.from({ length: round }, (_, i) => step(`step-${i}`, 'succeeded'));
      await upgrades.saveProgress(id, { status: 'running', currentStep: `step-${round - 1}`, steps });
      // Fifty pollers at once, all asking after the write: every one sees it.
      const seen = await Promise.all(Array.from({ length: 50 }, () => reads.get(id)));
      expect(seen.map((u) => u!.steps.length)).toEqual(Array(50).fill(round));
    }
    expect(queries).toBeLessThanOrEqual(10);

    // A poll that arrives while a query is under way, which may have read before the latest write, waits for a newer one.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const get = async (x: string) => {
      const u = await upgrades.get(x);
      if (calls++ === 0) await gate;
      return u;
    };
    const held = fastUpgradeReads({ ...upgrades, get });
    const early = held.get(id);
    await new Promise((r) => setTimeout(r, 200)); // the first query has read by now, and is held
    await upgrades.saveProgress(id, { status: 'running', currentStep: 'late', steps: [step('late', 'running')] });
    const late = held.get(id);
    release();
    expect((await early)!.currentStep).toBe('step-4');
    expect((await late)!.currentStep).toBe('late');
  });
});
