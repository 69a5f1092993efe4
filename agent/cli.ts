/**
 * The agent's command line (agent/main.ts): options and their environment
 * variables, parsed into the configuration of a single-tenant agent, or of a
 * multi-tenant one with `--tenants FILE`.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SLUG_RE, SLUG_RULE } from '../core/validation.js';
import { defaultStateDir, type AgentConfig, type AgentTenantConfig, type MultiTenantAgentConfig } from './agent.js';
import { parseManagedList } from './guard.js';
import { DEFAULT_POLL_SCHEDULE } from './poll.js';

export const OPTIONS: Record<string, string> = {
  'ccp-url': 'DRYDOCK_CCP_URL',
  'invite-code': 'DRYDOCK_INVITE_CODE',
  slug: 'DRYDOCK_SLUG',
  dir: 'DRYDOCK_DIR',
  project: 'DRYDOCK_PROJECT',
  name: 'DRYDOCK_NAME',
  tenants: 'DRYDOCK_AGENT_TENANTS',
  listen: 'DRYDOCK_AGENT_LISTEN',
  'public-url': 'DRYDOCK_AGENT_URL',
  'state-dir': 'DRYDOCK_AGENT_STATE_DIR',
  managed: 'DRYDOCK_AGENT_MANAGED',
  'ca-fingerprint': 'DRYDOCK_CA_FINGERPRINT',
  'poll-ms': 'DRYDOCK_AGENT_POLL_MS',
  'backoff-ms': 'DRYDOCK_AGENT_BACKOFF_MS',
  'lock-stale-ms': 'DRYDOCK_AGENT_LOCK_STALE_MS',
};

/** The options of one tenant, which `--tenants` gives per tenant instead. */
const PER_TENANT = ['invite-code', 'slug', 'dir', 'project', 'name'] as const;

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [opt, name] of Object.entries(OPTIONS)) if (env[name]) out[opt] = env[name]!;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !(m[1]! in OPTIONS)) throw new Error(`unknown argument ${a}`);
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
    caFingerprint: o['ca-fingerprint'],
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
