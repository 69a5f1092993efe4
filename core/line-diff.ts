/**
 * A minimal line diff: which lines of `a` and of `b` a shortest edit script
 * removes and adds. Lines come in as integers (equal lines, equal numbers:
 * the caller interns them), so every comparison is one integer compare.
 *
 * Myers' O(ND) algorithm in its linear-space form (the "middle snake" divide
 * and conquer, as GNU diff's diffseq.h does it, without its heuristics, so the
 * result is always minimal), after two steps that keep the result minimal and
 * make the common case cheap:
 *   - the common prefix and suffix are matched outright;
 *   - a line that does not occur at all in the other side's remaining range can
 *     never be matched, so it is marked changed and left out of the search.
 *     A common subsequence only uses lines present on both sides, so the
 *     longest one (and hence the shortest edit script) is the same with or
 *     without them; a rewritten line is then no longer part of D, the number
 *     of edits the search pays for.
 */

export interface LineChanges {
  /** 1 where the line of `a` is removed. */
  a: Uint8Array;
  /** 1 where the line of `b` is added. */
  b: Uint8Array;
}

class OutOfTime extends Error {}

/**
 * The lines a shortest edit script from `a` to `b` removes and adds; ids are
 * integers in [0, idCount). Undefined when `deadline` (a cpuTimeMs()
 * time) passes first.
 */
export function minimalLineDiff(a: Int32Array, b: Int32Array, idCount: number, deadline = Infinity): LineChanges | undefined {
  const n = a.length;
  const m = b.length;
  const changedA = new Uint8Array(n);
  const changedB = new Uint8Array(m);

  let lo = 0;
  while (lo < n && lo < m && a[lo] === b[lo]) lo++;
  let aEnd = n;
  let bEnd = m;
  while (aEnd > lo && bEnd > lo && a[aEnd - 1] === b[bEnd - 1]) {
    aEnd--;
    bEnd--;
  }

  const inA = new Uint8Array(idCount);
  const inB = new Uint8Array(idCount);
  for (let i = lo; i < aEnd; i++) inA[a[i]!] = 1;
  for (let j = lo; j < bEnd; j++) inB[b[j]!] = 1;

  const x = matchable(a, lo, aEnd, inB, changedA);
  const y = matchable(b, lo, bEnd, inA, changedB);
  const cx = new Uint8Array(x.values.length);
  const cy = new Uint8Array(y.values.length);
  try {
    const size = x.values.length + y.values.length + 3;
    compareSeq(x.values, y.values, cx, cy, new Int32Array(size), new Int32Array(size), 0, x.values.length, 0, y.values.length, deadline);
  } catch (err) {
    if (err instanceof OutOfTime) return undefined;
    throw err;
  }
  cx.forEach((c, i) => c && (changedA[x.at[i]!] = 1));
  cy.forEach((c, i) => c && (changedB[y.at[i]!] = 1));
  return { a: changedA, b: changedB };
}

/** The lines of seq[lo, end) whose id occurs on the other side, and where each came from; the others are marked changed. */
function matchable(seq: Int32Array, lo: number, end: number, inOther: Uint8Array, changed: Uint8Array): { values: Int32Array; at: Int32Array } {
  const values = new Int32Array(end - lo);
  const at = new Int32Array(end - lo);
  let n = 0;
  for (let i = lo; i < end; i++) {
    if (inOther[seq[i]!]) {
      values[n] = seq[i]!;
      at[n++] = i;
    } else changed[i] = 1;
  }
  return { values: values.subarray(0, n), at };
}

/**
 * CPU time this process has used, in milliseconds. A diff's time budget is
 * counted in it, not in wall time: the same input then gets the same answer
 * (minimal, or approximate) on a busy machine as on an idle one.
 */
export function cpuTimeMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** The clock is read every this many steps of the search. */
const CLOCK_EVERY = 1024;
let clockSteps = 0;

function checkClock(deadline: number): void {
  if (++clockSteps % CLOCK_EVERY === 0 && cpuTimeMs() > deadline) throw new OutOfTime();
}

/**
 * Marks in cx/cy a shortest edit script from X[xoff, xlim) to Y[yoff, ylim).
 * Plain functions over typed arrays and numbers, no closures or objects made
 * per call: their optimized code then survives garbage collections (which
 * would otherwise deoptimize it for "weak objects" and cost a warm-up per diff).
 * fd and bd hold the furthest-reaching x per diagonal k = x - y, forward and
 * backward, at index k + Y.length + 1.
 */
function compareSeq(
  X: Int32Array,
  Y: Int32Array,
  cx: Uint8Array,
  cy: Uint8Array,
  fd: Int32Array,
  bd: Int32Array,
  xoff: number,
  xlim: number,
  yoff: number,
  ylim: number,
  deadline: number,
): void {
  while (xoff < xlim && yoff < ylim && X[xoff] === Y[yoff]) {
    xoff++;
    yoff++;
  }
  while (xlim > xoff && ylim > yoff && X[xlim - 1] === Y[ylim - 1]) {
    xlim--;
    ylim--;
  }
  if (xoff === xlim) cy.fill(1, yoff, ylim);
  else if (yoff === ylim) cx.fill(1, xoff, xlim);
  else {
    checkClock(deadline);
    const mid = split(X, Y, fd, bd, xoff, xlim, yoff, ylim, deadline);
    const xmid = mid[0]!;
    const ymid = mid[1]!;
    compareSeq(X, Y, cx, cy, fd, bd, xoff, xmid, yoff, ymid, deadline);
    compareSeq(X, Y, cx, cy, fd, bd, xmid, xlim, ymid, ylim, deadline);
  }
}

/** Where the middle snake starts: a point on some shortest path from (xoff, yoff) to (xlim, ylim). */
function split(X: Int32Array, Y: Int32Array, fd: Int32Array, bd: Int32Array, xoff: number, xlim: number, yoff: number, ylim: number, deadline: number): number[] {
  const off = Y.length + 1;
  const dmin = xoff - ylim;
  const dmax = xlim - yoff;
  const fmid = xoff - yoff;
  const bmid = xlim - ylim;
  let fmin = fmid;
  let fmax = fmid;
  let bmin = bmid;
  let bmax = bmid;
  const odd = ((fmid - bmid) & 1) !== 0;
  fd[off + fmid] = xoff;
  bd[off + bmid] = xlim;
  for (;;) {
    checkClock(deadline);
    // One more edit forward.
    if (fmin > dmin) fd[off + --fmin - 1] = -1;
    else ++fmin;
    if (fmax < dmax) fd[off + ++fmax + 1] = -1;
    else --fmax;
    for (let d = fmax; d >= fmin; d -= 2) {
      const tlo = fd[off + d - 1]!;
      const thi = fd[off + d + 1]!;
      let x = tlo >= thi ? tlo + 1 : thi;
      let y = x - d;
      while (x < xlim && y < ylim && X[x] === Y[y]) {
        x++;
        y++;
      }
      fd[off + d] = x;
      if (odd && bmin <= d && d <= bmax && bd[off + d]! <= x) return [x, y];
    }
    // One more edit backward.
    if (bmin > dmin) bd[off + --bmin - 1] = 0x7fffffff;
    else ++bmin;
    if (bmax < dmax) bd[off + ++bmax + 1] = 0x7fffffff;
    else --bmax;
    for (let d = bmax; d >= bmin; d -= 2) {
      const tlo = bd[off + d - 1]!;
      const thi = bd[off + d + 1]!;
      let x = tlo < thi ? tlo : thi - 1;
      let y = x - d;
      while (x > xoff && y > yoff && X[x - 1] === Y[y - 1]) {
        x--;
        y--;
      }
      bd[off + d] = x;
      if (!odd && fmin <= d && d <= fmax && x <= fd[off + d]!) return [x, y];
    }
  }
}
