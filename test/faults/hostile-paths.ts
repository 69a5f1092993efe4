/**
 * Generators of hostile tenant paths for the property tests, and a sandbox
 * that tells whether anything outside the tenant's managed files changed.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, readlink, realpath, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';

/** Look-alikes of `.`, `/`, `\` and the tenant-content names; zero-width and bidi characters. */
export const CONFUSABLES = [
  '\uFF0E\uFF0E', // fullwidth ..
  '\u2025', // two dot leader
  '\u2024\u2024', // one dot leaders
  '.\u200b.', // zero-width space between dots
  '..\u200b',
  '\u202e..', // right-to-left override
  '\uFF4D\uFF4B\uFF44\uFF4F\uFF43\uFF53', // fullwidth mkdocs
  'MkDocs',
  'CONFIGS',
  'Scripts',
  'mkdocs\u200b',
  'mk\u00addocs', // soft hyphen
  'm\u0301kdocs', // combining accent
  '\u0441onfigs', // Cyrillic es
  'nginx\u2215..\u2215..', // division slash
  'nginx\uFF0F..\uFF0F..', // fullwidth solidus
  'nginx\u2044..', // fraction slash
  'nginx\uFF3C..', // fullwidth reverse solidus
  'e\u0301', // decomposed é
  '\u00e9', // composed é
] as const;

const SEGMENTS = [
  '..', '.', '', '...', '.. ', ' ..', '..%2f', '%2e%2e', '~', 'nginx', 'conf.d', 'default.conf', 'drydock', 'escape', 'evil.conf', 'docs',
  'mkdocs', 'configs', 'scripts', '.env', 'docker-compose.yml', '.drydock.lock', '.drydock-tmp-1234', 'outside', 'secret.txt', 'x',
] as const;

const segment = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...SEGMENTS) },
  { weight: 2, arbitrary: fc.constantFrom(...CONFUSABLES) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }) },
);
const separator = fc.constantFrom('/', '/', '/', '/', '\\', '//', '\u2215', '\uFF0F');

/** Segments joined by real and look-alike separators. */
export const segmentedPath = fc
  .array(fc.tuple(segment, separator), { minLength: 1, maxLength: 6 })
  .map((parts) => parts.map(([s, sep], i) => (i === parts.length - 1 ? s : s + sep)).join(''));

const absolute = fc.oneof(
  segmentedPath.map((p) => `/${p}`),
  segmentedPath.map((p) => `C:\\${p}`),
  segmentedPath.map((p) => `c:/${p}`),
  segmentedPath.map((p) => `\\\\server\\share\\${p}`),
  segmentedPath.map((p) => `//server/${p}`),
  fc.constantFrom('/etc/passwd', '/', '//', 'file:///etc/passwd', '~/x', '/proc/self/root/etc/passwd'),
);

const withControl = fc
  .tuple(segmentedPath, fc.nat(), fc.constantFrom('\0', '\n', '\r', '\t', '\u007f', '\u001b', '\u0001'))
  .map(([p, at, c]) => p.slice(0, at % (p.length + 1)) + c + p.slice(at % (p.length + 1)));

const overLong = fc.oneof(
  fc.integer({ min: 256, max: 400 }).map((n) => `nginx/${'a'.repeat(n)}`),
  fc.integer({ min: 128, max: 200 }).map((n) => `drydock/${'\u00e9'.repeat(n)}`), // 2 bytes each: over 255 bytes, under 255 characters
  fc.integer({ min: 17, max: 24 }).map((n) => `nginx/${Array.from({ length: n }, () => 'b'.repeat(250)).join('/')}`), // over 4096 bytes
  fc.integer({ min: 1, max: 3 }).map((n) => `drydock/${'c'.repeat(5000 * n)}`),
);

export type PathFamily = 'traversal' | 'absolute' | 'nul-or-control' | 'over-long' | 'confusable' | 'anything';

export const hostilePaths: Record<PathFamily, fc.Arbitrary<string>> = {
  traversal: segmentedPath.filter((p) => p.includes('..')),
  absolute,
  'nul-or-control': withControl,
  'over-long': overLong,
  confusable: fc.tuple(fc.constantFrom(...CONFUSABLES), fc.constantFrom('', '/x.conf', '/../x', '/../../outside/pwned')).map(([a, b]) => a + b),
  anything: fc.oneof(segmentedPath, fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 })),
};

/** Every family at once, tagged. */
export const anyHostilePath = fc.oneof(
  ...(Object.entries(hostilePaths) as [PathFamily, fc.Arbitrary<string>][]).map(([family, arb]) => arb.map((p) => ({ family, p }))),
);

export const SECRET = 'outside-secret-7f3a';

export interface Sandbox {
  /** The tenant's compose directory. */
  root: string;
  realRoot: string;
  /** Everything the test created, outside and inside the tenant. */
  base: string;
  /** sha256 of every file, and the target of every symlink, under base. */
  state(): Promise<Map<string, string>>;
}

/**
 * A tenant dir with tenant content, managed files, and traps: a directory
 * symlink out of the tenant, a file symlink to a file outside, a symlink into
 * tenant content; and a sibling `outside/` holding a secret.
 */
export async function createSandbox(): Promise<Sandbox> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'drydock-paths-'));
  const root = path.join(base, 'tenant');
  const files: Record<string, string> = {
    'outside/secret.txt': `${SECRET}\n`,
    'tenant/docker-compose.yml': 'services: {}\n',
    'tenant/.env': 'A=1\n',
    'tenant/mkdocs/index.md': '# docs\n',
    'tenant/configs/a.conf': 'a\n',
    'tenant/scripts/b.sh': 'echo b\n',
    'tenant/nginx/conf.d/default.conf': 'server {}\n',
    'tenant/drydock/search.conf': 'x\n',
  };
  for (const [p, c] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(base, p)), { recursive: true });
    await writeFile(path.join(base, p), c);
  }
  await symlink('../../outside', path.join(root, 'drydock/escape'));
  await symlink('../../outside/secret.txt', path.join(root, 'nginx/evil.conf'));
  await symlink('../mkdocs', path.join(root, 'nginx/docs'));
  const state = async () => {
    const out = new Map<string, string>();
    const walk = async (dir: string) => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        const rel = path.relative(base, full);
        if (e.isSymbolicLink()) out.set(rel, `-> ${await readlink(full)}`);
        else if (e.isDirectory()) {
          out.set(`${rel}/`, 'dir');
          await walk(full);
        } else out.set(rel, createHash('sha256').update(await readFile(full)).digest('hex'));
      }
    };
    await walk(base);
    return out;
  };
  return { root, realRoot: await realpath(root), base, state };
}

/** What changed between two states: added, changed or removed entries. */
export function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v) out.push(k);
  for (const k of before.keys()) if (!after.has(k)) out.push(k);
  return out.sort();
}
