import { describe, expect, it } from 'vitest';
import { applyPatch, createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { parse } from 'diff2html';
import fc from 'fast-check';
import { CHANGED_MARK, diffFile, maskEnvPair, MASK, regionPatch } from './file-diff.js';

const big = { maxDiffBytes: 1_000_000, isEnv: false };
const env = { maxDiffBytes: 1_000_000, isEnv: true };

describe('file diffs', () => {
  it('reports an identical file as unchanged, without a diff', () => {
    expect(diffFile('a.conf', 'x\n', 'x\n', big)).toEqual({ path: 'a.conf', status: 'unchanged', truncated: false });
  });

  it('shows a modified file as a standard unified diff', () => {
    expect(diffFile('nginx/a.conf', 'one\ntwo\nthree\n', 'one\n2\nthree\n', big)).toEqual({
      path: 'nginx/a.conf',
      status: 'modified',
      diff: '--- a/nginx/a.conf\n+++ b/nginx/a.conf\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n',
      truncated: false,
    });
  });

  it('shows a file that does not exist yet as created from /dev/null', () => {
    expect(diffFile('drydock/VERSION', undefined, '2.4.1\n', big)).toEqual({
      path: 'drydock/VERSION',
      status: 'created',
      diff: '--- /dev/null\n+++ b/drydock/VERSION\n@@ -0,0 +1,1 @@\n+2.4.1\n',
      truncated: false,
    });
  });

  it('counts an empty current file as existing', () => {
    expect(diffFile('x', '', 'a\n', big).status).toBe('modified');
  });

  it('shows a change of line endings alone as a modification', () => {
    const d = diffFile('x', 'a\r\nb\n', 'a\nb\n', big);
    expect(d.status).toBe('modified');
    expect(d.diff).toContain('-a\r\n+a\n');
  });

  it('cuts a long diff on a line boundary and says so', () => {
    const next = Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join('');
    const full = diffFile('x', undefined, next, big).diff!;
    const cut = diffFile('x', undefined, next, { maxDiffBytes: 100, isEnv: false });
    expect(cut.truncated).toBe(true);
    expect(new TextEncoder().encode(cut.diff!).length).toBeLessThanOrEqual(100);
    expect(cut.diff!.endsWith('\n')).toBe(true);
    expect(full.startsWith(cut.diff!)).toBe(true);
    expect(full.slice(cut.diff!.length).split('\n')[0]!.length + cut.diff!.length).toBeGreaterThan(99);
  });

  it('counts the limit in UTF-8 bytes, not characters', () => {
    const d = diffFile('x', undefined, 'ééééé\n', { maxDiffBytes: 30, isEnv: false });
    expect(d.diff).toBe('--- /dev/null\n+++ b/x\n');
    expect(d.truncated).toBe(true);
  });

  it('keeps a diff that fits exactly', () => {
    const full = diffFile('x', 'a\n', 'b\n', big).diff!;
    expect(diffFile('x', 'a\n', 'b\n', { maxDiffBytes: full.length, isEnv: false })).toMatchObject({ diff: full, truncated: false });
  });

  it('refuses a nonsensical limit', () => {
    expect(() => diffFile('x', 'a', 'b', { maxDiffBytes: -1, isEnv: false })).toThrow(/maxDiffBytes/);
  });
});

describe('masking .env diffs', () => {
  const secrets = ['Cert-Body-w7Yb', 'Pg-Old-7q9Zx', 'Pg-New-4k2Wy', 'Api-Old-f00Bz', 'Line2-Pq8Rs', 'Gone-h3Jx', 'Junk-m5Nv', 'Commented-k8Lz', 'Dup-First-r4Tq'];
  const current = [
    '# tenant settings',
    'COMPOSE_PROJECT_NAME=acme',
    'POSTGRES_PASSWORD=Pg-Old-7q9Zx',
    "export API_SECRET='Api-Old-f00Bz'",
    'CERT="Cert-Body-w7Yb',
    'Line2-Pq8Rs"',
    'REMOVED=Gone-h3Jx',
    '#OLD_PASSWORD=Commented-k8Lz',
    'Junk-m5Nv',
    'DUP=Dup-First-r4Tq',
    'DUP=same',
    '',
  ].join('\n');
  const next = [
    '# tenant settings',
    'COMPOSE_PROJECT_NAME=acme',
    'POSTGRES_PASSWORD=Pg-New-4k2Wy',
    "export API_SECRET='Api-Old-f00Bz'",
    'CERT="Cert-Body-w7Yb',
    'Line2-Pq8Rs"',
    'ADDED=1',
    'DUP=Dup-First-r4Tq',
    'DUP=same',
    '',
  ].join('\n');

  it('never shows a value, nor any piece of one', () => {
    const d = diffFile('.env', current, next, env);
    const created = diffFile('.env', undefined, current, env);
    for (const out of [d.diff!, created.diff!]) {
      expect(out).not.toContain('acme');
      for (const s of secrets) {
        for (let i = 0; i + 5 <= s.length; i++) expect(out).not.toContain(s.slice(i, i + 5));
      }
    }
  });

  it('shows a line whose value changed as modified, flagged on the new side', () => {
    const d = diffFile('.env', current, next, env);
    expect(d.status).toBe('modified');
    expect(d.diff).toContain(`-POSTGRES_PASSWORD=${MASK}\n+POSTGRES_PASSWORD=${MASK}${CHANGED_MARK}\n`);
  });

  it('shows added and removed keys without values', () => {
    const d = diffFile('.env', current, next, env).diff!;
    expect(d).toContain(`+ADDED=${MASK}\n`);
    expect(d).toContain(`-REMOVED=${MASK}\n`);
    expect(d).toContain(`-#OLD_PASSWORD=${MASK}\n`);
    expect(d).toContain(`-${MASK} (unparsed line)\n`);
  });

  it('leaves lines with unchanged values unflagged, and prose comments as they are', () => {
    const masked = maskEnvPair(current, next).next;
    expect(masked).toBe(
      [
        '# tenant settings',
        `COMPOSE_PROJECT_NAME=${MASK}`,
        `POSTGRES_PASSWORD=${MASK}${CHANGED_MARK}`,
        `export API_SECRET=${MASK}`,
        `CERT=${MASK}`,
        `ADDED=${MASK}`,
        `DUP=${MASK}`,
        `DUP=${MASK}`,
        '',
      ].join('\n'),
    );
  });

  it('flags a change in how a value is written, since the file changes', () => {
    expect(maskEnvPair('A=x\n', 'A="x"\n').next).toBe(`A=${MASK}${CHANGED_MARK}\n`);
  });

  it('flags a changed value among duplicates by its position', () => {
    expect(maskEnvPair('A=1\nA=2\n', 'A=1\nA=3\n').next).toBe(`A=${MASK}\nA=${MASK}${CHANGED_MARK}\n`);
  });

  it('shows a change in a multi-line value as one flagged line', () => {
    const d = diffFile('.env', 'K="a\nb"\n', 'K="a\nc"\n', env);
    expect(d.diff).toBe(`--- a/.env\n+++ b/.env\n@@ -1,1 +1,1 @@\n-K=${MASK}\n+K=${MASK}${CHANGED_MARK}\n`);
  });

  it('does not mask files that are not .env files', () => {
    expect(diffFile('x.conf', 'A=1\n', 'A=2\n', big).diff).toContain('+A=2\n');
  });
});

describe('the fallback diff for heavily rewritten files', () => {
  const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => (i % 3 === 0 ? `${tag} line ${i}` : `same ${i}`)).join('\n') + '\n';
  /** The same n lines in a scrambled order: every line matches somewhere, so none is left out of the search, and D is about 2n. */
  const shuffled = (n: number, step: number) => Array.from({ length: n }, (_, i) => `line ${(i * step) % n}`).join('\n') + '\n';

  it('answers quickly with an approximate diff that still applies', () => {
    const before = shuffled(8000, 1);
    const after = shuffled(8000, 7919);
    const t0 = Date.now();
    const d = diffFile('big.conf', before, after, { maxDiffBytes: 10_000_000, isEnv: false, timeoutMs: 50 });
    expect(d.approximate).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(applyPatch(before, d.diff!)).toBe(after);
  });

  it('gives a rewrite of every third line an exact diff, since rewritten lines are left out of the search', () => {
    const before = lines(8000, 'old');
    const after = lines(8000, 'new');
    const d = diffFile('big.conf', before, after, { maxDiffBytes: 10_000_000, isEnv: false, timeoutMs: 10_000 });
    expect(d.approximate).toBeUndefined();
    expect(applyPatch(before, d.diff!)).toBe(after);
    const body = d.diff!.split('\n').slice(2);
    expect([body.filter((l) => l.startsWith('-')).length, body.filter((l) => l.startsWith('+')).length]).toEqual([2667, 2667]);
  });

  it.each([
    ['a\nb\nc\n', 'a\nx\nc\n'],
    ['a\nb\nc', 'a\nb\nc\n'],
    ['a\nb\nc\n', 'a\nb\nc'],
    ['', 'new\nfile\n'],
    ['one\n', ''],
    ['1\n2\n3\n4\n5\n6\n7\n8\n9\n', '1\n2\n3\n4\nfive\n6\n7\n8\n9\n'],
  ])('gives a patch that turns %j into %j', (before, after) => {
    const patch = regionPatch('a/f', 'b/f', before, after);
    expect(applyPatch(before, patch)).toBe(after);
  });
});

describe('the unified diff format', () => {
  const text = fc
    .array(fc.constantFrom('a', 'b', 'c', 'd', 'e', '', 'é', 'a\r'), { maxLength: 40 })
    .chain((lines) => fc.boolean().map((eol) => lines.join('\n') + (eol && lines.length > 0 ? '\n' : '')));

  it('patches the current file into the new one, whatever the two are (property)', () => {
    fc.assert(
      fc.property(fc.option(text, { nil: undefined }), text, (current, next) => {
        const d = diffFile('f', current, next, big);
        if (current === next) return void expect(d.status).toBe('unchanged');
        expect(applyPatch(current ?? '', d.diff!)).toBe(next);
      }),
      { numRuns: 1000 },
    );
  });

  it('is the same text as jsdiff writes wherever the minimal diff is the same', () => {
    // jsdiff's createTwoFilesPatch was diffFile's engine: same headers, hunk ranges, context and end-of-file marks.
    const cases: [string | undefined, string][] = [
      ['one\ntwo\nthree\n', 'one\n2\nthree\n'],
      [undefined, '2.4.1\n'],
      ['a\nb\nc', 'a\nb\nc\n'],
      ['a\nb\nc\n', 'a\nb\nc'],
      ['one\n', ''],
      [Array.from({ length: 40 }, (_, i) => `l${i}\n`).join(''), Array.from({ length: 40 }, (_, i) => (i % 9 === 4 ? `x${i}\n` : `l${i}\n`)).join('')],
    ];
    for (const [current, next] of cases) {
      const jsdiff = createTwoFilesPatch(current === undefined ? '/dev/null' : 'a/p q', 'b/p q', current ?? '', next, undefined, undefined, {
        context: 3,
        headerOptions: FILE_HEADERS_ONLY,
      });
      expect(diffFile('p q', current, next, big).diff).toBe(jsdiff);
    }
  });

  it('is read by diff2html, which the web UI renders it with, line for line', () => {
    const current = Array.from({ length: 60 }, (_, i) => `line ${i}\n`).join('');
    const next = current.replace('line 5\n', 'five\n').replace('line 40\n', '').concat('tail');
    const d = diffFile('nginx/a.conf', current, next, big);
    const [file] = parse(d.diff!);
    expect(file).toMatchObject({ oldName: 'nginx/a.conf', newName: 'nginx/a.conf', addedLines: 2, deletedLines: 2 });
    expect(file!.blocks.map((b) => [b.header, b.lines.length])).toEqual([
      ['@@ -3,7 +3,7 @@', 8],
      ['@@ -38,7 +38,6 @@', 7],
      ['@@ -58,3 +57,4 @@', 4],
    ]);
  });
});
