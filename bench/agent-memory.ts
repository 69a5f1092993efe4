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
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { startControlPlane, type ControlPlane } from '../api/control-plane.js';
import { createTestDatabase, createTestOperator } from '../test/support.js';
import { createPlanner } from '../worker/planner.js';
import { REPO_ROOT } from '../platform/temporal-server.js';
import type { BenchResult, Measurement } from './harness.js';
import { timeUpgrade, type TimedUpgrade } from './overhead.js';
import { apiClient, memoryOf, MiB, sampleRss, spawnNode, startOwnTemporal, type Api } from './processes.js';
import { buildReleaseStack, createStackTenant, ensureDockerAndRegistry, FIXTURES, type ComposeCall, type ReleaseStack } from './real-tenant.js';

const execFileP = promisify(execFile);
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
      // No drift schedule: a fleet check must not run in the middle of a measurement.
      driftIntervalMs: null,
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

    // The bundle is what a tenant host runs; tsx is the development form (`npm run agent`), measured for comparison.
    await execFileP('npm', ['run', '--silent', 'build:agent'], { cwd: REPO_ROOT });
    const forms: AgentForm[] = [
      { name: 'bundle', label: 'node dist/agent.mjs (the shipped bundle)', script: 'dist/agent.mjs' },
      { name: 'tsx', label: 'node --import tsx agent/main.ts (npm run agent)', script: 'agent/main.ts' },
    ];
    const measured: Record<string, FormMeasurement> = {};
    for (const form of forms) {
      measured[form.name] = await measureForm(form, { cp, api, stack, work, from: tags[0]!, to: [tags[1]!, tags[2]!] }, cleanups);
    }
    const shipped = measured.bundle!;
    return {
      name: 'agent-memory',
      title: 'The agent process: resident memory idle and during upgrades of a real tenant',
      params: { forms: Object.fromEntries(forms.map((f) => [f.name, f.label])), node: process.version, sampleEveryMs: 50, targetMiB: AGENT_RSS_TARGET_MIB },
      measurements: forms.flatMap((f) => [
        single(`${f.name}: Release Upgrade through the agent: wall time`, measured[f.name]!.upgrades.release!.wallMs),
        single(`${f.name}: Quick Upgrade through the agent: wall time`, measured[f.name]!.upgrades.quick!.wallMs),
      ]),
      ratios: [
        { label: `shipped agent peak RSS / ${AGENT_RSS_TARGET_MIB} MiB target`, value: shipped.peak / (AGENT_RSS_TARGET_MIB * 1024 * 1024) },
        { label: 'shipped agent peak RSS / under tsx', value: shipped.peak / measured.tsx!.peak },
      ],
      details: {
        forms: Object.fromEntries(forms.map((f) => [f.name, { label: f.label, rssMiB: measured[f.name]!.rssMiB, upgrades: measured[f.name]!.upgrades }])),
        targetMet: shipped.peak < AGENT_RSS_TARGET_MIB * 1024 * 1024,
      },
      notes: [
        "RSS of the agent process alone: compose runs as child processes (docker-compose / docker compose) whose memory is not the agent's.",
        'The target is judged on the shipped form: `npm run build:agent` bundles the agent into one file (dist/agent.mjs) that a tenant host runs with node 20, no node_modules. Under tsx the loader and its transpile cache add to the figure.',
        'The agent talks to the Docker engine over its socket with node:http (tenant/engine.ts) and makes its key and certificate request with node:crypto (core/agent-keys.ts); it loads neither a Docker client library nor an X.509 library.',
        'Wall times include the control plane calling the agent over mTLS (connections kept alive per approved certificate, 4 s idle); compose runs on the agent side, so it is not split out here (bench/overhead.ts does that for the in-process driver).',
      ],
    };
  } finally {
    for (const c of cleanups) await c().catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}

interface AgentForm {
  name: string;
  label: string;
  script: string;
}

interface FormMeasurement {
  peak: number;
  rssMiB: Record<string, number>;
  upgrades: Record<string, { wallMs: number; verifyMs: number; steps: unknown }>;
}

/** One agent process in the given form: registered, approved, idle, then a Release and a Quick Upgrade of its own tenant. */
async function measureForm(
  form: AgentForm,
  ctx: { cp: ControlPlane; api: Api; stack: ReleaseStack; work: string; from: string; to: [string, string] },
  cleanups: (() => Promise<unknown>)[],
): Promise<FormMeasurement> {
  const { api, work } = ctx;
  const tenant = await createStackTenant(ctx.stack, `agentmem-${form.name}-${process.pid}`, ctx.from, work);
  cleanups.unshift(() => tenant.down());
  const invite = await api('POST', '/api/agents/invites', { slug: tenant.slug });
  const agent = spawnNode(form.script, [
    '--ccp-url', ctx.cp.url,
    '--insecure-http',
    '--invite-code', invite.body.code,
    '--slug', tenant.slug,
    '--dir', tenant.dir,
    '--listen', '127.0.0.1:0',
    '--state-dir', path.join(work, `agent-state-${form.name}`),
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

  // Idle: approved and serving, nothing asked of it yet.
  await new Promise((r) => setTimeout(r, 3_000));
  const idleFresh = memoryOf(agent.pid)!;
  const idle = sampleRss(agent.pid, 50);
  await new Promise((r) => setTimeout(r, 3_000));
  const idleStats = idle.stop();

  const calls: ComposeCall[] = [];
  const during: Record<string, { maxSampled: number; median: number; hwm: number; upgrade: TimedUpgrade }> = {};
  for (const [kind, tag] of [['release', ctx.to[0]], ['quick', ctx.to[1]]] as const) {
    const s = sampleRss(agent.pid, 50);
    const u = await timeUpgrade(ctx.cp, api, calls, kind, instanceId, tag);
    const m = s.stop();
    during[kind] = { maxSampled: m.maxSampled, median: m.median, hwm: m.peakHwm, upgrade: u };
    log(`${form.name}: ${kind} → ${tag} through the agent: wall ${u.wallMs.toFixed(0)} ms; agent RSS max ${MiB(m.maxSampled)} MiB`);
  }
  await new Promise((r) => setTimeout(r, 3_000));
  const after = memoryOf(agent.pid)!;
  await agent.stop();
  const peak = Math.max(after.hwm, ...Object.values(during).map((d) => d.hwm));
  return {
    peak,
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
    upgrades: Object.fromEntries(Object.entries(during).map(([k, d]) => [k, { wallMs: d.upgrade.wallMs, verifyMs: d.upgrade.verifyMs, steps: d.upgrade.steps }])),
  };
}

export function formatAgentMemory(r: BenchResult): string {
  const d = r.details as any;
  const forms = Object.entries(d.forms) as [string, any][];
  const row = (label: string, pick: (m: any) => string) => `| ${label} | ${forms.map(([, f]) => pick(f.rssMiB)).join(' | ')} |`;
  return [
    `| agent RSS, MiB | ${forms.map(([, f]) => f.label).join(' | ')} |`,
    `|---|${forms.map(() => '---:').join('|')}|`,
    row('idle, approved and serving (median over 3 s)', (m) => m.idleMedian),
    row('during a Release Upgrade (max / median)', (m) => `${m.duringReleaseUpgradeMax} / ${m.duringReleaseUpgradeMedian}`),
    row('during a Quick Upgrade (max / median)', (m) => `${m.duringQuickUpgradeMax} / ${m.duringQuickUpgradeMedian}`),
    row('peak (VmHWM)', (m) => `${m.peakVmHWM}`),
    '',
    `Target: under ${r.params.targetMiB} MiB for the shipped agent: **${d.targetMet ? 'met' : 'NOT met'}** (peak ${((r.ratios[0]!.value) * 100).toFixed(0)} % of it; ${r.ratios[1]!.value.toFixed(2)}× the tsx form's peak).`,
    '',
    '| upgrade through the agent | wall ms | verify ms |',
    '|---|---:|---:|',
    ...forms.flatMap(([name, f]) => Object.entries(f.upgrades).map(([k, u]: [string, any]) => `| ${name}: ${k} | ${u.wallMs.toFixed(0)} | ${u.verifyMs} |`)),
    '',
    ...r.notes.map((n) => `- ${n}`),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchAgentMemory();
  console.log(formatAgentMemory(r));
}
