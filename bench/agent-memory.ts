/**
 * The agent's memory on a real tenant: the real agent process
 * (`agent/main.ts`, run as `node --import tsx agent/main.ts …`, which is what
 * `npm run agent` runs under npm) serving one Docker Compose tenant over
 * mTLS: registered with an invite code, approved through the API, then idle,
 * then during a Release Upgrade and a Quick Upgrade of its tenant driven by
 * the real control plane (its own Temporal dev server, a fresh database).
 *
 * RSS is sampled from /proc every 50 ms; VmHWM (the kernel's peak) covers
 * what sampling misses. The same upgrades' wall times through the agent are
 * reported too (compare with bench/overhead.ts, where the control plane runs
 * compose itself).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startControlPlane } from '../api/control-plane.js';
import { createTestDatabase, createTestOperator } from '../test/support.js';
import { createPlanner } from '../worker/planner.js';
import type { BenchResult, Measurement } from './harness.js';
import { timeUpgrade, type TimedUpgrade } from './overhead.js';
import { apiClient, memoryOf, MiB, sampleRss, spawnNode, startOwnTemporal } from './processes.js';
import { buildReleaseStack, createReleaseTenant, ensureDockerAndRegistry, FIXTURES, type ComposeCall } from './real-tenant.js';

const log = (m: string) => process.stderr.write(`  agent-memory: ${m}\n`);
export const AGENT_RSS_TARGET_MIB = 80;

function single(label: string, ms: number): Measurement {
  return { label, reps: 1, warmup: 0, medianMs: ms, p95Ms: ms, minMs: ms, maxMs: ms, heapDeltaBytes: 0, rssDeltaBytes: 0 };
}

export async function benchAgentMemory(): Promise<BenchResult> {
  await ensureDockerAndRegistry();
  const tags = ['1.0.0', '1.1.0', '1.2.0'];
  const work = await mkdtemp(path.join(os.tmpdir(), 'drydock-bench-agent-'));
  const cleanups: (() => Promise<unknown>)[] = [() => rm(work, { recursive: true, force: true })];
  try {
    log(`building the test stack's images for ${tags.join(', ')}`);
    const stack = await buildReleaseStack('agent', tags);
    const temporal = await startOwnTemporal(path.join(work, 'temporal'));
    cleanups.unshift(() => temporal.stop());
    const database = await createTestDatabase();
    cleanups.unshift(() => database.drop());
    const cp = await startControlPlane({
      databaseUrl: database.url,
      temporalAddress: temporal.address,
      dataDir: path.join(work, 'cp'),
      caDir: path.join(work, 'cp', 'ca'),
      port: 0,
      taskQueue: 'agent-bench',
      planner: createPlanner(stack.defaults, path.join(FIXTURES, 'n1')),
      verifyPollMs: 100,
      firstOperator: null,
      log: () => {},
    });
    cleanups.unshift(() => cp.close());
    const api = apiClient(cp.url, (await createTestOperator(cp)).token);

    const tenant = await createReleaseTenant(stack, `agentmem-${process.pid}`, tags[0]!, work);
    cleanups.unshift(() => tenant.down());
    const invite = await api('POST', '/api/agents/invites', { slug: tenant.slug });
    const agent = spawnNode('agent/main.ts', [
      '--ccp-url', cp.url,
      '--invite-code', invite.body.code,
      '--slug', tenant.slug,
      '--dir', tenant.dir,
      '--listen', '127.0.0.1:0',
      '--state-dir', path.join(work, 'agent-state'),
      '--ca-fingerprint', invite.body.caFingerprint256,
      '--poll-ms', '200',
      '--backoff-ms', '200,500,1000',
    ]);
    cleanups.unshift(() => agent.stop());
    const registrationId = (await agent.waitForLine(/registered \(registration ([0-9a-f-]{36})\)/))[1]!;
    const approved = await api('POST', `/api/agents/registrations/${registrationId}/approve`, {});
    if (approved.status !== 200) throw new Error(`approve: HTTP ${approved.status} ${JSON.stringify(approved.body)}`);
    const instanceId = approved.body.instance.id as string;
    await agent.waitForLine(/approved; serving/);

    // Idle: approved and serving, nothing asked of it yet; then after a first call, warm.
    await new Promise((r) => setTimeout(r, 3_000));
    const idleFresh = memoryOf(agent.pid)!;
    const idle = sampleRss(agent.pid, 50);
    await new Promise((r) => setTimeout(r, 3_000));
    const idleStats = idle.stop();

    const calls: ComposeCall[] = [];
    const during: Record<string, { maxSampled: number; median: number; hwm: number; upgrade: TimedUpgrade }> = {};
    for (const [kind, tag] of [['release', tags[1]!], ['quick', tags[2]!]] as const) {
      const s = sampleRss(agent.pid, 50);
      const u = await timeUpgrade(cp, api, calls, kind, instanceId, tag);
      const m = s.stop();
      during[kind] = { maxSampled: m.maxSampled, median: m.median, hwm: m.peakHwm, upgrade: u };
      log(`${kind} → ${tag} through the agent: wall ${u.wallMs.toFixed(0)} ms; agent RSS max ${MiB(m.maxSampled)} MiB`);
    }
    await new Promise((r) => setTimeout(r, 3_000));
    const after = memoryOf(agent.pid)!;

    const peak = Math.max(after.hwm, ...Object.values(during).map((d) => d.hwm));
    return {
      name: 'agent-memory',
      title: 'The agent process: resident memory idle and during upgrades of a real tenant',
      params: { agent: 'node --import tsx agent/main.ts (one tenant)', node: process.version, sampleEveryMs: 50, targetMiB: AGENT_RSS_TARGET_MIB },
      measurements: [
        single('Release Upgrade through the agent: wall time', during.release!.upgrade.wallMs),
        single('Quick Upgrade through the agent: wall time', during.quick!.upgrade.wallMs),
      ],
      ratios: [{ label: `agent peak RSS / ${AGENT_RSS_TARGET_MIB} MiB target`, value: peak / (AGENT_RSS_TARGET_MIB * 1024 * 1024) }],
      details: {
        rssMiB: {
          idleAfterApproval: MiB(idleFresh.rss),
          idleMedian: MiB(idleStats.median),
          duringReleaseUpgradeMax: MiB(during.release!.maxSampled),
          duringReleaseUpgradeMedian: MiB(during.release!.median),
          duringQuickUpgradeMax: MiB(during.quick!.maxSampled),
          duringQuickUpgradeMedian: MiB(during.quick!.median),
          afterUpgrades: MiB(after.rss),
          peakVmHWM: MiB(peak),
        },
        upgradesThroughAgent: Object.fromEntries(Object.entries(during).map(([k, d]) => [k, { wallMs: d.upgrade.wallMs, verifyMs: d.upgrade.verifyMs, steps: d.upgrade.steps }])),
        targetMet: peak < AGENT_RSS_TARGET_MIB * 1024 * 1024,
      },
      notes: [
        'RSS of the agent process alone: compose runs as child processes (docker-compose / docker compose) whose memory is not the agent\'s.',
        'The agent runs TypeScript through tsx (as `npm run agent` does): the loader and its transpile cache are part of the figure.',
        'Wall times here include the control plane calling the agent over mTLS (connections kept alive per approved certificate, 4 s idle); compose runs on the agent side, so it is not split out here (bench/overhead.ts does that for the in-process driver).',
      ],
    };
  } finally {
    for (const c of cleanups) await c().catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}

export function formatAgentMemory(r: BenchResult): string {
  const d = r.details as any;
  const m = d.rssMiB;
  return [
    '| agent RSS | MiB |',
    '|---|---:|',
    `| idle, approved and serving (median over 3 s) | ${m.idleMedian} |`,
    `| during a Release Upgrade (max / median) | ${m.duringReleaseUpgradeMax} / ${m.duringReleaseUpgradeMedian} |`,
    `| during a Quick Upgrade (max / median) | ${m.duringQuickUpgradeMax} / ${m.duringQuickUpgradeMedian} |`,
    `| peak (VmHWM) | ${m.peakVmHWM} |`,
    `| target | < ${r.params.targetMiB} (${d.targetMet ? 'met' : 'NOT met'}) |`,
    '',
    '| upgrade through the agent | wall ms | verify ms |',
    '|---|---:|---:|',
    ...Object.entries(d.upgradesThroughAgent).map(([k, u]: [string, any]) => `| ${k} | ${u.wallMs.toFixed(0)} | ${u.verifyMs} |`),
    '',
    ...r.notes.map((n) => `- ${n}`),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchAgentMemory();
  console.log(formatAgentMemory(r));
}
