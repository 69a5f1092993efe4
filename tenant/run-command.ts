import { spawn } from 'node:child_process';
import type { CommandLine } from '../core/compose.js';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  signal?: AbortSignal;
  onLine?: (line: string) => void;
  /** Grace period between SIGTERM and SIGKILL when cancelled. */
  killGraceMs?: number;
}

export type CommandRunner = (cmd: CommandLine, opts?: RunOptions) => Promise<CommandResult>;

const MAX_CAPTURE = 256 * 1024;

/**
 * What a compose run inherits from the process that starts it: finding
 * programs, the user's Docker configuration and engine, locale and time
 * zone. Nothing else: the control plane's environment holds its secrets
 * (DRYDOCK_ADMIN_PASSWORD, DATABASE_URL, DRYDOCK_SECRET_KEY, …), and compose
 * interpolates any variable it is given into the tenant's compose file.
 */
export const INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'LC_MESSAGES',
  'TZ',
  'TMPDIR',
  // A rootless engine's socket lives there.
  'XDG_RUNTIME_DIR',
  'DOCKER_HOST',
  'DOCKER_CONTEXT',
  'DOCKER_CONFIG',
  'DOCKER_CERT_PATH',
  'DOCKER_TLS_VERIFY',
  'DOCKER_API_VERSION',
] as const;

/** The child's environment: the inherited allowlist from `parent`, then the command's own variables. */
export function childEnvironment(parent: NodeJS.ProcessEnv, own: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) if (parent[name] !== undefined) env[name] = parent[name]!;
  return { ...env, ...own };
}

/**
 * Runs an argument array without a shell, in a clean environment (childEnvironment). Cancellation stops the child with
 * SIGTERM (compose stops its own work cleanly on it), then SIGKILL.
 */
export const runCommand: CommandRunner = (cmd, opts = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd.file, cmd.args, {
      cwd: cmd.cwd,
      env: childEnvironment(process.env, cmd.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const collect = (which: 'out' | 'err') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (which === 'out') stdout = (stdout + text).slice(-MAX_CAPTURE);
      else stderr = (stderr + text).slice(-MAX_CAPTURE);
      if (opts.onLine) {
        const lines = (partial + text).split(/\r?\n|\r/);
        partial = lines.pop() ?? '';
        for (const l of lines) if (l.trim()) opts.onLine(l);
      }
    };
    child.stdout.on('data', collect('out'));
    child.stderr.on('data', collect('err'));

    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), opts.killGraceMs ?? 10_000);
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ code, stdout, stderr });
    });
  });
