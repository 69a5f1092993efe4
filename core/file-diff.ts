/**
 * Unified diffs of managed files for the release preview. The preview is shown
 * to operators and stored with the upgrade, so `.env` files are masked before
 * they are diffed: no value, nor anything computed from one, reaches the
 * output. Only the fact that a value changed does, because an operator
 * approving the plan must see that it rewrites a secret. Commented-out
 * assignments and unparsable lines are masked too; prose comments are shown
 * as written, so a secret typed into one would show.
 */
import { FILE_HEADERS_ONLY, formatPatch } from 'diff';
import { scanEnvFile, type EnvEntry } from './env-file.js';
import { cpuTimeMs, minimalLineDiff, type LineChanges } from './line-diff.js';

/** Per file: the release preview's default cut. */
export const DEFAULT_MAX_DIFF_BYTES = 64 * 1024;

export type FileDiffStatus = 'unchanged' | 'modified' | 'created';

export interface FileDiff {
  path: string;
  status: FileDiffStatus;
  /** A unified diff (`--- a/path`, `+++ b/path`); absent when unchanged. */
  diff?: string;
  /** The diff was cut at maxDiffBytes, on a line boundary. */
  truncated: boolean;
  /**
   * A minimal diff took too long (a heavily rewritten file), so this one shows
   * the whole changed region as removed and added: correct, not minimal.
   */
  approximate?: boolean;
}

export interface DiffOptions {
  /** UTF-8 bytes of diff text kept per file. */
  maxDiffBytes: number;
  /** Mask values before diffing. */
  isEnv: boolean;
  /** Give up on a minimal diff after this much CPU time (default 200 ms) and show the changed region whole. */
  timeoutMs?: number;
}

const DEFAULT_DIFF_TIMEOUT_MS = 200;

export const MASK = '********';
export const CHANGED_MARK = ' (changed)';

const COMMENTED_ASSIGNMENT = /^(\s*#\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=)/;

interface MaskedLine {
  /** Identifies "the same line" across the two versions: the n-th assignment of KEY, etc. */
  slot?: string;
  /** What the mask hides; compared across versions, never output. */
  hidden?: string;
  shown: string;
  eol: string;
}

function maskEntry(e: EnvEntry): { kind: string; hidden?: string; shown: string } {
  switch (e.kind) {
    case 'blank':
      return { kind: 'blank', shown: e.source };
    case 'assignment':
      // A multi-line value becomes one line: its line count is not shown either.
      return { kind: `=${e.key}`, hidden: e.rawValue, shown: `${e.head}${MASK}` };
    case 'comment': {
      // A commented-out assignment is usually an old value: masked like a live one.
      const m = COMMENTED_ASSIGNMENT.exec(e.source);
      if (!m) return { kind: 'comment', shown: e.source };
      return { kind: `#${m[2]}`, hidden: e.source.slice(m[1]!.length), shown: `${m[1]}${MASK}` };
    }
    case 'invalid':
      // Unparsable lines may be pieces of a broken value: hide them whole.
      return { kind: '?', hidden: e.source, shown: `${MASK} (unparsed line)` };
  }
}

function maskLines(text: string): MaskedLine[] {
  const count = new Map<string, number>();
  return scanEnvFile(text).entries.map((e) => {
    const { kind, hidden, shown } = maskEntry(e);
    if (hidden === undefined) return { shown, eol: e.eol };
    const n = count.get(kind) ?? 0;
    count.set(kind, n + 1);
    return { slot: `${kind}\0${n}`, hidden, shown, eol: e.eol };
  });
}

/**
 * Both versions of a `.env` file with every value replaced by MASK. A line
 * whose value differs from the same line's (the n-th assignment of the same
 * key) in the current version gets CHANGED_MARK on the new side, so it still
 * shows up as modified.
 */
export function maskEnvPair(current: string | undefined, next: string): { current?: string; next: string } {
  const before = current === undefined ? undefined : maskLines(current);
  const old = new Map<string, string>();
  for (const l of before ?? []) if (l.slot !== undefined) old.set(l.slot, l.hidden!);
  const after = maskLines(next).map((l) => {
    const prev = l.slot === undefined ? undefined : old.get(l.slot);
    return prev !== undefined && prev !== l.hidden ? { ...l, shown: l.shown + CHANGED_MARK } : l;
  });
  const join = (lines: MaskedLine[]) => lines.map((l) => l.shown + l.eol).join('');
  return before === undefined ? { next: join(after) } : { current: join(before), next: join(after) };
}

/** UTF-8 bytes of a string, without encoding it. */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/** How writing `next` over `current` (undefined: the file does not exist) changes a file. */
export function diffFile(path: string, current: string | undefined, next: string, opts: DiffOptions): FileDiff {
  if (!Number.isInteger(opts.maxDiffBytes) || opts.maxDiffBytes < 0) {
    throw new Error(`maxDiffBytes must be a non-negative integer, got ${opts.maxDiffBytes}`);
  }
  if (current === next) return { path, status: 'unchanged', truncated: false };
  const shown = opts.isEnv ? maskEnvPair(current, next) : { current, next };
  const a = markedLines(shown.current ?? '');
  const b = markedLines(shown.next);
  const changes = diffLines(a, b, cpuTimeMs() + (opts.timeoutMs ?? DEFAULT_DIFF_TIMEOUT_MS));
  const blocks = changes ? changeBlocks(changes) : regionBlock(a, b);
  const { text, truncated } = unified(current === undefined ? '/dev/null' : `a/${path}`, `b/${path}`, a, b, blocks, opts.maxDiffBytes);
  return {
    path,
    status: current === undefined ? 'created' : 'modified',
    diff: text,
    truncated,
    ...(changes ? {} : { approximate: true }),
  };
}

/** Lines of a text; a last line without a newline carries a mark, since it differs from the same line with one. */
const NO_EOL = '\u0000no-eol';

function markedLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] += NO_EOL;
  return lines;
}

/** A minimal line diff of a and b, or undefined when the deadline (a cpuTimeMs() time) passed first. */
function diffLines(a: string[], b: string[], deadline: number): LineChanges | undefined {
  const ids = new Map<string, number>();
  const ia = intern(a, ids);
  const ib = intern(b, ids);
  return minimalLineDiff(ia, ib, ids.size, deadline);
}

/** Each line as an integer, equal for equal lines; new lines get the next free one. */
function intern(lines: string[], ids: Map<string, number>): Int32Array {
  const out = new Int32Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    let id = ids.get(line);
    if (id === undefined) ids.set(line, (id = ids.size));
    out[i] = id;
  }
  return out;
}

/**
 * Change blocks as flat [aStart, aEnd, bStart, bEnd, ...]: each a maximal run
 * of removed lines of a and added lines of b between two unchanged lines.
 */
type Blocks = number[];

function changeBlocks(changes: LineChanges): Blocks {
  const n = changes.a.length;
  const m = changes.b.length;
  const blocks: Blocks = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if ((i < n && changes.a[i]) || (j < m && changes.b[j])) {
      const i0 = i;
      const j0 = j;
      while (i < n && changes.a[i]) i++;
      while (j < m && changes.b[j]) j++;
      blocks.push(i0, i, j0, j);
    } else {
      i++;
      j++;
    }
  }
  return blocks;
}

/** The whole changed region, from the first differing line to the last, as one block: found in linear time. */
function regionBlock(a: string[], b: string[]): Blocks {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return [head, a.length - tail, head, b.length - tail];
}

const CONTEXT = 3;

/**
 * The unified diff of the blocks, in jsdiff's format (createTwoFilesPatch with
 * FILE_HEADERS_ONLY and 3 lines of context, which the UI's diff2html reads):
 * hunks closer than 2 × 3 context lines merged, `@@ -start,count +start,count @@`,
 * removed lines before added ones in each block. Cut after the last whole line
 * that fits in maxBytes.
 */
function unified(oldName: string, newName: string, a: string[], b: string[], blocks: Blocks, maxBytes: number): { text: string; truncated: boolean } {
  const out: string[] = [];
  let bytes = 0;
  let truncated = false;
  const push = (line: string) => {
    if (truncated) return false;
    const size = utf8Length(line) + 1;
    if (bytes + size > maxBytes) return !(truncated = true);
    bytes += size;
    out.push(line);
    return true;
  };
  const emit = (prefix: string, line: string) => {
    if (!line.endsWith(NO_EOL)) return push(prefix + line);
    return push(prefix + line.slice(0, -NO_EOL.length)) && push('\\ No newline at end of file');
  };
  // jsdiff's own header lines, so names are quoted the way it quotes them.
  for (const h of formatPatch({ oldFileName: oldName, newFileName: newName, oldHeader: undefined, newHeader: undefined, hunks: [] }, FILE_HEADERS_ONLY).split('\n')) {
    if (h !== '') push(h);
  }
  const range = (start: number, len: number) => `${len === 0 ? start : start + 1},${len}`;
  for (let k = 0; k < blocks.length && !truncated; ) {
    let last = k;
    while (last + 4 < blocks.length && blocks[last + 4]! - blocks[last + 1]! <= 2 * CONTEXT) last += 4;
    const before = Math.min(CONTEXT, blocks[k]! - (k === 0 ? 0 : blocks[k - 3]!));
    const after = Math.min(CONTEXT, (last + 4 < blocks.length ? blocks[last + 4]! : a.length) - blocks[last + 1]!);
    const aStart = blocks[k]! - before;
    const bStart = blocks[k + 2]! - before;
    const aEnd = blocks[last + 1]! + after;
    const bEnd = blocks[last + 3]! + after;
    push(`@@ -${range(aStart, aEnd - aStart)} +${range(bStart, bEnd - bStart)} @@`);
    let i = aStart;
    for (let q = k; q <= last && !truncated; q += 4) {
      for (; i < blocks[q]!; i++) emit(' ', a[i]!);
      for (; i < blocks[q + 1]!; i++) emit('-', a[i]!);
      for (let j = blocks[q + 2]!; j < blocks[q + 3]!; j++) emit('+', b[j]!);
    }
    for (; i < aEnd; i++) emit(' ', a[i]!);
    k = last + 4;
  }
  return { text: out.length === 0 ? '' : `${out.join('\n')}\n`, truncated };
}

/**
 * One hunk from the first changed line to the last, with three lines of
 * context: a valid unified diff found in linear time (what diffFile shows,
 * flagged approximate, when a minimal diff takes too long).
 */
export function regionPatch(oldName: string, newName: string, oldText: string, newText: string): string {
  const a = markedLines(oldText);
  const b = markedLines(newText);
  return unified(oldName, newName, a, b, regionBlock(a, b), Infinity).text;
}
