import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, link, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PathRejected, readManagedFiles, restoreFiles, snapshotFiles, writeManagedFiles } from './files.js';
import { LOCK_FILE, withTenantLock } from './lock.js';

let base: string;
let root: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'drydock-files-'));
  root = path.join(base, 'tenant');
  await mkdir(root);
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const at = (rel: string) => path.join(root, rel);
const modeOf = async (rel: string) => (await stat(at(rel))).mode & 0o777;

/** Every entry under dir (symlinks not followed), with a hash of each file's bytes. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string) {
    const abs = path.join(dir, rel);
    const st = await lstat(abs);
    if (st.isSymbolicLink()) out.push(`${rel} -> link`);
    else if (st.isDirectory()) {
      out.push(`${rel}/`);
      for (const e of (await readdir(abs)).sort()) await walk(path.join(rel, e));
    } else out.push(`${rel} ${createHash('sha256').update(await readFile(abs)).digest('hex')}`);
  }
  await walk('.');
  return out;
}

async function rejection(p: Promise<unknown>): Promise<PathRejected> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PathRejected);
  return err as PathRejected;
}

describe('writing managed files', () => {
  const managed = ['docker-compose.yml', '.env', 'nginx/site.conf'];

  it('writes new files, creating missing parent directories inside the root', async () => {
    const r = await writeManagedFiles(root, managed, [
      { path: 'docker-compose.yml', content: 'services: {}\n' },
      { path: 'nginx/site.conf', content: 'server {}\n' },
    ]);
    expect(r).toEqual({ written: ['docker-compose.yml', 'nginx/site.conf'], unchanged: [] });
    expect(await readFile(at('nginx/site.conf'), 'utf8')).toBe('server {}\n');
    expect(await modeOf('docker-compose.yml')).toBe(0o644);
  });

  it('replaces a file atomically by rename, keeping its mode and leaving no temp file behind', async () => {
    await writeFile(at('docker-compose.yml'), 'old\n');
    await chmod(at('docker-compose.yml'), 0o640);
    // A hard link to the old inode: an in-place rewrite would change it too, a rename does not.
    await link(at('docker-compose.yml'), path.join(base, 'old-inode'));
    const before = await stat(at('docker-compose.yml'));

    await writeManagedFiles(root, managed, [{ path: 'docker-compose.yml', content: 'new\n' }]);

    const after = await stat(at('docker-compose.yml'));
    expect(after.ino).not.toBe(before.ino);
    expect(await readFile(at('docker-compose.yml'), 'utf8')).toBe('new\n');
    expect(await readFile(path.join(base, 'old-inode'), 'utf8')).toBe('old\n');
    expect(after.mode & 0o777).toBe(0o640);
    expect(await readdir(root)).toEqual(['docker-compose.yml']);
  });

  it('skips a file whose content is already identical, leaving it untouched', async () => {
    await writeFile(at('docker-compose.yml'), 'same\n');
    const before = await stat(at('docker-compose.yml'));
    const r = await writeManagedFiles(root, managed, [
      { path: 'docker-compose.yml', content: 'same\n' },
      { path: '.env', content: 'A=1\n' },
    ]);
    expect(r).toEqual({ written: ['.env'], unchanged: ['docker-compose.yml'] });
    const after = await stat(at('docker-compose.yml'));
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });

  it('reports everything unchanged on a second identical write, as a retried activity would do', async () => {
    const files = [
      { path: 'docker-compose.yml', content: 'services: {}\n' },
      { path: '.env', content: 'IMAGE_TAG=2.1.0\n' },
      { path: 'nginx/site.conf', content: 'server {}\n' },
    ];
    expect((await writeManagedFiles(root, managed, files)).written).toHaveLength(3);
    expect(await writeManagedFiles(root, managed, files)).toEqual({
      written: [],
      unchanged: ['docker-compose.yml', '.env', 'nginx/site.conf'],
    });
  });

  it('creates .env with mode 0600 and keeps the mode of an existing .env', async () => {
    await writeManagedFiles(root, managed, [{ path: '.env', content: 'SECRET=x\n' }]);
    expect(await modeOf('.env')).toBe(0o600);
    await chmod(at('.env'), 0o640);
    await writeManagedFiles(root, managed, [{ path: '.env', content: 'SECRET=y\n' }]);
    expect(await modeOf('.env')).toBe(0o640);
  });

  it('reads managed files back as utf8, with null for an absent one', async () => {
    await writeManagedFiles(root, managed, [{ path: '.env', content: 'NAME=café\n' }]);
    expect(await readManagedFiles(root, ['.env', 'docker-compose.yml', 'nginx/site.conf'])).toEqual({
      '.env': 'NAME=café\n',
      'docker-compose.yml': null,
      'nginx/site.conf': null,
    });
  });
});

describe('path validation', () => {
  const bad: [string, string, string][] = [
    ['a parent traversal', '../x', 'traversal'],
    ['a traversal hidden mid-path', 'a/../../x', 'traversal'],
    ['an absolute path', '/etc/passwd', 'absolute'],
    ['a NUL byte', 'a\0b', 'nul'],
    ['a control character', 'a\nb', 'control-character'],
    ['a drive letter', 'C:x', 'drive-letter'],
    ['a backslash', 'a\\..\\x', 'backslash'],
    ['a path over 4096 bytes', `${'d/'.repeat(2048)}x`, 'too-long'],
    ['a component over 255 bytes', 'x'.repeat(256), 'too-long'],
    ['a non-normalized path', './x', 'not-normalized'],
    ['a doubled slash', 'a//x', 'not-normalized'],
    ['a path under mkdocs/', 'mkdocs/index.md', 'tenant-content'],
    ['a path under configs/', 'configs/app.yml', 'tenant-content'],
    ['a path under scripts/', 'scripts/run.sh', 'tenant-content'],
    ['the lock file', LOCK_FILE, 'reserved'],
  ];

  it.each(bad)('rejects %s and writes nothing else from the batch', async (_what, p, rule) => {
    const managed = ['docker-compose.yml', '.env', p];
    const err = await rejection(
      writeManagedFiles(root, managed, [
        { path: 'docker-compose.yml', content: 'x' },
        { path: '.env', content: 'y' },
        { path: p, content: 'z' },
      ]),
    );
    expect(err.code).toBe('path-rejected');
    expect(err.rule).toBe(rule);
    expect(err.message).toContain(rule);
    expect(await tree(base)).toEqual(['./', 'tenant/']);
  });

  it('rejects a path that is not in the managed list, naming it', async () => {
    const err = await rejection(
      writeManagedFiles(root, ['docker-compose.yml'], [
        { path: 'docker-compose.yml', content: 'x' },
        { path: 'other.yml', content: 'y' },
      ]),
    );
    expect(err.rule).toBe('unmanaged');
    expect(err.message).toContain('"other.yml"');
    expect(await readdir(root)).toEqual([]);
  });

  it('rejects the same path twice in one batch', async () => {
    const err = await rejection(
      writeManagedFiles(root, ['a'], [
        { path: 'a', content: '1' },
        { path: 'a', content: '2' },
      ]),
    );
    expect(err.rule).toBe('duplicate');
  });

  it('refuses a symlinked parent directory that points outside the root', async () => {
    const outside = path.join(base, 'outside');
    await mkdir(outside);
    await symlink(outside, at('nginx'));
    const err = await rejection(
      writeManagedFiles(root, ['.env', 'nginx/site.conf'], [
        { path: '.env', content: 'A=1\n' },
        { path: 'nginx/site.conf', content: 'pwned' },
      ]),
    );
    expect(err.rule).toBe('symlink-escape');
    expect(await readdir(outside)).toEqual([]);
    expect(existsSync(at('.env'))).toBe(false);
    await expect(readManagedFiles(root, ['nginx/site.conf'])).rejects.toThrow(PathRejected);
  });

  it('refuses a symlink deeper in the parent chain that points outside the root', async () => {
    const outside = path.join(base, 'outside');
    await mkdir(path.join(outside, 'deep'), { recursive: true });
    await mkdir(at('a'));
    await symlink('../../outside', at('a/b'));
    const err = await rejection(writeManagedFiles(root, ['a/b/deep/x'], [{ path: 'a/b/deep/x', content: 'pwned' }]));
    expect(err.rule).toBe('symlink-escape');
    expect(await readdir(path.join(outside, 'deep'))).toEqual([]);
  });

  it('follows a symlinked parent directory that stays inside the root', async () => {
    await mkdir(at('real'));
    await symlink('real', at('alias'));
    await writeManagedFiles(root, ['alias/x'], [{ path: 'alias/x', content: 'ok' }]);
    expect(await readFile(at('real/x'), 'utf8')).toBe('ok');
  });

  it('refuses a symlinked parent that leads into tenant content', async () => {
    await mkdir(at('mkdocs'));
    await symlink('mkdocs', at('docs'));
    const err = await rejection(writeManagedFiles(root, ['docs/index.md'], [{ path: 'docs/index.md', content: 'x' }]));
    expect(err.rule).toBe('tenant-content');
    expect(await readdir(at('mkdocs'))).toEqual([]);
  });

  it('refuses a target that is a symlink, for writes, reads, snapshots and restores', async () => {
    const secret = path.join(base, 'secret');
    await writeFile(secret, 'do not touch');
    await symlink(secret, at('.env'));
    const err = await rejection(writeManagedFiles(root, ['.env'], [{ path: '.env', content: 'x' }]));
    expect(err.rule).toBe('symlink-target');
    await rejection(readManagedFiles(root, ['.env']));
    await rejection(snapshotFiles(root, ['.env']));
    await rejection(restoreFiles(root, { files: { '.env': null } }));
    await rejection(restoreFiles(root, { files: { '.env': { content: '', mode: 0o644 } } }));
    expect(await readFile(secret, 'utf8')).toBe('do not touch');
    expect((await lstat(at('.env'))).isSymbolicLink()).toBe(true);
  });

  it('refuses a target that is a symlink even when it points inside the root', async () => {
    await writeFile(at('real.yml'), 'x');
    await symlink('real.yml', at('docker-compose.yml'));
    const err = await rejection(writeManagedFiles(root, ['docker-compose.yml'], [{ path: 'docker-compose.yml', content: 'y' }]));
    expect(err.rule).toBe('symlink-target');
    expect(await readFile(at('real.yml'), 'utf8')).toBe('x');
  });

  it('refuses a path whose parent is a regular file', async () => {
    await writeFile(at('nginx'), 'a file');
    const err = await rejection(writeManagedFiles(root, ['nginx/site.conf'], [{ path: 'nginx/site.conf', content: 'x' }]));
    expect(err.rule).toBe('not-a-directory');
  });
});

describe('snapshot and restore', () => {
  const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x0d, 0x0a, 0xc3, 0x28, 0, 0x7f]);

  it('restores byte for byte with modes, and deletes files that did not exist at snapshot time', async () => {
    await writeFile(at('docker-compose.yml'), 'services:\n  api: {}\n');
    await mkdir(at('certs'));
    await writeFile(at('certs/blob.bin'), binary);
    await chmod(at('certs/blob.bin'), 0o600);
    await writeFile(at('.env'), 'A=1\r\nB=é\n');
    await chmod(at('.env'), 0o640);
    const paths = ['docker-compose.yml', 'certs/blob.bin', '.env', 'new/added.yml'];
    const before = await tree(root);

    const snap = await snapshotFiles(root, paths);
    expect(snap.files['new/added.yml']).toBeNull();
    expect(snap.files['certs/blob.bin']).toEqual({ content: binary.toString('base64'), mode: 0o600 });

    await writeManagedFiles(root, paths, [
      { path: 'docker-compose.yml', content: 'services: {}\n' },
      { path: '.env', content: 'A=2\n' },
      { path: 'new/added.yml', content: 'x: 1\n' },
    ]);
    await writeFile(at('certs/blob.bin'), 'clobbered');
    await chmod(at('certs/blob.bin'), 0o644);
    await chmod(at('.env'), 0o666);

    const r = await restoreFiles(root, snap);
    expect(r.deleted).toEqual(['new/added.yml']);
    expect(r.written.sort()).toEqual(['.env', 'certs/blob.bin', 'docker-compose.yml']);
    expect(await readFile(at('certs/blob.bin'))).toEqual(binary);
    expect(await modeOf('certs/blob.bin')).toBe(0o600);
    expect(await modeOf('.env')).toBe(0o640);
    expect(existsSync(at('new/added.yml'))).toBe(false);
    // The directory created for the new file is left (empty); everything else matches.
    expect((await tree(root)).filter((e) => !e.startsWith('new'))).toEqual(before);
  });

  it('restores a file whose parent directory was removed since the snapshot', async () => {
    await mkdir(at('nginx'));
    await writeFile(at('nginx/site.conf'), binary);
    const snap = await snapshotFiles(root, ['nginx/site.conf']);
    await rm(at('nginx'), { recursive: true });
    await restoreFiles(root, snap);
    expect(await readFile(at('nginx/site.conf'))).toEqual(binary);
  });

  it('restores nothing twice: a second restore reports everything unchanged', async () => {
    await writeFile(at('a.yml'), 'a');
    const snap = await snapshotFiles(root, ['a.yml', 'b.yml']);
    await writeFile(at('a.yml'), 'changed');
    await writeFile(at('b.yml'), 'new');
    await restoreFiles(root, snap);
    expect(await restoreFiles(root, snap)).toEqual({ written: [], deleted: [], unchanged: ['a.yml', 'b.yml'] });
  });

  it('rejects a snapshot with a bad path before restoring any of it', async () => {
    await writeFile(at('a.yml'), 'current');
    const snap = {
      files: {
        'a.yml': { content: Buffer.from('old').toString('base64'), mode: 0o644 },
        '../escape': { content: '', mode: 0o644 },
      },
    };
    expect((await rejection(restoreFiles(root, snap))).rule).toBe('traversal');
    expect(await readFile(at('a.yml'), 'utf8')).toBe('current');
    expect(await tree(base)).toEqual(['./', 'tenant/', `tenant/a.yml ${createHash('sha256').update('current').digest('hex')}`]);
  });

  it('rejects a snapshot entry with an invalid mode or content', async () => {
    await expect(restoreFiles(root, { files: { 'a.yml': { content: 'AA==', mode: 0o4755 } } })).rejects.toThrow(/invalid mode/);
    await expect(restoreFiles(root, { files: { 'a.yml': { content: 'not base64!', mode: 0o644 } } })).rejects.toThrow(/base64/);
    expect(await readdir(root)).toEqual([]);
  });
});

describe('the per-tenant lock', () => {
  const lockFile = () => at(LOCK_FILE);
  const deadPid = () => {
    const child = spawnSync(process.execPath, ['-e', '']);
    if (!child.pid) throw new Error('could not spawn a short-lived child');
    return child.pid;
  };

  it('serialises two concurrent operations on the same tenant', async () => {
    const events: string[] = [];
    const op = (name: string) => async () => {
      events.push(`${name} start`);
      const held = JSON.parse(await readFile(lockFile(), 'utf8')) as { pid: number; at: number };
      expect(held.pid).toBe(process.pid);
      await sleep(50);
      events.push(`${name} end`);
      return name;
    };
    const results = await Promise.all([withTenantLock(root, 60_000, op('first')), withTenantLock(root, 60_000, op('second'))]);
    expect(results).toEqual(['first', 'second']);
    expect(events).toEqual(['first start', 'first end', 'second start', 'second end']);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('hands the lock to the next operation in this process at once, without polling the lock file', async () => {
    const order: number[] = [];
    const t0 = Date.now();
    await Promise.all(
      [1, 2, 3].map((n) =>
        withTenantLock(root, 60_000, async () => {
          order.push(n);
          await sleep(20);
        }, { pollMs: 10_000 }),
      ),
    );
    expect(order).toEqual([1, 2, 3]);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('keys the in-process mutex by the real path, so an alias of the root waits too', async () => {
    const alias = path.join(base, 'alias');
    await symlink(root, alias);
    const events: string[] = [];
    const op = (name: string) => async () => {
      events.push(`${name} start`);
      await sleep(30);
      events.push(`${name} end`);
    };
    await Promise.all([withTenantLock(root, 60_000, op('a')), withTenantLock(alias, 60_000, op('b'))]);
    expect(events).toEqual(['a start', 'a end', 'b start', 'b end']);
  });

  it('releases the lock when the operation throws', async () => {
    await expect(withTenantLock(root, 60_000, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(lockFile())).toBe(false);
    await expect(withTenantLock(root, 60_000, async () => 'next')).resolves.toBe('next');
  });

  it('takes over a stale lock file whose pid is dead', async () => {
    await writeFile(lockFile(), JSON.stringify({ pid: deadPid(), host: os.hostname(), at: Date.now() }));
    const t0 = Date.now();
    const pid = await withTenantLock(root, 60_000, async () => (JSON.parse(await readFile(lockFile(), 'utf8')) as { pid: number }).pid);
    expect(pid).toBe(process.pid);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('takes over a lock file older than staleMs even when its pid is alive', async () => {
    await writeFile(lockFile(), JSON.stringify({ pid: process.ppid, host: os.hostname(), at: Date.now() - 60_000 }));
    const old = new Date(Date.now() - 60_000);
    await utimes(lockFile(), old, old);
    await expect(withTenantLock(root, 1_000, async () => 'ran')).resolves.toBe('ran');
  });

  const beforeBoot = () => new Date(Date.now() - os.uptime() * 1000 - 60_000);

  it('takes over at once an empty lock file that a crash left before this host booted', async () => {
    await writeFile(lockFile(), '');
    await utimes(lockFile(), beforeBoot(), beforeBoot());
    const t0 = Date.now();
    await expect(withTenantLock(root, 60 * 60_000, async () => 'ran', { pollMs: 10 })).resolves.toBe('ran');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('takes over a lock file written before this host booted even when a process now has its pid', async () => {
    await writeFile(lockFile(), JSON.stringify({ pid: process.ppid, host: os.hostname(), at: beforeBoot().getTime() }));
    await utimes(lockFile(), beforeBoot(), beforeBoot());
    await expect(withTenantLock(root, 60 * 60_000, async () => 'ran', { pollMs: 10 })).resolves.toBe('ran');
  });

  /** Writes the lock file, removes it 200 ms later, and says when that was and when the operation started. */
  async function startWhileHeld(content: string): Promise<{ releasedAt: number; startedAt: number }> {
    await writeFile(lockFile(), content);
    let releasedAt = 0;
    setTimeout(() => {
      releasedAt = Date.now();
      void rm(lockFile());
    }, 200);
    const startedAt = await withTenantLock(root, 60_000, async () => Date.now(), { pollMs: 10 });
    return { releasedAt, startedAt };
  }

  it('waits for an empty lock file written since this host booted: its holder may still be writing it', async () => {
    const { releasedAt, startedAt } = await startWhileHeld('');
    expect(releasedAt).toBeGreaterThan(0);
    expect(startedAt).toBeGreaterThanOrEqual(releasedAt);
  });

  it('waits for a fresh lock held by a live process until it is released', async () => {
    const { releasedAt, startedAt } = await startWhileHeld(JSON.stringify({ pid: process.ppid, host: os.hostname(), at: Date.now() }));
    expect(releasedAt).toBeGreaterThan(0);
    expect(startedAt).toBeGreaterThanOrEqual(releasedAt);
  });

  it('keeps the lock fresh while a long operation holds it', async () => {
    await withTenantLock(root, 150, async () => {
      const first = (await stat(lockFile())).mtimeMs;
      await sleep(300);
      expect((await stat(lockFile())).mtimeMs).toBeGreaterThan(first);
    });
  });

  it('stops waiting when its signal is aborted', async () => {
    await writeFile(lockFile(), JSON.stringify({ pid: process.ppid, host: os.hostname(), at: Date.now() }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expect(withTenantLock(root, 60_000, async () => 'ran', { signal: ac.signal })).rejects.toThrow(/abort/i);
    // The operation after it is not blocked by the aborted waiter.
    await rm(lockFile());
    await expect(withTenantLock(root, 60_000, async () => 'next')).resolves.toBe('next');
  });
});

describe('confinement under random paths', () => {
  /** mulberry32: a small seeded PRNG, so a failure reproduces. */
  function rng(seed: number) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const ALPHABET = ['a', '.', '/', '..', '\\', '\0', 'é', ' '];
  /** Weights per ALPHABET token: enough valid paths get through to exercise the disk checks. */
  const WEIGHTS = [6, 2, 4, 1, 1, 1, 2, 1];
  const MAX_TOKENS = 12;
  function pick(random: () => number): string {
    let r = random() * WEIGHTS.reduce((a, b) => a + b, 0);
    for (let i = 0; i < ALPHABET.length; i++) {
      r -= WEIGHTS[i] ?? 0;
      if (r < 0) return ALPHABET[i] ?? '';
    }
    return ALPHABET[0] ?? '';
  }

  it('never creates, changes or removes anything outside the root, whatever 500 random paths ask for', async () => {
    // Nest the root deeper than any generated path can climb, and watch everything from base down
    // except the root itself, including a decoy outside and a symlink to it from inside the root.
    let deep = base;
    for (let i = 0; i <= MAX_TOKENS; i++) deep = path.join(deep, `l${i}`);
    const tenant = path.join(deep, 'tenant');
    await mkdir(tenant, { recursive: true });
    const outside = path.join(deep, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'a'), 'decoy');
    await symlink('../outside', path.join(tenant, 'a'));
    await symlink('..', path.join(tenant, '..a'));
    await symlink('../outside/a', path.join(tenant, 'a.a'));
    await mkdir(path.join(tenant, 'é'));
    await symlink('../../outside', path.join(tenant, 'é', 'a'));
    const outsideTree = async () => (await tree(base)).filter((e) => !e.startsWith(`${path.relative(base, tenant)}/`));
    const before = await outsideTree();

    const random = rng(0xd0c0);
    const seen = new Set<string>();
    let accepted = 0;
    while (seen.size < 500) {
      const n = 1 + Math.floor(random() ** 2 * MAX_TOKENS); // mostly short
      let p = '';
      for (let i = 0; i < n; i++) p += pick(random);
      if (seen.has(p)) continue;
      seen.add(p);
      const ops: (() => Promise<unknown>)[] = [
        () => writeManagedFiles(tenant, [p], [{ path: p, content: 'x' }]),
        () => readManagedFiles(tenant, [p]),
        () => snapshotFiles(tenant, [p]).then((s) => restoreFiles(tenant, s)),
        () => restoreFiles(tenant, { files: { [p]: { content: 'eQ==', mode: 0o644 } } }),
        () => restoreFiles(tenant, { files: { [p]: null } }),
      ];
      for (const op of ops) {
        try {
          await op();
          accepted++;
        } catch (err) {
          // Only a refusal is acceptable, never an OS error from a path that got through.
          if (!(err instanceof PathRejected)) throw new Error(`path ${JSON.stringify(p)}: ${String(err)}`);
        }
      }
    }
    expect(accepted).toBeGreaterThan(100); // the generator does reach valid paths
    expect(await outsideTree()).toEqual(before);
  });
});
