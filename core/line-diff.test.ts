import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuTimeMs, minimalLineDiff } from './line-diff.js';

/** Length of a longest common subsequence, by the textbook quadratic table: the reference. */
function lcsLength(a: number[], b: number[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) row[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, row[j - 1]!);
    prev = row;
  }
  return prev[b.length]!;
}

const kept = (xs: number[], changed: Uint8Array) => xs.filter((_, i) => !changed[i]);

function check(a: number[], b: number[]) {
  const ids = Math.max(0, ...a, ...b) + 1;
  const d = minimalLineDiff(Int32Array.from(a), Int32Array.from(b), ids)!;
  expect(d).toBeDefined();
  // What both sides keep is the same sequence (a common subsequence) ...
  expect(kept(a, d.a)).toEqual(kept(b, d.b));
  // ... and a longest one: the edit script is minimal.
  expect(kept(a, d.a).length).toBe(lcsLength(a, b));
}

describe('the minimal line diff', () => {
  it('keeps a longest common subsequence of any two sequences (property)', () => {
    // A small alphabet makes repeated lines, the case where a greedy or heuristic diff stops being minimal.
    const seq = fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 });
    fc.assert(fc.property(seq, seq, check), { numRuns: 2000 });
  });

  it('keeps a longest common subsequence of a sequence and an edited copy (property)', () => {
    const edit = fc.record({ at: fc.nat(), del: fc.nat({ max: 4 }), ins: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 4 }) });
    const pair = fc.tuple(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 200 }), fc.array(edit, { maxLength: 12 })).map(([a, edits]) => {
      const b = [...a];
      for (const e of edits) b.splice(e.at % (b.length + 1), e.del, ...e.ins);
      return [a, b] as const;
    });
    fc.assert(fc.property(pair, ([a, b]) => check(a, b)), { numRuns: 500 });
  });

  it('handles empty sides', () => {
    check([], []);
    check([], [1, 2]);
    check([1, 2], []);
  });

  it('gives up when the CPU-time deadline passes, instead of running on', () => {
    // Two orders of the same 20,000 lines: nothing can be left out, and D is about 40,000.
    const n = 20_000;
    const a = Int32Array.from({ length: n }, (_, i) => i);
    const b = Int32Array.from({ length: n }, (_, i) => (i * 7919) % n);
    const t0 = performance.now();
    expect(minimalLineDiff(a, b, n, cpuTimeMs() + 20)).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(2_000);
  });
});
