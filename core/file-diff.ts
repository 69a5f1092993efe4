/**
 * Unified diffs of managed files for the release preview. The preview is shown
 * to operators and stored with the upgrade, so `.env` files are masked before
 * they are diffed: no value, nor anything computed from one, reaches the
 * output. Only the fact that a value changed does, because an operator
 * approving the plan must see that it rewrites a secret. Commented-out
 * assignments and unparsable lines are masked too; prose comments are shown
 * as written, so a secret typed into one would show.
 */
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { scanEnvFile, type EnvEntry } from './env-file.js';

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
  /** Give up on a minimal diff after this long (default 200 ms) and show the changed region whole. */
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

const utf8 = new TextEncoder();

/** The longest run of whole lines of `text` that fits in maxBytes. */
function cutAtLine(text: string, maxBytes: number): { text: string; truncated: boolean } {
  if (utf8.encode(text).length <= maxBytes) return { text, truncated: false };
  let kept = 0;
  let bytes = 0;
  for (const line of text.split(/(?<=\n)/)) {
    bytes += utf8.encode(line).length;
    if (bytes > maxBytes) break;
    kept += line.length;
  }
  return { text: text.slice(0, kept), truncated: true };
}

/** How writing `next` over `current` (undefined: the file does not exist) changes a file. */
export function diffFile(path: string, current: string | undefined, next: string, opts: DiffOptions): FileDiff {
  if (!Number.isInteger(opts.maxDiffBytes) || opts.maxDiffBytes < 0) {
    throw new Error(`maxDiffBytes must be a non-negative integer, got ${opts.maxDiffBytes}`);
  }
  if (current === next) return { path, status: 'unchanged', truncated: false };
  const shown = opts.isEnv ? maskEnvPair(current, next) : { current, next };
  const oldName = current === undefined ? '/dev/null' : `a/${path}`;
  const newName = `b/${path}`;
  // Myers' diff is O(N·D): on a heavily rewritten file of thousands of lines it takes seconds.
  const minimal: string | undefined = createTwoFilesPatch(oldName, newName, shown.current ?? '', shown.next, undefined, undefined, {
    context: 3,
    headerOptions: FILE_HEADERS_ONLY,
    timeout: opts.timeoutMs ?? DEFAULT_DIFF_TIMEOUT_MS,
  });
  const patch = minimal ?? regionPatch(oldName, newName, shown.current ?? '', shown.next);
  const { text, truncated } = cutAtLine(patch, opts.maxDiffBytes);
  return {
    path,
    status: current === undefined ? 'created' : 'modified',
    diff: text,
    truncated,
    ...(minimal === undefined ? { approximate: true } : {}),
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

/**
 * One hunk from the first changed line to the last, with three lines of
 * context: a valid unified diff found in linear time.
 */
export function regionPatch(oldName: string, newName: string, oldText: string, newText: string): string {
  const a = markedLines(oldText);
  const b = markedLines(newText);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const before = Math.min(3, head);
  const after = Math.min(3, tail);
  const start = head - before;
  const aEnd = a.length - tail + after;
  const bEnd = b.length - tail + after;
  const range = (len: number) => `${len === 0 ? start : start + 1},${len}`;
  const out = [`--- ${oldName}`, `+++ ${newName}`, `@@ -${range(aEnd - start)} +${range(bEnd - start)} @@`];
  const emit = (prefix: string, line: string) => {
    if (line.endsWith(NO_EOL)) out.push(prefix + line.slice(0, -NO_EOL.length), '\\ No newline at end of file');
    else out.push(prefix + line);
  };
  for (let i = start; i < head; i++) emit(' ', a[i]!);
  for (let i = head; i < a.length - tail; i++) emit('-', a[i]!);
  for (let j = head; j < b.length - tail; j++) emit('+', b[j]!);
  for (let i = a.length - tail; i < aEnd; i++) emit(' ', a[i]!);
  return `${out.join('\n')}\n`;
}
