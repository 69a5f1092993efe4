/**
 * Property-based: hostile file paths (traversal, absolute, NUL and control
 * characters, over-long, Unicode look-alikes, arbitrary strings) in every
 * place a path enters — the tenant file operations, a release's template
 * manifest through render and write, and requests sent straight to a real
 * agent over mutual TLS — never change anything outside the tenant's managed
 * files, and each is refused with a clear PathRejected/400 or written inside.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderRelease } from '../core/release-plan.js';
import { PathRejected, readManagedFiles, snapshotFiles, writeManagedFiles } from '../tenant/files.js';
import { DEFAULT_AGENT_MANAGED, isAllowedPath } from '../agent/guard.js';
import { createAgentServer, type AgentServer } from '../agent/server.js';
import { createTenantDriver, detectComposeVariant } from '../tenant/tenant.js';
import { checkManagedPath, isTenantContentPath } from '../core/managed-paths.js';
import { CONTROL_PLANE_CN, createCertificateAuthority, issueKeyAndCertificate } from '../core/pki.js';
import { parseManifest } from '../core/render.js';
import { createPlanner } from '../worker/planner.js';
import { releaseDefaults } from './faults/support.js';
import { callAgent } from './harness/agent-call.js';
import { anyHostilePath, changes, createSandbox, hostilePaths, SECRET, type PathFamily, type Sandbox } from './faults/hostile-paths.js';

/** Runs per property; DRYDOCK_PROPERTY_RUNS=1000 for a deeper search than CI's. */
const RUNS = Number(process.env.DRYDOCK_PROPERTY_RUNS ?? 100);
const tally: Record<string, Record<string, number>> = {};
function count(where: string, outcome: string) {
  tally[where] ??= {};
  tally[where]![outcome] = (tally[where]![outcome] ?? 0) + 1;
}

/** Removes what an accepted write created (the file, new parent directories), so every run starts alike. */
async function undo(sb: Sandbox, before: Map<string, string>, changed: string[]) {
  for (const c of [...changed].sort().reverse()) if (!before.has(c)) await rm(path.join(sb.base, c), { recursive: true, force: true });
}

/** Per-test time for a property of `runs` runs, each a few file operations or requests. */
const timeFor = (runs: number) => Math.max(120_000, runs * 400);

/** A write that was let through: it must be the one managed path, inside the tenant, not tenant content. */
function expectOnlyTheManagedFile(sb: Sandbox, p: string, changed: string[]) {
  expect(checkManagedPath(p)).toBeUndefined();
  expect(isTenantContentPath(p)).toBe(false);
  const target = path.relative(sb.base, path.join(sb.root, p));
  expect(target.startsWith(`tenant${path.sep}`)).toBe(true);
  // The file itself, plus any parent directories created for it.
  for (const c of changed) expect(`${target}/`.startsWith(c.endsWith('/') ? c : `${c}/`) || c === target).toBe(true);
}

describe('hostile paths never reach outside the tenant’s managed files', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await createSandbox();
  });
  afterAll(async () => {
    console.log(`[property] outcomes: ${JSON.stringify(tally)}`);
    await rm(sb.base, { recursive: true, force: true });
  });

  it('accepts as managed only relative, normalized paths that resolve inside the tenant and outside its content', () => {
    fc.assert(
      fc.property(anyHostilePath, ({ family, p }) => {
        const problem = checkManagedPath(p);
        count('checkManagedPath', problem ? 'refused' : 'accepted');
        if (problem) return;
        const resolved = path.posix.resolve('/tenant', p);
        expect(resolved.startsWith('/tenant/'), `${family}: ${JSON.stringify(p)}`).toBe(true);
        expect(p).not.toMatch(/[\0-\x1f\x7f\\]/);
        expect(isTenantContentPath(p)).toBe(false);
      }),
      { numRuns: RUNS * 10 },
    );
  });

  for (const family of Object.keys(hostilePaths) as PathFamily[]) {
    it(`refuses or confines paths of the ${family} family, written even when the managed list names them`, async () => {
      await fc.assert(
        fc.asyncProperty(hostilePaths[family], async (p) => {
          const before = await sb.state();
          let outcome: string;
          try {
            await writeManagedFiles(sb.root, [p], [{ path: p, content: 'pwned\n' }]);
            outcome = 'written inside';
          } catch (err) {
            expect(err, `${JSON.stringify(p)} failed with ${(err as Error).message}`).toBeInstanceOf(PathRejected);
            outcome = `refused (${(err as PathRejected).rule})`;
          }
          count(`writeManagedFiles ${family}`, outcome);
          const changed = changes(before, await sb.state());
          if (outcome === 'written inside') {
            expectOnlyTheManagedFile(sb, p, changed);
            await undo(sb, before, changed);
          } else {
            expect(changed, JSON.stringify(p)).toEqual([]);
          }
          // Reading the same path never yields what lies outside.
          const read = await readManagedFiles(sb.root, [p]).catch((e: Error) => e);
          if (!(read instanceof Error)) expect(JSON.stringify(read)).not.toContain(SECRET);
          else expect(read).toBeInstanceOf(PathRejected);
          const snap = await snapshotFiles(sb.root, [p]).catch((e: Error) => e);
          if (!(snap instanceof Error)) expect(Buffer.from(JSON.stringify(snap)).toString()).not.toContain(Buffer.from(SECRET).toString('base64').slice(0, 16));
        }),
        { numRuns: RUNS },
      );
    }, timeFor(RUNS));
  }

  it('refuses a path through the tenant lock file, which as a directory would block every later operation, and a file named __proto__', async () => {
    // Found by the agent property below: `.drydock.lock/x` used to be written, leaving a directory where the lock file goes.
    const before = await sb.state();
    for (const p of ['.drydock.lock', '.drydock.lock/x', 'nginx/.drydock-tmp-1234']) {
      await expect(writeManagedFiles(sb.root, [p], [{ path: p, content: 'x' }])).rejects.toMatchObject({ rule: 'reserved' });
    }
    // Found by the same property: a file named __proto__ vanished from the path-keyed records (a snapshot lost it).
    await expect(writeManagedFiles(sb.root, ['__proto__'], [{ path: '__proto__', content: 'x' }])).rejects.toMatchObject({ rule: 'invalid' });
    expect(() => parseManifest({ managed: [{ path: '__proto__', template: 'x.eta', kind: 'config' }] })).toThrow(/__proto__/);
    expect(changes(before, await sb.state())).toEqual([]);
  });

  it('refuses the symlinks planted in the tenant: out of it, to a file outside, and into tenant content', async () => {
    for (const p of ['drydock/escape/pwned', 'nginx/evil.conf', 'nginx/docs/index.md']) {
      const before = await sb.state();
      await expect(writeManagedFiles(sb.root, [p], [{ path: p, content: 'pwned\n' }])).rejects.toBeInstanceOf(PathRejected);
      expect(changes(before, await sb.state())).toEqual([]);
    }
  });

  it('refuses a template manifest naming a hostile path, or renders and writes it inside the tenant', async () => {
    const templates = await mkdtemp(path.join(os.tmpdir(), 'drydock-manifest-'));
    await writeFile(path.join(templates, 'x.eta'), 'written by a template\n');
    const driver = createTenantDriver({ compose: await detectComposeVariant() }, { projectName: 'paths', dir: sb.root });
    const instance = { slug: 'paths', name: 'paths', composeProjectName: 'paths', isRegistered: true };
    try {
      await fc.assert(
        fc.asyncProperty(anyHostilePath, fc.constantFrom('compose', 'config'), async ({ family, p }, kind) => {
          // parseManifest alone: a clear error naming the entry, or only safe paths.
          let entries;
          try {
            entries = parseManifest({ managed: [{ path: p, template: 'x.eta', kind }] });
          } catch (err) {
            expect((err as Error).message).toMatch(/^template manifest: managed\[0\]/);
            count(`manifest ${family}`, 'refused by parseManifest');
            return;
          }
          expect(entries.every((e) => checkManagedPath(e.path) === undefined)).toBe(true);
          // The whole release path: load, render, write through the tenant driver.
          await writeFile(path.join(templates, 'manifest.json'), JSON.stringify({ managed: [{ path: p, template: 'x.eta', kind }] }));
          const before = await sb.state();
          const rendered = await renderRelease(createPlanner(releaseDefaults('drydock-paths'), templates), driver, instance, '1.0.0').then(
            (r) => r.rendered,
            (err: Error) => err,
          );
          if (rendered instanceof Error) {
            count(`manifest ${family}`, 'refused while rendering');
            expect(changes(before, await sb.state())).toEqual([]);
            return;
          }
          const written = await driver.writeFiles(rendered.map((f) => f.path), rendered).then(
            () => 'written inside',
            (err: Error & { code?: string }) => {
              expect(err.code, err.message).toBe('path-rejected');
              return 'refused at write';
            },
          );
          count(`manifest ${family}`, written);
          const changed = changes(before, await sb.state());
          if (written === 'written inside') {
            expectOnlyTheManagedFile(sb, p, changed);
            await undo(sb, before, changed);
          } else expect(changed).toEqual([]);
        }),
        { numRuns: RUNS },
      );
    } finally {
      await rm(templates, { recursive: true, force: true });
    }
  }, timeFor(RUNS));

  describe('sent straight to a real agent over mutual TLS', () => {
    let agent: AgentServer;
    let url: string;
    let client: { cert: string; key: string; ca: string };
    const slug = 'paths-agent';

    beforeAll(async () => {
      const ca = await createCertificateAuthority('paths test CA');
      const server = await issueKeyAndCertificate(ca, { commonName: slug, dnsNames: [slug], usage: 'server' });
      const cpCert = await issueKeyAndCertificate(ca, { commonName: CONTROL_PLANE_CN, usage: 'client' });
      client = { cert: cpCert.certPem, key: cpCert.keyPem, ca: ca.certPem };
      const driver = createTenantDriver({ compose: await detectComposeVariant() }, { projectName: slug, dir: sb.root });
      agent = createAgentServer({ slug, dir: sb.root, driver, managed: DEFAULT_AGENT_MANAGED });
      agent.setCredentials({ key: server.keyPem, cert: server.certPem, ca: ca.certPem });
      const { port } = await agent.listen('127.0.0.1', 0);
      url = `https://127.0.0.1:${port}`;
    });
    afterAll(async () => {
      await agent?.close();
    });

    const call = (op: string, args: unknown) => callAgent(url, slug, op, args, client);

    /** A refused call: 4xx before it starts, or a final NDJSON line with an error. */
    function outcomeOf(res: { status: number; body: string }): string {
      expect(res.status, res.body).not.toBe(500);
      if (res.status !== 200) return `refused ${res.status} (${JSON.parse(res.body).code})`;
      const last = JSON.parse(res.body.trim().split('\n').at(-1)!);
      // agent-failed is the agent's "internal error": a path must be refused for a reason, not crash the operation.
      expect(last.error?.code, last.error?.message).not.toBe('agent-failed');
      return last.error ? `refused (${last.error.code})` : 'done';
    }

    it('refuses hostile paths in write, read, snapshot and restore requests, writes nothing outside, and keeps serving', async () => {
      await fc.assert(
        fc.asyncProperty(anyHostilePath, async ({ family, p }) => {
          const before = await sb.state();
          const allowed = checkManagedPath(p) === undefined && isAllowedPath(p, DEFAULT_AGENT_MANAGED);
          const write = outcomeOf(await call('writeFiles', [[p], [{ path: p, content: 'pwned\n' }]]));
          const restore = outcomeOf(await call('restoreFiles', [{ [p]: { content: Buffer.from('pwned\n').toString('base64'), mode: 0o644 } }]));
          const read = await call('readFiles', [[p]]);
          const snap = await call('snapshotFiles', [[p]]);
          count(`agent ${family}`, `write ${write}; restore ${restore}; read ${outcomeOf(read)}`);
          expect(read.body).not.toContain(SECRET);
          expect(snap.body).not.toContain(Buffer.from(`${SECRET}\n`).toString('base64'));
          const changed = changes(before, await sb.state());
          if (changed.length > 0) {
            expect(allowed, `${family} ${JSON.stringify(p)} was written`).toBe(true);
            expectOnlyTheManagedFile(sb, p, changed);
            await undo(sb, before, changed);
          } else {
            expect(changed, JSON.stringify(p)).toEqual([]);
          }
        }),
        { numRuns: Math.ceil(RUNS / 2) },
      );
      expect(outcomeOf(await call('ping', []))).toBe('done');
    }, timeFor(RUNS * 2));
  });
});
