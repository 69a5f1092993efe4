/**
 * Correctness of what bench/preview.ts times, cheaply; no timings here (speed
 * is measured by `npm run bench`, not asserted by unit tests). The generated
 * tenant is deterministic and of the advertised size, and the diffs being
 * timed are real diffs: diffFile's output patches the old content into the
 * new, and GNU `diff -u` changes as many lines.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyPatch } from 'diff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffFile } from '../core/file-diff.js';
import { loadBundleDir, TEMPLATES_DIR } from '../templates/load.js';
import { computePreview, gnuDiff, PREVIEW_DIFF_OPTIONS, writePairs, type PairFiles } from './preview.js';
import { DEFAULT_SEED, FILE_COUNT, generateTenant, pairsDigest, TARGET_TOTAL_BYTES, utf8Bytes, type FilePair } from './preview-data.js';

const tenant = generateTenant();

/** Lines a unified diff adds and removes, its two header lines left out. */
function changedLines(unified: string): { added: number; removed: number } {
  const body = unified.split('\n').slice(2);
  return { added: body.filter((l) => l.startsWith('+')).length, removed: body.filter((l) => l.startsWith('-')).length };
}

describe('the preview benchmark tenant', () => {
  it('is the same for the same seed, and different for another', () => {
    const digest = pairsDigest(tenant);
    expect(pairsDigest(generateTenant(DEFAULT_SEED))).toBe(digest);
    expect(pairsDigest(generateTenant(DEFAULT_SEED + 1))).not.toBe(digest);
  });

  it('has 50 files, about 2 MiB, in the advertised mix', () => {
    expect(tenant.pairs).toHaveLength(FILE_COUNT);
    expect(new Set(tenant.pairs.map((p) => p.path)).size).toBe(FILE_COUNT);
    const total = tenant.pairs.reduce((s, p) => s + utf8Bytes(p.next), 0);
    expect(total).toBeGreaterThanOrEqual(TARGET_TOTAL_BYTES * 0.9);
    expect(total).toBeLessThanOrEqual(TARGET_TOTAL_BYTES * 1.1);
    const count = (kind: FilePair['kind']) => tenant.pairs.filter((p) => p.kind === kind);
    expect([count('unchanged').length, count('modified').length, count('heavy').length, count('created').length]).toEqual([10, 30, 5, 5]);
    for (const p of count('unchanged')) expect(p.current).toBe(p.next);
    for (const p of count('created')) expect(p.current).toBeUndefined();
    for (const p of [...count('modified'), ...count('heavy')]) expect(p.current).not.toBe(p.next);
    expect(tenant.pairs.some((p) => p.path === tenant.composePath && p.next.includes('${'))).toBe(true);
  });
});

describe('the whole preview the benchmark times', () => {
  it('renders the default release bundle and diffs all 50 pairs', async () => {
    const preview = computePreview(await loadBundleDir(TEMPLATES_DIR), tenant);
    expect(preview.rendered.map((f) => f.path)).toContain('docker-compose.yml');
    expect(preview.rendered.find((f) => f.path === '.env')?.content).toContain('bench-postgresPassword');
    expect(preview.diffs).toHaveLength(FILE_COUNT);
    expect(preview.hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the diffs the benchmark times', () => {
  // Every modified and created file and the smallest heavy rewrite. diffFile's
  // diff is minimal; GNU diff without --minimal may not be: on this data it
  // matches on every modified and created file but adds 2-8 +/- lines on the
  // four larger heavy rewrites, so those are not sampled here.
  const heavy = tenant.pairs.filter((p) => p.kind === 'heavy').sort((a, b) => utf8Bytes(a.next) - utf8Bytes(b.next))[0]!;
  const samples: FilePair[] = [...tenant.pairs.filter((p) => p.kind === 'modified' || p.kind === 'created'), heavy];
  const hasDiff = !spawnSync('diff', ['--version']).error;
  let dir: string;
  let files: PairFiles[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'drydock-bench-test-'));
    files = await writePairs(dir, samples);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cases = samples.map((p, i) => [p.kind, p.path, i] as const);

  it.for(cases)('%s %s: diffFile output patches current into next', ([, , i]) => {
    const p = samples[i]!;
    const d = diffFile(p.path, p.current, p.next, PREVIEW_DIFF_OPTIONS);
    expect(d.truncated).toBe(false);
    expect(applyPatch(p.current ?? '', d.diff!)).toBe(p.next);
  });

  it.for(cases)('%s %s: GNU diff -u changes as many lines', async ([, , i], ctx) => {
    if (!hasDiff) {
      const reason = 'GNU diff is not installed (`diff --version` failed): the baseline cannot be checked';
      console.warn(`skipping: ${reason}`);
      ctx.skip(reason);
    }
    const p = samples[i]!;
    // The minimal diff, however long it takes: on a busy machine the default time limit could switch to the approximate one.
    const ours = changedLines(diffFile(p.path, p.current, p.next, { ...PREVIEW_DIFF_OPTIONS, timeoutMs: 120_000 }).diff!);
    const gnu = await gnuDiff(files[i]!.a, files[i]!.b);
    expect(gnu.code).toBe(1);
    expect(changedLines(gnu.stdout)).toEqual(ours);
    expect(ours.added + ours.removed).toBeGreaterThan(0);
  });

  it('heavy rewrites: diffFile patches current into next and changes no more lines than GNU diff -u', async (ctx) => {
    if (!hasDiff) ctx.skip('GNU diff is not installed (`diff --version` failed): the baseline cannot be checked');
    const rewrites = tenant.pairs.filter((p) => p.kind === 'heavy');
    const heavyFiles = await writePairs(path.join(dir, 'heavy'), rewrites);
    for (const [i, p] of rewrites.entries()) {
      // Whole (the largest is over the benchmark's 256 KiB cut) and minimal, however long it takes.
      const d = diffFile(p.path, p.current, p.next, { ...PREVIEW_DIFF_OPTIONS, maxDiffBytes: 64 * 1024 * 1024, timeoutMs: 120_000 });
      expect(d.approximate).toBeUndefined();
      expect(applyPatch(p.current!, d.diff!)).toBe(p.next);
      const ours = changedLines(d.diff!);
      const gnu = changedLines((await gnuDiff(heavyFiles[i]!.a, heavyFiles[i]!.b)).stdout);
      expect(ours.added + ours.removed).toBeLessThanOrEqual(gnu.added + gnu.removed);
      // Both turn the same file into the same file: the difference in lines added and removed is the same.
      expect(ours.added - ours.removed).toBe(gnu.added - gnu.removed);
    }
  });
});
