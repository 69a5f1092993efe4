/**
 * Issue "preview must be fast enough for an operator clicking a button".
 *
 * The release preview of a tenant with 50 managed files and ~2 MiB of content
 * (bench/preview-data.ts), computed as the API will compute it, in memory:
 *
 *   (a) the whole preview: render the real templates, diffFile every pair
 *       (maxDiffBytes 256 KiB, isEnv false), planHash, envCoverage over the
 *       compose file and the tenant's .env;
 *   (b) diffFile alone over the 50 pairs (core/line-diff.ts's minimal diff);
 *   (b0) jsdiff's createTwoFilesPatch over the same pairs, with the 200 ms
 *       budget diffFile gave it: what diffFile cost before core/line-diff.ts,
 *       measured in the same run;
 *   (c) GNU `diff -u` on the same 50 pairs written to a temp dir, one process
 *       after the other: the baseline;
 *   (c0) what 50 sequential spawns of `diff` cost with nothing to compare;
 *   and the single-file worst case, the largest heavily rewritten file:
 *   diffFile, jsdiff and GNU diff, whose own time is taken as its median
 *   less the median spawn of (c0).
 *
 * Run alone with `npx tsx bench/preview.ts`, or with the others through
 * `npm run bench`. BENCH_WARMUP and BENCH_REPS override the repetitions.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readManagedFiles } from '../tenant/files.js';
import { envCoverage } from '../core/env-file.js';
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { diffFile, type DiffOptions, type FileDiff } from '../core/file-diff.js';
import { planHash } from '../core/plan-hash.js';
import type { Bundle } from '../core/bundle.js';
import type { PlatformSettings } from '../core/render.js';
import { renderBundle } from '../core/release-render.js';
import { loadBundleDir, TEMPLATES_DIR } from '../templates/load.js';
import { formatMarkdown, measure, median, repsFromEnv, type BenchResult, type Measurement } from './harness.js';
import { generateTenant, type FilePair, type GeneratedTenant, type PairKind, utf8Bytes } from './preview-data.js';

export const PREVIEW_DIFF_OPTIONS: DiffOptions = { maxDiffBytes: 256 * 1024, isEnv: false };

/** Where the benchmark wrote one pair for GNU diff: `a` is /dev/null for a created file. */
export interface PairFiles {
  a: string;
  b: string;
}

export interface GnuDiffOutput {
  /** 0: same, 1: different. */
  code: 0 | 1;
  stdout: string;
}

/** `diff -u a b`; exit status 1 means "the files differ", 2 or more is a failure. */
export function gnuDiff(a: string, b: string): Promise<GnuDiffOutput> {
  return new Promise((resolve, reject) => {
    execFile('diff', ['-u', a, b], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout });
      if ((err as { code?: unknown }).code === 1) return resolve({ code: 1, stdout });
      reject(new Error(`diff -u ${a} ${b} failed: ${stderr || err.message}`));
    });
  });
}

/** Writes every pair under dir/a and dir/b, keeping the managed paths. */
export async function writePairs(dir: string, pairs: FilePair[]): Promise<PairFiles[]> {
  const out: PairFiles[] = [];
  for (const p of pairs) {
    const b = path.join(dir, 'b', p.path);
    await mkdir(path.dirname(b), { recursive: true });
    await writeFile(b, p.next);
    let a = '/dev/null';
    if (p.current !== undefined) {
      a = path.join(dir, 'a', p.path);
      await mkdir(path.dirname(a), { recursive: true });
      await writeFile(a, p.current);
    }
    out.push({ a, b });
  }
  return out;
}

// Fixed, fake values: only the cost of rendering matters here.
const PLATFORM: PlatformSettings = {
  imageTag: '2.5.0',
  registry: 'registry.example.com',
  imagePrefix: 'drydock/app',
  baseDomain: 'tenants.example.com',
};

/** (a): everything the API computes for one preview once the current files are in memory. */
export function computePreview(bundle: Bundle, tenant: GeneratedTenant) {
  // The default bundle as the render activity renders it: values checked against its schema, secrets opened.
  const { rendered } = renderBundle(bundle, { slug: 'acme', name: 'Acme Corp', imageTag: null, composeProjectName: 'acme' }, PLATFORM, {
    values: {},
    secrets: Object.fromEntries(bundle.secretKeys.map((k) => [k, `bench-${k}`])),
  });
  const current: Record<string, string | undefined> = {};
  for (const p of tenant.pairs) current[p.path] = p.current;
  const diffs = tenant.pairs.map((p) => diffFile(p.path, p.current, p.next, PREVIEW_DIFF_OPTIONS));
  const hash = planHash(
    tenant.pairs.map((p) => ({ path: p.path, content: p.next })),
    current,
  );
  const compose = tenant.pairs.find((p) => p.path === tenant.composePath)!.next;
  const coverage = envCoverage(compose, tenant.tenantEnv);
  return { rendered, diffs, hash, coverage };
}

/** (b): diffFile over every pair; returns each file's time in ms. */
function diffFileAll(pairs: FilePair[], out: FileDiff[] = []): number[] {
  return pairs.map((p, i) => {
    const t0 = performance.now();
    out[i] = diffFile(p.path, p.current, p.next, PREVIEW_DIFF_OPTIONS);
    return performance.now() - t0;
  });
}

/** (b0): what diffFile ran before core/line-diff.ts: jsdiff, 3 lines of context, a 200 ms budget (undefined when out of time). */
function jsdiff(p: FilePair): string | undefined {
  if (p.current === p.next) return undefined;
  return createTwoFilesPatch(p.current === undefined ? '/dev/null' : `a/${p.path}`, `b/${p.path}`, p.current ?? '', p.next, undefined, undefined, {
    context: 3,
    headerOptions: FILE_HEADERS_ONLY,
    timeout: 200,
  });
}

/** (c): `diff -u` on every pair, sequentially; returns each file's time in ms. */
async function gnuAll(files: PairFiles[]): Promise<number[]> {
  const times: number[] = [];
  for (const f of files) {
    const t0 = performance.now();
    await gnuDiff(f.a, f.b);
    times.push(performance.now() - t0);
  }
  return times;
}

const lineCount = (s: string | undefined) => (s === undefined ? 0 : s.split('\n').length - (s.endsWith('\n') ? 1 : 0));

/** Runs the benchmark and prints its table to stdout. */
export async function benchPreview(): Promise<BenchResult> {
  const result = await runPreview();
  console.log(`\n## ${result.title}\n\n${formatPreview(result)}\n`);
  return result;
}

async function runPreview(): Promise<BenchResult> {
  // jsdiff (the before) repetitions are expensive (about a second each); the others are not.
  const slow = repsFromEnv({ warmup: 1, reps: 5 });
  const fast = repsFromEnv({ warmup: 2, reps: 20 });

  const genStart = performance.now();
  const tenant = generateTenant();
  const genMs = performance.now() - genStart;
  const { pairs } = tenant;
  const bundle = await loadBundleDir(TEMPLATES_DIR);

  const worstIndex = pairs.reduce(
    (best, p, i) => (p.kind === 'heavy' && (best < 0 || utf8Bytes(p.next) > utf8Bytes(pairs[best]!.next)) ? i : best),
    -1,
  );
  const worst = pairs[worstIndex]!;

  const dir = await mkdtemp(path.join(tmpdir(), 'drydock-bench-preview-'));
  try {
    const files = await writePairs(dir, pairs);
    const perFileOurs: number[][] = pairs.map(() => []);
    const perFileGnu: number[][] = pairs.map(() => []);
    const record = (into: number[][]) => (times: number[]) => times.forEach((t, i) => into[i]!.push(t));

    // Sanity: GNU diff agrees with the data about which files differ.
    for (let i = 0; i < pairs.length; i++) {
      const { code } = await gnuDiff(files[i]!.a, files[i]!.b);
      if (code !== (pairs[i]!.kind === 'unchanged' ? 0 : 1)) throw new Error(`diff -u exit ${code} for ${pairs[i]!.kind} ${pairs[i]!.path}`);
    }

    const measurements: Measurement[] = [];
    const log = (m: Measurement) => {
      measurements.push(m);
      process.stderr.write(`  ${m.label}: median ${m.medianMs.toFixed(1)} ms\n`);
    };
    const a = await measure('(a) whole preview in memory (render + 50× diffFile + planHash + envCoverage)', fast, () => computePreview(bundle, tenant));
    log(a);
    // (a-io): the same, the current files read from disk through the tenant driver's file reader, and the answer as JSON.
    // Under a/ in the temp dir: some generated paths start with configs/, which the reader refuses at a tenant's top level (tenant content).
    const onDisk = pairs.map((p) => `a/${p.path}`);
    const aio = await measure('(a-io) read 50 current files (tenant/files.ts readManagedFiles) + (a) + JSON of the answer', fast, async () => {
      const current = await readManagedFiles(dir, onDisk);
      const read = { ...tenant, pairs: pairs.map((p, i) => ({ ...p, current: current[onDisk[i]!] ?? undefined })) };
      return JSON.stringify(computePreview(bundle, read)).length;
    });
    log(aio);
    const readOnly = await measure('(a-read) of which: read 50 current files', fast, () => readManagedFiles(dir, onDisk));
    log(readOnly);
    const diffs: FileDiff[] = [];
    // Every repetition's approximate (out of time) diffs: a faster figure that came from giving up would not count.
    const approximate: string[] = [];
    const b = await measure('(b) diffFile: 50 files', fast, () => {
      const times = diffFileAll(pairs, diffs);
      for (const d of diffs) if (d.approximate) approximate.push(d.path);
      return times;
    }, record(perFileOurs));
    log(b);
    const jsdiffGaveUp = new Set<string>();
    const b0 = await measure('(b0) before: jsdiff (200 ms budget), 50 files', slow, () =>
      pairs.forEach((p) => {
        if (p.current !== p.next && jsdiff(p) === undefined) jsdiffGaveUp.add(p.path);
      }),
    );
    log(b0);
    const c = await measure('(c) GNU diff -u: 50 sequential processes', fast, () => gnuAll(files), record(perFileGnu));
    log(c);
    const c0 = await measure('(c0) 50 sequential spawns of diff -u /dev/null /dev/null', fast, async () => {
      for (let i = 0; i < pairs.length; i++) await gnuDiff('/dev/null', '/dev/null');
    });
    log(c0);
    const wj = await measure(`(w) worst single file, diffFile: ${worst.path}`, fast, () =>
      diffFile(worst.path, worst.current, worst.next, PREVIEW_DIFF_OPTIONS),
    );
    log(wj);
    const wj0 = await measure(`(w0) before: worst single file, jsdiff: ${worst.path}`, slow, () => jsdiff(worst));
    log(wj0);
    // GNU diff's own time: each run on the worst file paired with a spawn that compares nothing, one right after
    // the other, so both see the same load; the difference of their medians is the comparison itself.
    const spawnTimes: number[] = [];
    const wg = await measure(`(w-gnu) worst single file, GNU diff -u, then an empty diff spawn: ${worst.path}`, fast, async () => {
      await gnuDiff(files[worstIndex]!.a, files[worstIndex]!.b);
      const t0 = performance.now();
      await gnuDiff('/dev/null', '/dev/null');
      spawnTimes.push(performance.now() - t0);
    });
    log(wg);
    const spawnMs = median(spawnTimes.slice(-wg.reps).sort((x, y) => x - y));
    // The measured function ran both; its median less the spawn's is the worst file's diff plus one spawn.
    const gnuWorstWithSpawnMs = wg.medianMs - spawnMs;
    const gnuWorstOwnMs = gnuWorstWithSpawnMs - spawnMs;

    const perFile = pairs.map((p, i) => ({
      path: p.path,
      kind: p.kind,
      currentBytes: p.current === undefined ? null : utf8Bytes(p.current),
      nextBytes: utf8Bytes(p.next),
      currentLines: lineCount(p.current),
      nextLines: lineCount(p.next),
      diffFileMedianMs: median([...perFileOurs[i]!].sort((x, y) => x - y)),
      gnuMedianMs: median([...perFileGnu[i]!].sort((x, y) => x - y)),
    }));
    const kinds: PairKind[] = ['unchanged', 'modified', 'heavy', 'created'];
    const byKind = kinds.map((kind) => {
      const rows = perFile.filter((r) => r.kind === kind);
      return {
        kind,
        files: rows.length,
        nextBytes: rows.reduce((s, r) => s + r.nextBytes, 0),
        diffFileMs: rows.reduce((s, r) => s + r.diffFileMedianMs, 0),
        gnuMs: rows.reduce((s, r) => s + r.gnuMedianMs, 0),
      };
    });

    const totalNext = perFile.reduce((s, r) => s + r.nextBytes, 0);
    const totalCurrent = perFile.reduce((s, r) => s + (r.currentBytes ?? 0), 0);
    const result: BenchResult = {
      name: 'preview',
      title: 'Release preview of a 50-file, ~2 MiB tenant: diffFile vs GNU diff -u (and jsdiff, the engine before)',
      params: {
        seed: tenant.seed,
        files: pairs.length,
        mix: Object.fromEntries(kinds.map((k) => [k, pairs.filter((p) => p.kind === k).length])),
        nextBytes: totalNext,
        currentBytes: totalCurrent,
        nextLines: perFile.reduce((s, r) => s + r.nextLines, 0),
        generateMs: genMs,
        diffOptions: PREVIEW_DIFF_OPTIONS,
        worstFile: {
          path: worst.path,
          currentBytes: utf8Bytes(worst.current ?? ''),
          nextBytes: utf8Bytes(worst.next),
          currentLines: lineCount(worst.current),
          nextLines: lineCount(worst.next),
        },
        repetitions: { jsdiff: slow, others: fast },
        approximateDiffs: approximate,
        truncatedDiffs: diffs.filter((d) => d.truncated).map((d) => d.path),
        gnuWorstOwnMs,
        gnuWorstWithSpawnMs,
        gnuSpawnMs: spawnMs,
      },
      measurements,
      ratios: [
        { label: 'diffFile / GNU diff, 50 files (b/c)', value: b.medianMs / c.medianMs },
        { label: `diffFile / GNU diff's own time (spawn excluded), worst single file (${worst.path})`, value: wj.medianMs / gnuWorstOwnMs },
        { label: 'diffFile / GNU diff incl. spawn, worst single file', value: wj.medianMs / gnuWorstWithSpawnMs },
        { label: 'before / after: jsdiff / diffFile, 50 files (b0/b)', value: b0.medianMs / b.medianMs },
        { label: 'before / after: jsdiff / diffFile, worst single file (w0/w)', value: wj0.medianMs / wj.medianMs },
      ],
      details: { byKind, perFile },
      notes: [
        `Input: ${pairs.length} files, ${(totalNext / 1024 / 1024).toFixed(2)} MiB rendered (next), ${(totalCurrent / 1024 / 1024).toFixed(2)} MiB current; worst file ${worst.path}: ${lineCount(worst.current)} → ${lineCount(worst.next)} lines.`,
        `GNU diff on the worst file: ${gnuWorstWithSpawnMs.toFixed(1)} ms with its spawn, ${gnuWorstOwnMs.toFixed(1)} ms without: each (w-gnu) repetition ran it and then an empty \`diff -u /dev/null /dev/null\` (median ${spawnMs.toFixed(1)} ms), and the spawn's median is taken off.`,
        `The before (jsdiff, 200 ms budget) gave up, and diffFile showed the approximate region diff, on: ${[...jsdiffGaveUp].join(', ') || 'none'}.`,
        `Approximate (out of time) diffs over all repetitions of (b): ${approximate.length}; truncated at 256 KiB: ${diffs.filter((d) => d.truncated).length} (${diffs.filter((d) => d.truncated).map((d) => d.path).join(', ') || 'none'}).`,
        '(a) includes rendering the real templates (5 small files), which are not part of the 50 diffed pairs, and is in memory; (a-io) adds reading the current files from disk through the tenant driver\'s reader (tenant/files.ts, the local driver and the agent both use it; a remote agent adds its mTLS round trip) and the answer as JSON.',
        '(c) includes process spawn, which (c0) measures alone, and reading the files from the page cache; GNU diff output is not truncated, diffFile cuts at 256 KiB after computing the whole diff.',
        'Per-file times are medians over the repetitions of (b) and (c); "by kind" sums them.',
        'heap/RSS Δ: the largest growth over one repetition of this Node process, a full GC run before each; garbage counts, the diff child processes do not.',
      ],
    };
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** The by-kind breakdown of a preview result as a markdown table. */
export function formatByKind(r: BenchResult): string {
  const byKind = (r.details?.byKind ?? []) as { kind: string; files: number; nextBytes: number; diffFileMs: number; gnuMs: number }[];
  return [
    '| files by kind | count | KiB (next) | diffFile ms | GNU diff ms |',
    '|---|---:|---:|---:|---:|',
    ...byKind.map((k) => `| ${k.kind} | ${k.files} | ${(k.nextBytes / 1024).toFixed(0)} | ${fmt(k.diffFileMs)} | ${fmt(k.gnuMs)} |`),
  ].join('\n');
}

export function formatPreview(r: BenchResult): string {
  return [formatMarkdown(r), '', formatByKind(r), '', ...r.notes.map((n) => `- ${n}`)].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchPreview();
