/**
 * Runs the benchmarks in bench/ one after the other and writes, for each,
 * bench/results/<name>.json (machine-readable: when, where, every figure) and
 * bench/results/<name>.md (a short table). `npm run bench` runs them all;
 * `npm run bench -- preview` only the named ones.
 *
 * To add a benchmark: write bench/<name>.ts exporting a function that returns
 * a BenchResult (bench/harness.ts has measure() and the result shape), and add
 * it to BENCHMARKS below. A benchmark that cannot run on this machine throws
 * BenchSkipped with the reason; the others still run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatMarkdown, type BenchResult, type Benchmark } from './harness.js';
import { benchPreview, formatPreview } from './preview.js';
import { benchAgentMemory, formatAgentMemory } from './agent-memory.js';
import { benchFleet, FLEET_SIZES, formatFleet } from './fleet.js';
import { benchOverhead, formatOverhead } from './overhead.js';
import { BenchSkipped } from './real-tenant.js';
import { benchStatus, formatStatus } from './status.js';

interface Registered extends Benchmark {
  /** The markdown body; formatMarkdown when absent. */
  format?: (r: BenchResult) => string;
}

export const BENCHMARKS: Registered[] = [
  { name: 'preview', run: benchPreview, format: formatPreview },
  // Issue 7: the system benchmarks (real control plane, Temporal, PostgreSQL; see each file's header).
  { name: 'fleet', run: () => benchFleet(), format: formatFleet },
  // The same at other sizes, so the README shows how cost grows with the fleet.
  ...FLEET_SIZES.filter((n) => n !== 1000).map((n) => ({ name: `fleet-${n}`, run: () => benchFleet(n), format: formatFleet })),
  { name: 'overhead', run: benchOverhead, format: formatOverhead },
  { name: 'agent-memory', run: benchAgentMemory, format: formatAgentMemory },
  { name: 'status', run: benchStatus, format: formatStatus },
];

const RESULTS_DIR = path.join(import.meta.dirname, 'results');

function environment() {
  const cpus = os.cpus();
  return {
    timestamp: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryBytes: os.totalmem(),
    /** 1/5/15-minute load averages when the benchmark started: other work on the machine skews timings. */
    loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

async function main() {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !BENCHMARKS.some((b) => b.name === w));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
  }
  const selected = wanted.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => wanted.includes(b.name));
  await mkdir(RESULTS_DIR, { recursive: true });
  const failed: string[] = [];
  for (const bench of selected) {
    process.stderr.write(`bench ${bench.name}…\n`);
    const env = environment();
    let result: BenchResult;
    try {
      result = await bench.run();
    } catch (err) {
      // One benchmark that cannot run (no wrk, no Docker) or fails does not stop the others.
      if (err instanceof BenchSkipped) process.stderr.write(`bench ${bench.name}: SKIPPED: ${err.message}\n`);
      else {
        process.stderr.write(`bench ${bench.name}: FAILED: ${(err as Error).stack ?? String(err)}\n`);
        failed.push(bench.name);
      }
      continue;
    }
    const json = path.join(RESULTS_DIR, `${bench.name}.json`);
    const md = path.join(RESULTS_DIR, `${bench.name}.md`);
    const loadAfter = os.loadavg().map((x) => Number(x.toFixed(2)));
    await writeFile(json, `${JSON.stringify({ ...env, loadAverageAfter: loadAfter, ...result }, null, 2)}\n`);
    const body = (bench.format ?? formatMarkdown)(result);
    await writeFile(
      md,
      `# ${result.title}\n\n${env.timestamp} · Node ${env.node} · ${env.cpuModel} (${env.cpuCount} CPUs) · ${env.platform} · ` +
        `load average ${env.loadAverage.join(' ')} before, ${loadAfter.join(' ')} after\n\n${body}\n`,
    );
    process.stderr.write(`wrote ${path.relative(process.cwd(), json)} and ${path.relative(process.cwd(), md)}\n`);
  }
  if (failed.length > 0) {
    process.stderr.write(`failed: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
}

await main();
