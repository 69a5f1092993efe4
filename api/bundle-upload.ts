/**
 * Reads an uploaded bundle: a .tar.gz of the bundle's directory (its files at
 * the top, or under one directory). Only regular files are taken; links,
 * devices, absolute or `..` paths are refused, and the sizes are capped, so a
 * hostile archive can neither escape nor exhaust the control plane. Nothing
 * is written to disk.
 */
import { Parser, type ReadEntry } from 'tar';
import { checkRelativePath } from '../core/managed-paths.js';
import { BundleError } from '../core/bundle.js';

export const MAX_BUNDLE_FILES = 500;
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

export async function readBundleArchive(archive: Buffer): Promise<Record<string, string>> {
  const entries: { path: string; data: Buffer }[] = [];
  let total = 0;
  let problem: BundleError | undefined;
  const fail = (file: string, why: string) => {
    problem ??= new BundleError(file, why);
  };
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const name = entry.path.replace(/^\.\//, '').replace(/\/$/, '');
        if (entry.type === 'Directory' || name === '') return void entry.resume();
        if (entry.type !== 'File' && entry.type !== 'OldFile') {
          fail(name, `is a ${entry.type}: a bundle holds regular files only`);
          return void entry.resume();
        }
        const bad = checkRelativePath(name);
        if (bad) {
          fail(name, `path ${bad}`);
          return void entry.resume();
        }
        if (entries.length >= MAX_BUNDLE_FILES) {
          fail(name, `one file too many (a bundle holds at most ${MAX_BUNDLE_FILES})`);
          return void entry.resume();
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => {
          total += c.length;
          if (total > MAX_BUNDLE_BYTES) fail(name, `the bundle is larger than ${MAX_BUNDLE_BYTES} bytes unpacked`);
          else chunks.push(c);
        });
        entry.on('end', () => entries.push({ path: name, data: Buffer.concat(chunks) }));
      },
    });
    parser.on('error', (err: Error) => reject(new BundleError('(upload)', `is not a readable .tar.gz: ${err.message}`)));
    parser.on('warn', (_code: string, message: string | Error) => fail('(upload)', `is not a readable .tar.gz: ${typeof message === 'string' ? message : message.message}`));
    parser.on('end', () => resolve());
    parser.end(archive);
  });
  if (problem) throw problem;
  if (entries.length === 0) throw new BundleError('(upload)', 'holds no files (send the bundle directory as a .tar.gz)');
  // One common top directory (tar czf b.tgz mybundle/) is dropped.
  const firsts = new Set(entries.map((e) => (e.path.includes('/') ? e.path.split('/')[0] : '')));
  const strip = firsts.size === 1 && !firsts.has('') ? `${[...firsts][0]}/` : '';
  const files: Record<string, string> = {};
  for (const e of entries) {
    const name = e.path.slice(strip.length);
    const text = e.data.toString('utf8');
    if (Buffer.byteLength(text) !== e.data.length || text.includes('\uFFFD')) throw new BundleError(name, 'is not UTF-8 text');
    files[name] = text;
  }
  return files;
}
