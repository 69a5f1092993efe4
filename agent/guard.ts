/**
 * The agent's own limits, applied to every request whatever the control plane
 * asks: argument shapes, the agent's managed-path allowlist, compose
 * environment keys, and service names the compose file declares. The file
 * operations behind it check each path again (shape, `..`, absolute, symlink
 * escape), so a path must pass both.
 */
import { z } from 'zod';
import type { AgentOperation } from '../core/agent-protocol.js';
import { TenantError, type ExecutionDriver } from '../core/driver.js';
import { checkManagedPath } from '../core/managed-paths.js';
import { COMPOSE_PATH, PIN_PATH } from '../core/image-pin.js';
import { TENANT_CONTENT_DIRS } from '../core/types.js';
import { IMAGE_TAG_RE, SERVICE_NAME_RE } from '../core/validation.js';

/** Exact paths, and `dir/` for everything under dir. Tenant content can never be listed. */
export const DEFAULT_AGENT_MANAGED = ['docker-compose.yml', 'docker-compose.override.yml', '.env', 'nginx/', 'drydock/'] as const;

export function parseManagedList(spec: string): string[] {
  const entries = spec.split(',').map((s) => s.trim()).filter(Boolean);
  for (const e of entries) {
    const problem = checkManagedPath(e.endsWith('/') ? e.slice(0, -1) : e);
    if (problem) throw new Error(`managed entry ${JSON.stringify(e)} ${problem}`);
  }
  return entries;
}

export function isAllowedPath(p: string, managed: readonly string[]): boolean {
  return managed.some((m) => (m.endsWith('/') ? p.startsWith(m) && p.length > m.length : p === m));
}

/**
 * Variables that steer the compose process itself rather than the compose
 * file: its search paths and engine, and what makes the dynamic loader or an
 * interpreter (compose v1 is Python; hooks may be shell, Node, Perl, Ruby,
 * Java) load code of the caller's choosing.
 */
export const ENV_DENY = new RegExp(
  '^(' +
    [
      // the process and its shell
      'PATH|HOME|SHELL|USER|LOGNAME|PWD|TMPDIR|TMP|TEMP|IFS|ENV|BASH_ENV|BASH_FUNC_.*|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|CDPATH|GLOBIGNORE|HOSTNAME',
      // the dynamic loader and libc
      'LD_.*|DYLD_.*|GCONV_PATH|LOCPATH|NLSPATH|MALLOC_.*|GLIBC_TUNABLES|HOSTALIASES|RES_OPTIONS|LOCALDOMAIN|TZDIR',
      // interpreters
      'NODE_(?!ENV$).*|PYTHON.*|PERL5LIB|PERLLIB|PERL5OPT|PERL5DB|RUBYLIB|RUBYOPT|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|CLASSPATH|LUA_.*|TCLLIBPATH',
      // TLS and network plumbing, Docker and compose themselves
      'OPENSSL_.*|SSLKEYLOGFILE|SSL_.*|CURL_CA_BUNDLE|REQUESTS_CA_BUNDLE|.*_PROXY|DOCKER_.*|COMPOSE_.*|BUILDKIT_.*|BUILDX_.*|XDG_.*|GIT_.*',
    ].join('|') +
    ')$',
  'i',
);

const refuse = (message: string) => new TenantError('agent-refused', message);

const str = (max: number) => z.string().max(max).refine((s) => !s.includes('\0'), 'must not contain NUL');
const pathArg = str(4096);
const env = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'environment names are letters, digits and "_"'), str(4096))
  .refine((e) => Object.keys(e).length <= 50, 'at most 50 environment variables')
  .refine((e) => Object.keys(e).every((k) => !ENV_DENY.test(k)), 'environment variables that steer compose itself (PATH, DOCKER_*, COMPOSE_*, loader and interpreter paths such as LD_PRELOAD or PYTHONPATH, …) are refused')
  .refine((e) => e.IMAGE_TAG === undefined || IMAGE_TAG_RE.test(e.IMAGE_TAG), 'IMAGE_TAG must be a Docker tag');
const service = z.string().regex(SERVICE_NAME_RE, 'must be a compose service name');
const services = z.array(service).max(100);
// Extra keys (a rendered file's `kind`) are dropped, never passed on.
const fileBody = z.object({ path: pathArg, content: z.string() });
const imageRef = z.string().max(512).regex(/^[a-z0-9]+(?:[._:/-][a-zA-Z0-9._-]+)*$/, 'must be an image reference');
const snapshotEntry = z.object({ content: z.string(), mode: z.number().int().min(0).max(0o777) }).nullable();

const ARGS: { [K in AgentOperation]: z.ZodType<unknown[]> } = {
  ping: z.tuple([]),
  listServices: z.tuple([env.optional()]),
  contentManifest: z.tuple([z.array(z.string()).max(TENANT_CONTENT_DIRS.length)]),
  readFiles: z.tuple([z.array(pathArg).max(500)]),
  fileChecksums: z.tuple([z.array(pathArg).max(500)]),
  writeFiles: z.tuple([z.array(pathArg).max(500), z.array(fileBody).max(500)]),
  pull: z.tuple([services, env]),
  recreate: z.tuple([services.min(1), env]),
  upAll: z.tuple([env, z.boolean().nullable().optional()]),
  containerStates: z.tuple([services]),
  serviceStates: z.tuple([env]),
  pinRunningImages: z.tuple([services.nullable(), env, z.boolean()]),
  validateCompose: z.tuple([env]),
  diskFree: z.tuple([]),
  snapshotFiles: z.tuple([z.array(pathArg).max(500)]),
  restoreFiles: z.tuple([z.record(pathArg, snapshotEntry)]),
  imageIds: z.tuple([z.array(imageRef).max(100)]),
  tagImage: z.tuple([z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be an image id (sha256:…)'), imageRef]),
  httpProbe: z.tuple([
    service,
    z.number().int().min(1).max(65535),
    z.string().max(2048).regex(/^\/[\x21-\x7e]*$/, 'must be an absolute URL path'),
  ]),
};

export interface GuardContext {
  managed: readonly string[];
  driver: ExecutionDriver;
}

/** Validated arguments, or a TenantError('agent-refused' | 'path-rejected' | 'unknown-service'). */
export async function guardArguments(op: AgentOperation, raw: unknown, ctx: GuardContext): Promise<unknown[]> {
  const parsed = ARGS[op].safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw refuse(`${op}: argument ${issue?.path.join('.') || '(all)'} ${issue?.message ?? 'is invalid'}`);
  }
  const args = parsed.data;
  const paths = (list: string[]) => {
    for (const p of list) {
      const problem = checkManagedPath(p);
      if (problem) throw new TenantError('path-rejected', `path ${JSON.stringify(p.slice(0, 200))} ${problem}`);
      if (!isAllowedPath(p, ctx.managed)) {
        throw new TenantError('path-rejected', `path ${JSON.stringify(p.slice(0, 200))} is outside this agent's managed list (${ctx.managed.join(', ')})`);
      }
    }
  };
  switch (op) {
    case 'contentManifest':
      for (const d of args[0] as string[]) {
        if (!TENANT_CONTENT_DIRS.includes(d)) throw refuse(`contentManifest covers only ${TENANT_CONTENT_DIRS.join(', ')}, not ${JSON.stringify(d)}`);
      }
      break;
    case 'readFiles':
    case 'fileChecksums':
    case 'snapshotFiles':
      paths(args[0] as string[]);
      break;
    case 'writeFiles': {
      const [managed, files] = args as [string[], { path: string }[]];
      // Only paths both sides manage: the control plane's list narrows ours, never widens it.
      paths(files.map((f) => f.path));
      const theirs = new Set(managed);
      const outside = files.find((f) => !theirs.has(f.path));
      if (outside) throw new TenantError('path-rejected', `path ${JSON.stringify(outside.path)} is not in the managed list sent with the write`);
      break;
    }
    case 'restoreFiles':
      paths(Object.keys(args[0] as Record<string, unknown>));
      break;
    case 'pinRunningImages':
      // It reads the compose file (for its version line) and reads and writes the pin.
      paths([PIN_PATH, COMPOSE_PATH]);
      break;
    case 'pull':
    case 'recreate':
      await declared(ctx.driver, args[0] as string[], args[1] as Record<string, string>);
      break;
    case 'httpProbe':
      await declared(ctx.driver, [args[0] as string], {});
      break;
    default:
      break;
  }
  return args;
}

async function declared(driver: ExecutionDriver, wanted: string[], env: Record<string, string>): Promise<void> {
  if (wanted.length === 0) return;
  const known = await driver.listServices(env);
  const unknown = wanted.filter((s) => !known.includes(s));
  if (unknown.length > 0) {
    throw new TenantError('unknown-service', `service${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} not in the compose file (it declares: ${known.join(', ')})`);
  }
}
