/**
 * Load on the real API (PostgreSQL, Temporal): concurrent upgrade requests for
 * one instance, concurrent release previews across many tenants, and an
 * invite-code brute force. Each prints its figures as `[load] …`
 * (docs/RELIABILITY.md quotes them).
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderRelease } from '../core/release-plan.js';
import { createTenantDriver, detectComposeVariant } from '../tenant/tenant.js';
import { createCsr, generateKeyPair } from '../core/pki.js';
import { createPlanner } from '../worker/planner.js';
import { FIXTURES, releaseDefaults, treeChecksums } from './faults/support.js';
import { startTestControlPlane, uniqueName, type TestControlPlane } from './support.js';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe('the API under load', () => {
  let cp: TestControlPlane;
  let work: string;
  const defaults = releaseDefaults(`drydock-${uniqueName('load')}`);

  beforeAll(async () => {
    // No worker: started workflows wait on their own task queue, so the figures are the API's and Temporal's alone.
    cp = await startTestControlPlane({ runWorker: false, planner: createPlanner(defaults, path.join(FIXTURES, 'n1')) });
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-load-'));
  });

  afterAll(async () => {
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('starts exactly one upgrade out of 50 concurrent requests for one instance: 49 get 409 and one workflow exists', async () => {
    const slug = uniqueName('race');
    const created = await cp.api('POST', '/api/instances', { slug, name: 'Race', composeDir: path.join(work, slug), imageTag: '1.0.0' });
    expect(created.status).toBe(201);
    const id = created.body.id;
    // All three paths at once: they share the workflow ID, so Temporal refuses all but one.
    const requests = Array.from({ length: 50 }, (_, i) =>
      i % 3 === 0
        ? cp.api('POST', `/api/instances/${id}/upgrade-images`, {})
        : i % 3 === 1
          ? cp.api('POST', `/api/instances/${id}/upgrade`, {})
          : cp.api('POST', `/api/instances/${id}/upgrade-release`, { imageTag: '1.1.0' }),
    );
    const t0 = Date.now();
    const answers = await Promise.all(requests);
    const ms = Date.now() - t0;
    const byStatus = answers.reduce<Record<number, number>>((m, a) => ({ ...m, [a.status]: (m[a.status] ?? 0) + 1 }), {});
    const workflowId = `upgrade-${slug}`;
    const executions = [];
    for await (const w of cp.temporal.workflow.list({ query: `WorkflowId = "${workflowId}"` })) executions.push(w);
    const rows = (await cp.api('GET', `/api/instances/${id}/upgrades`)).body;
    console.log(`[load] 50 concurrent upgrade requests: ${JSON.stringify(byStatus)} in ${ms} ms; workflows ${executions.length}; upgrade rows ${rows.length}`);

    expect(byStatus).toEqual({ 202: 1, 409: 49 });
    const refused = answers.find((a) => a.status === 409)!;
    expect(refused.body.error).toMatch(new RegExp(`already running \\(workflow ${workflowId}\\)`));
    expect(executions).toHaveLength(1);
    expect(rows).toHaveLength(1);
    const winner = answers.find((a) => a.status === 202)!;
    expect(rows[0].id).toBe(winner.body.upgradeId);
    await cp.temporal.workflow.getHandle(workflowId).terminate('load test over');
  });

  it('answers 200 concurrent release previews across 20 instances, consistently, and writes nothing', async () => {
    const compose = await detectComposeVariant();
    const instances: { id: string; dir: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const slug = uniqueName('prev');
      const dir = path.join(work, slug);
      await mkdir(path.join(dir, 'mkdocs'), { recursive: true });
      await writeFile(path.join(dir, 'mkdocs/index.md'), `# ${slug}\n`);
      await writeFile(path.join(dir, '.env'), `POSTGRES_PASSWORD=pw-${i}\nAPI_SECRET=s-${i}\nTENANT_OWN=${i}\n`);
      const driver = createTenantDriver({ compose }, { projectName: slug, dir });
      const { rendered } = await renderRelease(createPlanner(defaults, path.join(FIXTURES, 'n')), driver, { slug, name: slug, composeProjectName: slug, isRegistered: false }, '1.0.0');
      await driver.writeFiles(rendered.map((f) => f.path), rendered);
      const created = await cp.api('POST', '/api/instances', { slug, name: slug, composeDir: dir, imageTag: '1.0.0' });
      expect(created.status).toBe(201);
      instances.push({ id: created.body.id, dir });
    }
    const before = await Promise.all(instances.map(async (i) => ({ sums: await treeChecksums(i.dir), mtime: (await stat(i.dir)).mtimeMs })));

    const latencies: number[] = [];
    const t0 = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, n) => {
        const inst = instances[n % 20]!;
        const t = Date.now();
        const res = await cp.api('POST', `/api/instances/${inst.id}/upgrade-release/preview`, { imageTag: '1.1.0' });
        latencies.push(Date.now() - t);
        return { inst, res };
      }),
    );
    const total = Date.now() - t0;
    latencies.sort((a, b) => a - b);
    const statuses = answers.reduce<Record<number, number>>((m, a) => ({ ...m, [a.res.status]: (m[a.res.status] ?? 0) + 1 }), {});
    console.log(
      `[load] 200 concurrent previews over 20 instances: ${JSON.stringify(statuses)} in ${total} ms; latency p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms, max ${latencies.at(-1)} ms`,
    );

    expect(statuses).toEqual({ 200: 200 });
    // The same instance previewed ten times at once gets the same plan every time.
    for (const inst of instances) {
      const hashes = new Set(answers.filter((a) => a.inst === inst).map((a) => a.res.body.planHash));
      expect(hashes.size).toBe(1);
    }
    const after = await Promise.all(instances.map(async (i) => ({ sums: await treeChecksums(i.dir), mtime: (await stat(i.dir)).mtimeMs })));
    expect(after).toEqual(before);
  });

  it('holds 1,000 invite-code guesses from one address at the limiter after 10, and none succeeds', async () => {
    const slug = uniqueName('brute');
    const invite = await cp.api('POST', '/api/agents/invites', { expiresInMinutes: 30, slug });
    expect(invite.status).toBe(201);
    // A valid CSR, so every guess reaches the invite-code check.
    const csr = await createCsr(slug, await generateKeyPair());
    const guess = () =>
      cp.anon('POST', '/api/agents/register', {
        inviteCode: randomBytes(18).toString('base64url'),
        slug,
        csr,
        agentUrl: 'https://127.0.0.1:7443',
        composeDir: '/srv/brute',
      });
    const answers = [];
    const t0 = Date.now();
    // 50 connections at a time, 1,000 in all.
    for (let i = 0; i < 1000; i += 50) answers.push(...(await Promise.all(Array.from({ length: 50 }, guess))));
    const ms = Date.now() - t0;
    const statuses = answers.reduce<Record<number, number>>((m, a) => ({ ...m, [a.status]: (m[a.status] ?? 0) + 1 }), {});
    console.log(`[load] 1000 invite-code guesses from one address: ${JSON.stringify(statuses)} in ${ms} ms`);

    expect(statuses).toEqual({ 403: 10, 429: 990 });
    const limited = answers.find((a) => a.status === 429)!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await cp.api('GET', '/api/agents/registrations')).body).toEqual([]);
    const invites = (await cp.api('GET', '/api/agents/invites')).body;
    expect(invites.find((i: { id: string }) => i.id === invite.body.id).state).toBe('unused');
  });
});
