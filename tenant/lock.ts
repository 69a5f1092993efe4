/**
 * The per-tenant lock: one operation per tenant at a time, across processes
 * (a lock file in the tenant root, taken over when stale) and within one (a
 * mutex keyed by the root's real path). Used by the local driver and the agent.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, lstatSync, openSync, readFileSync, realpathSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { link, readFile, rename, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The lock file in a tenant root; a reserved name no managed path may take. */
export const LOCK_FILE = '.drydock.lock';

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

export interface TenantLockOptions {
  /** First wait between attempts on a held lock file; doubles up to 1 s. */
  pollMs?: number;
  /** Gives up waiting for the lock. */
  signal?: AbortSignal;
}

interface LockInfo {
  pid: number;
  host?: string;
  at: number;
  token?: string;
}

interface LockSeen {
  raw: string;
  info: LockInfo | null;
  mtimeMs: number;
}

/** Tail of each root's queue of waiting operations, in this process. */
const queues = new Map<string, Promise<void>>();

/**
 * Runs `fn` holding the tenant's lock: an in-process async mutex keyed by
 * realpath(root) (first come, first served), plus the lock file `<root>/.drydock.lock` (pid, host,
 * timestamp) for other processes. A lock file older than `staleMs`, written
 * before this host last booted, or whose pid on this host is dead, is taken
 * over. While held, the lock file's mtime is refreshed every staleMs/3 so a
 * live holder never looks stale.
 */
export async function withTenantLock<T>(
  root: string,
  staleMs: number,
  fn: () => Promise<T>,
  opts: TenantLockOptions = {},
): Promise<T> {
  // Synchronously, so operations queue in call order (FIFO).
  const key = realpathSync(root);
  const prev = queues.get(key) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const tail = prev.then(() => mine);
  queues.set(key, tail);
  try {
    await prev;
    const release = await acquireLockFile(key, staleMs, opts);
    try {
      return await fn();
    } finally {
      await release();
    }
  } finally {
    done();
    if (queues.get(key) === tail) queues.delete(key);
  }
}

async function acquireLockFile(realRoot: string, staleMs: number, opts: TenantLockOptions): Promise<() => Promise<void>> {
  const file = path.join(realRoot, LOCK_FILE);
  const token = randomBytes(16).toString('hex');
  const body = `${JSON.stringify({ pid: process.pid, host: os.hostname(), at: Date.now(), token } satisfies LockInfo)}\n`;
  let wait = opts.pollMs ?? 25;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (tryCreate(file, body)) break;
    const seen = readLock(file);
    if (!seen) continue; // released in between: try again at once
    if (isStale(seen, staleMs)) {
      await takeOver(file, seen);
      continue;
    }
    await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : {});
    wait = Math.min(wait * 2, 1000);
  }

  const ours = () => readLock(file)?.info?.token === token;
  const heartbeat = setInterval(() => {
    // Best effort: a missed refresh only brings staleness closer.
    try {
      if (ours()) void utimes(file, new Date(), new Date()).catch(() => undefined);
    } catch {
      // unreadable for now: the next refresh tries again
    }
  }, Math.max(10, Math.floor(staleMs / 3)));
  heartbeat.unref();

  return async () => {
    clearInterval(heartbeat);
    if (!ours()) return; // taken over meanwhile: not ours to remove
    try {
      unlinkSync(file);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
  };
}

/**
 * Taking, reading and removing the lock file are synchronous, as
 * tenant/files.ts's calls are (the rare take-over and refresh are not).
 * It is not fsynced: a lock file that a crash left empty or half-written was
 * written before the host booted again, and isStale takes those over at once.
 * (The fsync, and the unlink of a file it had given blocks on disk, were
 * most of the lock's cost: on ext4 here about 130 µs of CPU and 340 µs of
 * wall time per operation, against 20 µs of each without them.)
 */
function tryCreate(file: string, body: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    writeFileSync(fd, body);
  } catch (err) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw err;
  }
  closeSync(fd);
  return true;
}

function readLock(file: string): LockSeen | null {
  let raw: string;
  let mtimeMs: number;
  try {
    raw = readFileSync(file, 'utf8');
    ({ mtimeMs } = lstatSync(file));
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
  let info: LockInfo | null = null;
  try {
    const parsed = JSON.parse(raw) as Partial<LockInfo>;
    if (typeof parsed.pid === 'number' && typeof parsed.at === 'number') info = parsed as LockInfo;
  } catch {
    // Unparseable (or being written right now): judged by its mtime alone.
  }
  return { raw, info, mtimeMs };
}

/** When this host booted, to the second; a container shares its host's kernel and so its boot. */
function bootedAtMs(): number {
  return Date.now() - os.uptime() * 1000;
}

function isStale(seen: LockSeen, staleMs: number): boolean {
  const info = seen.info;
  const sameHost = info?.host === undefined || info.host === os.hostname();
  const freshest = Math.max(info?.at ?? 0, seen.mtimeMs);
  if (Date.now() - freshest > staleMs) return true;
  // Written before this host booted (a crash or power loss left it, perhaps empty): no process here holds it.
  // The second of slack covers os.uptime()'s rounding.
  if (sameHost && seen.mtimeMs < bootedAtMs() - 1000) return true;
  return !!info && sameHost && info.pid !== process.pid && !pidAlive(info.pid);
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Moves the stale lock aside, then checks it was the one judged stale: if
 * another process took the lock over in between, its fresh lock is put back.
 */
async function takeOver(file: string, seen: LockSeen): Promise<void> {
  const aside = `${file}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw err;
  }
  const moved = await readFile(aside, 'utf8').catch(() => null);
  if (moved !== seen.raw) {
    try {
      await link(aside, file); // no clobber: if yet another lock appeared, it wins
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    }
  }
  await rm(aside, { force: true });
}
