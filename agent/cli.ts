/**
 * The agent's command line (agent/main.ts): options and their environment
 * variables, parsed into the configuration of a single-tenant agent, or of a
 * multi-tenant one with `--tenants FILE`.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { normalizeFingerprint } from '../core/invite-code.js';
import { DISPLAY_NAME_FORBIDDEN_RE, DISPLAY_NAME_RULE, SLUG_RE, SLUG_RULE } from '../core/validation.js';
import { defaultStateDir, type AgentConfig, type AgentTenantConfig, type MultiTenantAgentConfig } from './agent.js';
import { parseManagedList } from './guard.js';
import { DEFAULT_POLL_SCHEDULE } from './poll.js';

interface OptionSpec {
  env: string;
  /** What `--help` shows after the option; a flag takes no value. */
  arg?: string;
  help: string;
}

/** Every option, its environment variable and its help line: `--help` prints exactly this table. */
export const OPTION_SPECS: Record<string, OptionSpec> = {
  'ccp-url': { env: 'DRYDOCK_CCP_URL', arg: 'URL', help: "the control plane's https:// API base" },
  'invite-code': { env: 'DRYDOCK_INVITE_CODE', arg: 'CODE', help: "single-use code from the operator; it carries the control plane's CA fingerprint" },
  slug: { env: 'DRYDOCK_SLUG', arg: 'SLUG', help: "the instance's slug" },
  dir: { env: 'DRYDOCK_DIR', arg: 'DIR', help: "the tenant's compose directory" },
  project: { env: 'DRYDOCK_PROJECT', arg: 'NAME', help: 'compose project name, default the slug' },
  name: { env: 'DRYDOCK_NAME', arg: 'NAME', help: 'display name for a new instance' },
  tenants: {
    env: 'DRYDOCK_AGENT_TENANTS',
    arg: 'FILE',
    help: 'serve many tenant directories from one process: a JSON array of {slug, dir, project?, name?, inviteCode?} replacing --slug, --dir, --project, --name and --invite-code',
  },
  listen: { env: 'DRYDOCK_AGENT_LISTEN', arg: 'HOST:PORT', help: 'where to listen, default 0.0.0.0:7443' },
  'public-url': { env: 'DRYDOCK_AGENT_URL', arg: 'URL', help: 'the https URL the control plane calls, default from --listen' },
  'state-dir': { env: 'DRYDOCK_AGENT_STATE_DIR', arg: 'DIR', help: 'key, certificate, registration; default ~/.drydock-agent/<slug>' },
  managed: { env: 'DRYDOCK_AGENT_MANAGED', arg: 'LIST', help: 'paths the agent may read and write, comma-separated, `dir/` for a subtree' },
  'ca-fingerprint': {
    env: 'DRYDOCK_CA_FINGERPRINT',
    arg: 'FP',
    help: "pin the control plane's CA (sha256, as the Agents page shows it); the invite code already carries it, so only needed for older codes",
  },
  'poll-ms': { env: 'DRYDOCK_AGENT_POLL_MS', arg: 'MS', help: 'normal poll interval, default 30000' },
  'backoff-ms': { env: 'DRYDOCK_AGENT_BACKOFF_MS', arg: 'LIST', help: 'back-off steps, default 30000,60000,120000,300000' },
  'lock-stale-ms': { env: 'DRYDOCK_AGENT_LOCK_STALE_MS', arg: 'MS', help: 'take over a tenant lock untouched this long, default 300000' },
  'insecure-http': {
    env: 'DRYDOCK_AGENT_INSECURE_HTTP',
    help:
      'DEVELOPMENT ONLY: accept an http:// control-plane URL. Anyone on the network path then reads the invite code (and can register ' +
      'an agent of their own with it before this one does), sees every poll, and can keep this agent from being approved; only the CA ' +
      'pin (from the invite code or --ca-fingerprint, required with this flag) keeps them from handing it a CA of their own',
  },
  help: { env: '', help: 'print this help and exit' },
};

/** Option → environment variable. */
export const OPTIONS: Record<string, string> = Object.fromEntries(Object.entries(OPTION_SPECS).filter(([, o]) => o.env).map(([k, o]) => [k, o.env]));

/** What `--help` prints: every option with its environment variable. */
export function usage(): string {
  const rows = Object.entries(OPTION_SPECS).map(([k, o]) => [`--${k}${o.arg ? ` ${o.arg}` : ''}`, o.env ? `${o.help} (${o.env})` : o.help] as const);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return [
    'usage: npm run agent -- --ccp-url URL --invite-code CODE --slug SLUG --dir DIR [options]',
    '       npm run agent -- --ccp-url URL --tenants FILE [options]',
    '',
    'The tenant agent: registers with the control plane using an invite code, waits for an operator to approve it, then serves the',
    "tenant's compose directory to the control plane over mutual TLS. Every option can also come from its environment variable.",
    '',
    ...rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`),
    '',
    'Exit codes: 0 stopped by a signal (or --help), 1 could not start, 2 registration refused or rejected (with --tenants: every tenant\'s).',
  ].join('\n');
}

/** The options of one tenant, which `--tenants` gives per tenant instead. */
const PER_TENANT = ['invite-code', 'slug', 'dir', 'project', 'name'] as const;

/** Flags take no value; on the command line they are just present, in the environment "1" or "true". */
const isFlag = (opt: string) => OPTION_SPECS[opt] !== undefined && OPTION_SPECS[opt]!.arg === undefined;

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [opt, name] of Object.entries(OPTIONS)) {
    const v = env[name];
    if (!v) continue;
    if (isFlag(opt)) {
      if (!['1', 'true', '0', 'false'].includes(v)) throw new Error(`${name} must be 1/true or 0/false`);
      if (v === '1' || v === 'true') out[opt] = 'true';
    } else out[opt] = v;
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h') {
      out.help = 'true';
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !(m[1]! in OPTION_SPECS)) throw new Error(`unknown argument ${a} (--help lists the options)`);
    if (isFlag(m[1]!)) {
      if (m[2] !== undefined) throw new Error(`--${m[1]} takes no value`);
      out[m[1]!] = 'true';
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    out[m[1]!] = value;
  }
  return out;
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer of milliseconds`);
  return n;
}

function common(o: Record<string, string>) {
  if (!o['ccp-url']) throw new Error('--ccp-url (or DRYDOCK_CCP_URL) is required');
  const listen = o.listen ?? '0.0.0.0:7443';
  const at = listen.lastIndexOf(':');
  if (at < 0) throw new Error('--listen must be HOST:PORT');
  const port = Number(listen.slice(at + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--listen must be HOST:PORT');
  return {
    ccpUrl: o['ccp-url'],
    listenHost: listen.slice(0, at).replace(/^\[|\]$/g, ''),
    listenPort: port,
    publicUrl: o['public-url'],
    managed: o.managed ? parseManagedList(o.managed) : undefined,
    caFingerprint: o['ca-fingerprint'] ? normalizeFingerprint(o['ca-fingerprint']) : undefined,
    insecureHttp: o['insecure-http'] === 'true',
    schedule: {
      normalMs: o['poll-ms'] ? positive('poll-ms', o['poll-ms']) : DEFAULT_POLL_SCHEDULE.normalMs,
      backoffMs: o['backoff-ms'] ? o['backoff-ms'].split(',').map((v) => positive('backoff-ms', v.trim())) : DEFAULT_POLL_SCHEDULE.backoffMs,
    },
    lockStaleMs: o['lock-stale-ms'] ? positive('lock-stale-ms', o['lock-stale-ms']) : undefined,
  };
}

/** A single-tenant agent's configuration. */
export function configFrom(o: Record<string, string>): AgentConfig {
  for (const required of ['ccp-url', 'slug', 'dir']) if (!o[required]) throw new Error(`--${required} (or ${OPTIONS[required]}) is required`);
  if (!SLUG_RE.test(o.slug!)) throw new Error(`--slug must be ${SLUG_RULE}`);
  if (o.name !== undefined && DISPLAY_NAME_FORBIDDEN_RE.test(o.name)) throw new Error(`--name ${DISPLAY_NAME_RULE}`);
  return {
    ...common(o),
    slug: o.slug!,
    dir: o.dir!,
    inviteCode: o['invite-code'],
    projectName: o.project,
    name: o.name,
    stateDir: o['state-dir'] ?? defaultStateDir(o.slug!),
  };
}

/**
 * `--tenants FILE`: a JSON array of `{slug, dir, project?, name?, inviteCode?}`,
 * one per tenant directory this agent serves. Each tenant keeps its own
 * state in `<state-dir>/<slug>` (default `~/.drydock-agent/<slug>`, where a
 * single-tenant agent of that slug keeps it).
 */
export function multiConfigFrom(o: Record<string, string>, readFile: (file: string) => string = (f) => readFileSync(f, 'utf8')): MultiTenantAgentConfig {
  const clash = PER_TENANT.filter((k) => o[k] !== undefined);
  if (clash.length > 0) throw new Error(`--tenants lists each tenant's own settings; do not also give ${clash.map((k) => `--${k}`).join(', ')}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFile(o.tenants!));
  } catch (err) {
    throw new Error(`--tenants ${o.tenants}: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new Error(`--tenants ${o.tenants}: must be a non-empty JSON array of {slug, dir, project?, name?, inviteCode?}`);
  const seen = new Set<string>();
  const tenants: AgentTenantConfig[] = raw.map((t: unknown, i: number) => {
    const e = t as Record<string, unknown>;
    const where = `--tenants ${o.tenants}: entry ${i}`;
    if (typeof e !== 'object' || e === null) throw new Error(`${where} is not an object`);
    const unknown = Object.keys(e).filter((k) => !['slug', 'dir', 'project', 'name', 'inviteCode'].includes(k));
    if (unknown.length > 0) throw new Error(`${where}: unknown key ${unknown.join(', ')}`);
    if (typeof e.slug !== 'string' || !SLUG_RE.test(e.slug)) throw new Error(`${where}: slug must be ${SLUG_RULE}`);
    if (typeof e.dir !== 'string' || !e.dir) throw new Error(`${where}: dir is required`);
    for (const k of ['project', 'name', 'inviteCode'] as const) {
      if (e[k] !== undefined && typeof e[k] !== 'string') throw new Error(`${where}: ${k} must be a string`);
    }
    if (typeof e.name === 'string' && DISPLAY_NAME_FORBIDDEN_RE.test(e.name)) throw new Error(`${where}: name ${DISPLAY_NAME_RULE}`);
    if (seen.has(e.slug)) throw new Error(`${where}: slug ${e.slug} is listed twice`);
    seen.add(e.slug);
    return {
      slug: e.slug,
      dir: e.dir,
      ...(e.project ? { projectName: e.project as string } : {}),
      ...(e.name ? { name: e.name as string } : {}),
      ...(e.inviteCode ? { inviteCode: e.inviteCode as string } : {}),
    };
  });
  return { ...common(o), tenants, stateDir: o['state-dir'] ?? path.join(os.homedir(), '.drydock-agent') };
}
