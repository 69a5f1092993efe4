/**
 * What the system benchmarks (fleet, overhead, status, agent memory) share:
 * child processes run straight on node (so their pid is the process whose
 * memory is measured), resident-memory sampling from /proc, a Temporal dev
 * server of their own, and small API helpers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { findTemporalCli, REPO_ROOT, startDevServerOnFreePorts, type DevServer } from '../platform/temporal-server.js';

/** Children still running: killed if the benchmark itself dies or is interrupted, so none outlives it. */
const live = new Set<ChildProcess>();
/** Temporal database files to remove if the benchmark dies before stopping their server. */
const dbFiles = new Set<string>();
let guarded = false;
function track(child: ChildProcess) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (guarded) return;
  guarded = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
    for (const f of dbFiles) for (const x of [f, `${f}-wal`, `${f}-shm`]) rmSync(x, { force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of live) c.kill('SIGTERM');
      process.exit(130);
    });
  }
}

export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  lines: string[];
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

/** `node --import tsx <script> …args`, one process (no npx/tsx wrapper), output lines kept. */
/** A TypeScript script run through tsx; a `.mjs` one (a built bundle) by plain node. */
export function spawnNode(script: string, args: string[], env: Record<string, string> = {}, opts: { keepLines?: number; nodeArgs?: string[] } = {}): NodeProcess {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...loader, script, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, DRYDOCK_TEMPORAL_LOG_LEVEL: 'ERROR', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const keep = opts.keepLines ?? 5_000;
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  const collect = (d: Buffer) => {
    const parts = (partial + d.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) if (l) lines.push(l);
    if (lines.length > keep) lines.splice(0, lines.length - keep);
    for (const w of waiters) w();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exited: string | undefined;
  child.once('exit', (code, sig) => {
    exited = `exited with ${code ?? sig}`;
    for (const w of waiters) w();
  });
  return {
    child,
    pid: child.pid!,
    lines,
    waitForLine(re, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const l of lines) {
            const m = re.exec(l);
            if (m) return done(undefined, m);
          }
          if (exited) done(new Error(`${path.basename(script)} ${exited} before printing ${re}:\n${lines.slice(-30).join('\n')}`));
        };
        const timer = setTimeout(() => done(new Error(`${path.basename(script)} printed nothing matching ${re} within ${timeoutMs} ms:\n${lines.slice(-30).join('\n')}`)), timeoutMs);
        const done = (err?: Error, m?: RegExpExecArray) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(err);
          else resolve(m!);
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await gone;
      clearTimeout(t);
    },
  };
}

/** VmRSS and VmHWM (peak RSS) of a process, in bytes; undefined once it is gone. */
export function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds a process has used so far (from /proc/<pid>/stat; clock ticks of 1/100 s). */
export function cpuSecondsOf(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** /proc/<pid>/stat from field 3 (state) on: the command name (field 2) may hold spaces, so count after its closing parenthesis. */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds of the PostgreSQL server on this machine so far: every process
 * named `postgres` (the postmaster, its backends and background workers),
 * plus what backends that already exited used (the postmaster's reaped
 * children, fields 16 and 17 of its stat). The benchmarks use their own
 * database, but the server is the machine's: read it with nothing else busy.
 */
export function postgresCpuSeconds(): number {
  const servers = new Map<string, string[]>();
  for (const pid of readdirSync('/proc')) {
    try {
      if (/^\d+$/.test(pid) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') servers.set(pid, statFields(pid));
    } catch {
      // exited while read
    }
  }
  let ticks = 0;
  for (const fields of servers.values()) {
    ticks += Number(fields[11]) + Number(fields[12]);
    // The postmaster, whose parent is not a postgres process: add its reaped children.
    if (!servers.has(fields[1]!)) ticks += Number(fields[13]) + Number(fields[14]);
  }
  return ticks / 100;
}

export interface RssSampler {
  /** Samples so far, bytes. */
  samples(): number[];
  /** The largest sample, and the kernel's own peak (VmHWM, which no sampling interval misses). */
  stop(): { maxSampled: number; peakHwm: number; median: number; samples: number };
}

export function sampleRss(pid: number, everyMs = 100): RssSampler {
  const samples: number[] = [];
  let hwm = 0;
  const take = () => {
    const m = memoryOf(pid);
    if (m) {
      samples.push(m.rss);
      hwm = Math.max(hwm, m.hwm);
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples: () => [...samples],
    stop() {
      take();
      clearInterval(timer);
      const sorted = [...samples].sort((a, b) => a - b);
      return { maxSampled: sorted.at(-1) ?? 0, peakHwm: hwm, median: sorted[sorted.length >> 1] ?? 0, samples: samples.length };
    },
  };
}

/**
 * Where the benchmarks' Temporal dev servers keep their SQLite file: tmpfs
 * (/dev/shm) when there is one, so the disk's fsync latency (shared with
 * everything else on the machine) does not decide the figures; override with
 * BENCH_TEMPORAL_DB_DIR.
 */
export function temporalDbDir(fallback: string): string {
  if (process.env.BENCH_TEMPORAL_DB_DIR) return process.env.BENCH_TEMPORAL_DB_DIR;
  return existsSync('/dev/shm') ? '/dev/shm' : fallback;
}

/** A Temporal dev server of the benchmark's own, on free loopback ports; its database file is removed when it stops. */
export async function startOwnTemporal(dir: string): Promise<DevServer> {
  await mkdir(dir, { recursive: true });
  const dbFile = path.join(temporalDbDir(dir), `drydock-bench-temporal-${process.pid}-${Date.now()}.db`);
  const server = await startDevServerOnFreePorts({
    cli: await findTemporalCli((m) => process.stderr.write(`${m}\n`)),
    dbFile,
    logFile: path.join(dir, 'temporal.log'),
  });
  track(server.process);
  dbFiles.add(dbFile);
  return {
    ...server,
    async stop() {
      await server.stop();
      await rm(dbFile, { force: true });
      await rm(`${dbFile}-wal`, { force: true });
      await rm(`${dbFile}-shm`, { force: true });
      dbFiles.delete(dbFile);
    },
  };
}

export interface Api {
  <T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

/** Calls the API with the operator's token; throws on a network error, not on a status. */
export function apiClient(baseUrl: string, token: string): Api {
  return async (method, p, body) => {
    const res = await fetch(`${baseUrl}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

/** Runs fn over items with at most `n` in flight; results in order. */
export async function mapLimit<T, R>(items: readonly T[], n: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

export const MiB = (bytes: number) => Number((bytes / 1024 / 1024).toFixed(1));
