/**
 * What the fault tests share: real processes they can kill (workers, agents),
 * throwaway servers they can stop without touching the machine's own
 * (PostgreSQL, a Docker engine), a counter of file replacements on disk,
 * and (from test/harness/release-tenant.ts) the release-N tenant on Docker.
 *
 * Every process here is started by the test and stopped by its own id.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, openSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import pg from 'pg';
import type { RenderDefaults } from '../../core/render.js';
import { freePort, REPO_ROOT } from '../../platform/temporal-server.js';
import { registryAddress } from '../harness/images.js';
import { waitFor, type TestControlPlane } from '../support.js';
import { TEST_ONLY_SECRET_KEY } from '../test-key.js';
export { startControlPlaneOn } from '../support.js';
export {
  composeDown,
  createReleaseTenant,
  pushReleaseImages,
  RELEASE_SERVICES,
  RELEASES as FIXTURES,
  releaseDefaultsForPrefix as releaseDefaults,
  treeChecksums,
  type ReleaseTenant,
} from '../harness/release-tenant.js';

const run = promisify(execFile);

export const N = '1.0.0';
export const N1 = '1.1.0';
/** The files release N+1 changes or creates in the tenant (the n1 fixture's manifest). */
export const RELEASE_FILES = ['docker-compose.yml', '.env', 'nginx/conf.d/default.conf', 'drydock/search.conf'] as const;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- processes

export interface Proc {
  name: string;
  child: ChildProcess;
  lines: string[];
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Signals the whole process group (the process and its compose children) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A process in its own process group, its output collected line by line. */
export function spawnProcess(name: string, file: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(file, args, { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  const collect = (d: Buffer) => {
    for (const l of d.toString('utf8').split('\n')) if (l.trim()) lines.push(l);
    if (lines.length > 5_000) lines.splice(0, lines.length - 5_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    name,
    child,
    lines,
    exited,
    waitForLine: (re, timeoutMs = 60_000) =>
      waitFor(`${name} output matching ${re}`, async () => {
        const hit = lines.map((l) => re.exec(l)).find(Boolean);
        if (hit) return hit;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${lines.slice(-40).join('\n')}`);
        return undefined;
      }, timeoutMs, 50).catch((err: Error) => {
        throw new Error(`${err.message}\n${name} output:\n${lines.slice(-40).join('\n')}`);
      }),
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, signal);
      } catch {
        return; // already gone
      }
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
        await exited;
      }
    },
  };
}

const TSX = ['--import', 'tsx'];

export interface WorkerEnv {
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  caDir: string;
  defaults?: RenderDefaults;
  templatesDir?: string;
  /** The Docker engine the worker's tenants run on (DOCKER_HOST). */
  dockerHost?: string;
  /** More settings, as environment variables. */
  more?: NodeJS.ProcessEnv;
}

export function workerEnv(w: WorkerEnv): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: w.databaseUrl,
    TEMPORAL_ADDRESS: w.temporalAddress,
    DRYDOCK_TASK_QUEUE: w.taskQueue,
    DRYDOCK_CA_DIR: w.caDir,
    DRYDOCK_TEMPORAL_LOG_LEVEL: 'ERROR',
    // The same key as the tests' control planes (test/support.ts), so both read each other's payloads.
    DRYDOCK_SECRET_KEY: TEST_ONLY_SECRET_KEY,
    ...(w.templatesDir ? { DRYDOCK_TEMPLATES_DIR: w.templatesDir } : {}),
    ...(w.defaults
      ? {
          IMAGE_TAG: w.defaults.imageTag,
          DRYDOCK_REGISTRY: w.defaults.registry,
          DRYDOCK_IMAGE_PREFIX: w.defaults.imagePrefix,
          DRYDOCK_REDIS_IMAGE: w.defaults.redisImage,
        }
      : {}),
    ...(w.dockerHost ? { DOCKER_HOST: w.dockerHost } : {}),
    ...w.more,
  };
}

/** A worker starts in seconds; ten starting at once on a busy two-core machine took more than a minute. */
const WORKER_START_MS = 180_000;

/** `npm run worker` (worker/main.ts), the production entry point, in a process of its own. */
export async function startWorker(w: WorkerEnv, name = 'worker'): Promise<Proc> {
  const p = spawnProcess(name, process.execPath, [...TSX, 'worker/main.ts'], workerEnv(w));
  await p.waitForLine(/worker polling/, WORKER_START_MS);
  return p;
}

/** The same worker with a fault gate on one activity (test/faults/fault-worker.ts). */
export async function startGatedWorker(w: WorkerEnv, activity: string, name = `worker gated at ${activity}`): Promise<Proc> {
  const p = spawnProcess(name, process.execPath, [...TSX, 'test/faults/fault-worker.ts'], { ...workerEnv(w), DRYDOCK_FAULT_GATE: activity });
  await p.waitForLine(/worker polling/, WORKER_START_MS);
  return p;
}

// ---------------------------------------------------------------- a control plane on a database of the test's choosing

// ---------------------------------------------------------------- the API's view of an upgrade

/** Polls the API until the upgrade runs the step (status running or rolling-back). */
export function waitForStep(cp: TestControlPlane, upgradeId: string, step: string, timeoutMs = 120_000) {
  return waitFor(`upgrade ${upgradeId} to reach step ${step}`, async () => {
    const { status, body } = await cp.api('GET', `/api/upgrades/${upgradeId}`);
    if (status !== 200) return undefined;
    if (['succeeded', 'failed', 'cancelled', 'rolled-back'].includes(body.status)) {
      throw new Error(`upgrade ended ${body.status} before step ${step}: ${body.error}`);
    }
    return body.currentStep === step ? body : undefined;
  }, timeoutMs, 50);
}

// ---------------------------------------------------------------- files on disk

/** Leftover temp files of an interrupted atomic write, anywhere under root. */
export function leftoverTempFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.name.startsWith('.drydock-tmp-')) out.push(path.relative(root, path.join(d, e.name)));
    }
  };
  walk(root);
  return out;
}

/**
 * Counts how often each file is replaced on disk: drydock writes by renaming
 * a temp file over the target, which inotify reports as a rename to its name.
 * The files' directories must exist when watching starts.
 */
export function watchReplacements(root: string, files: readonly string[]) {
  const counts: Record<string, number> = Object.fromEntries(files.map((f) => [f, 0]));
  const byDir = new Map<string, string[]>();
  for (const f of files) byDir.set(path.posix.dirname(f), [...(byDir.get(path.posix.dirname(f)) ?? []), f]);
  const watchers: FSWatcher[] = [];
  for (const [dir, inDir] of byDir) {
    watchers.push(
      watch(path.join(root, dir), (event, name) => {
        if (event !== 'rename' || !name) return;
        const f = inDir.find((x) => path.posix.basename(x) === name);
        if (f && existsSync(path.join(root, f))) counts[f]! += 1;
      }),
    );
  }
  return { counts, close: () => watchers.forEach((w) => w.close()) };
}

// ---------------------------------------------------------------- a throwaway PostgreSQL

export interface ThrowawayPostgres {
  port: number;
  /** The server's admin URL (database postgres). */
  adminUrl: string;
  createDatabase(name: string): Promise<string>;
  start(): Promise<void>;
  /** `pg_ctl stop -m <mode>`: fast (the usual restart) or immediate (a crash). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  close(): Promise<void>;
}

function pgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL server binaries under ${root} (apt-get install postgresql)`);
  return path.join(root, newest, 'bin');
}

/** initdb refuses root: run the server binaries as the postgres user then. */
function asPostgres(file: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
}

/** A PostgreSQL of its own (initdb into a temp dir, a free port), so a test can stop it; never the machine's server. */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = pgBin();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-pg-'));
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    chmodSync(dir, 0o700);
  }
  const port = await freePort();
  const [f, a] = asPostgres(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  await run(f, a, { timeout: 120_000 });
  const ctl = async (...args: string[]) => {
    const [file, argv] = asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, ...args]);
    await run(file, argv, { timeout: 120_000 });
  };
  const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const pgServer: ThrowawayPostgres = {
    port,
    adminUrl,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`CREATE DATABASE "${name}"`);
      await c.end();
      return `postgresql://postgres@127.0.0.1:${port}/${name}`;
    },
    start: () => ctl('-l', path.join(dir, 'server.log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-w', '-t', '60', 'start'),
    stop: (mode = 'fast') => ctl('-m', mode, '-w', '-t', '60', 'stop'),
    async close() {
      await pgServer.stop('immediate').catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  await pgServer.start();
  return pgServer;
}

// ---------------------------------------------------------------- a throwaway Docker engine

export interface ThrowawayDocker {
  /** DOCKER_HOST for clients of this engine. */
  host: string;
  docker: Docker;
  start(): Promise<void>;
  /** SIGTERM to dockerd (its containers stop with it), then waits for it to exit. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A second dockerd with its own data root, exec root and socket, so a test can
 * stop "the Docker engine" without touching the machine's. No default bridge
 * and no iptables: compose creates its project networks; images come from the
 * loopback registry.
 */
export async function startThrowawayDocker(): Promise<ThrowawayDocker> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-dockerd-'));
  const socket = path.join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  let child: ChildProcess | undefined;
  const engine: ThrowawayDocker = {
    host,
    docker: new Docker({ socketPath: socket }),
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return; // running already
      const log = openSync(path.join(dir, 'dockerd.log'), 'a');
      child = spawn(
        'dockerd',
        ['--data-root', path.join(dir, 'root'), '--exec-root', path.join(dir, 'exec'), '--pidfile', path.join(dir, 'dockerd.pid'), '-H', host, '--bridge=none', '--iptables=false', '--ip-masq=false'],
        { stdio: ['ignore', log, log], detached: true },
      );
      await waitFor('the throwaway dockerd to answer', async () => {
        if (child?.exitCode !== null) throw new Error(`dockerd exited: ${(await readFile(path.join(dir, 'dockerd.log'), 'utf8')).slice(-2000)}`);
        return (await engine.docker.ping().then(() => true, () => false)) || undefined;
      }, 60_000, 250);
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, sleep(60_000)]);
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await exited;
      }
    },
    async close() {
      await engine.stop();
      // Mounts dockerd left behind (overlay layers, its netns), deepest first, then the directory.
      const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir));
      for (const m of mounts.sort().reverse()) await run('umount', [m]).catch(() => {});
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
  await engine.start();
  return engine;
}

// ---------------------------------------------------------------- a slow registry

/**
 * A TCP proxy in front of the loopback registry that, while slow, hands the
 * client at most `bytesPerSecond` of the registry's answers: a pull through it
 * takes long enough to break something in the middle.
 */
export async function slowRegistryProxy(bytesPerSecond = 64 * 1024) {
  const [rHost, rPort] = registryAddress().split(':');
  let slow = false;
  let bytes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(rPort), rHost);
    sockets.add(client).add(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (!client.write(chunk)) upstream.pause();
      if (slow) {
        upstream.pause();
        setTimeout(() => upstream.resume(), (chunk.length / bytesPerSecond) * 1000);
      }
    });
    client.on('drain', () => upstream.resume());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    setSlow(on: boolean) {
      slow = on;
    },
    get bytes() {
      return bytes;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
