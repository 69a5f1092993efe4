/**
 * `npm run agent -- --ccp-url … --invite-code … --slug … --dir …`: the tenant
 * agent. Every option can also come from the environment (in brackets).
 *
 *   --ccp-url URL         the control plane's API base (DRYDOCK_CCP_URL)
 *   --invite-code CODE    single-use code from the operator (DRYDOCK_INVITE_CODE)
 *   --slug SLUG           the instance's slug (DRYDOCK_SLUG)
 *   --dir DIR             the tenant's compose directory (DRYDOCK_DIR)
 *   --project NAME        compose project name, default the slug (DRYDOCK_PROJECT)
 *   --name NAME           display name for a new instance (DRYDOCK_NAME)
 *   --listen HOST:PORT    where to listen, default 0.0.0.0:7443 (DRYDOCK_AGENT_LISTEN)
 *   --public-url URL      the https URL the control plane calls (DRYDOCK_AGENT_URL)
 *   --state-dir DIR       key, certificate, registration (DRYDOCK_AGENT_STATE_DIR), default ~/.drydock-agent/<slug>
 *   --managed LIST        paths the agent may read and write, comma-separated, `dir/` for a subtree (DRYDOCK_AGENT_MANAGED)
 *   --ca-fingerprint FP   pin the control plane's CA (sha256, as the invite shows it) (DRYDOCK_CA_FINGERPRINT)
 *   --poll-ms MS          normal poll interval, default 30000 (DRYDOCK_AGENT_POLL_MS)
 *   --backoff-ms LIST     back-off steps, default 30000,60000,120000,300000 (DRYDOCK_AGENT_BACKOFF_MS)
 *   --lock-stale-ms MS    take over a tenant lock untouched this long, default 300000 (DRYDOCK_AGENT_LOCK_STALE_MS)
 *
 * Exit codes: 0 stopped by a signal, 1 could not start, 2 registration refused or rejected.
 */
import { parseManagedList } from './guard.js';
import { defaultStateDir, startAgent, type AgentConfig } from './agent.js';
import { DEFAULT_POLL_SCHEDULE } from './poll.js';

const OPTIONS: Record<string, string> = {
  'ccp-url': 'DRYDOCK_CCP_URL',
  'invite-code': 'DRYDOCK_INVITE_CODE',
  slug: 'DRYDOCK_SLUG',
  dir: 'DRYDOCK_DIR',
  project: 'DRYDOCK_PROJECT',
  name: 'DRYDOCK_NAME',
  listen: 'DRYDOCK_AGENT_LISTEN',
  'public-url': 'DRYDOCK_AGENT_URL',
  'state-dir': 'DRYDOCK_AGENT_STATE_DIR',
  managed: 'DRYDOCK_AGENT_MANAGED',
  'ca-fingerprint': 'DRYDOCK_CA_FINGERPRINT',
  'poll-ms': 'DRYDOCK_AGENT_POLL_MS',
  'backoff-ms': 'DRYDOCK_AGENT_BACKOFF_MS',
  'lock-stale-ms': 'DRYDOCK_AGENT_LOCK_STALE_MS',
};

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Record<string, string> {
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

function configFrom(o: Record<string, string>): AgentConfig {
  for (const required of ['ccp-url', 'slug', 'dir']) if (!o[required]) throw new Error(`--${required} (or ${OPTIONS[required]}) is required`);
  const listen = o.listen ?? '0.0.0.0:7443';
  const at = listen.lastIndexOf(':');
  if (at < 0) throw new Error('--listen must be HOST:PORT');
  const port = Number(listen.slice(at + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--listen must be HOST:PORT');
  return {
    ccpUrl: o['ccp-url']!,
    inviteCode: o['invite-code'],
    slug: o.slug!,
    dir: o.dir!,
    projectName: o.project,
    name: o.name,
    listenHost: listen.slice(0, at).replace(/^\[|\]$/g, ''),
    listenPort: port,
    publicUrl: o['public-url'],
    stateDir: o['state-dir'] ?? defaultStateDir(o.slug!),
    managed: o.managed ? parseManagedList(o.managed) : undefined,
    caFingerprint: o['ca-fingerprint'],
    schedule: {
      normalMs: o['poll-ms'] ? positive('poll-ms', o['poll-ms']) : DEFAULT_POLL_SCHEDULE.normalMs,
      backoffMs: o['backoff-ms'] ? o['backoff-ms'].split(',').map((v) => positive('backoff-ms', v.trim())) : DEFAULT_POLL_SCHEDULE.backoffMs,
    },
    lockStaleMs: o['lock-stale-ms'] ? positive('lock-stale-ms', o['lock-stale-ms']) : undefined,
  };
}

async function main() {
  let cfg: AgentConfig;
  try {
    cfg = configFrom(parseArgs(process.argv.slice(2), process.env));
  } catch (err) {
    console.error(`agent: ${(err as Error).message}`);
    process.exit(1);
  }
  let agent;
  try {
    agent = await startAgent(cfg);
  } catch (err) {
    console.error(`agent: could not start: ${(err as Error).message}`);
    process.exit(1);
  }
  const stop = async () => {
    await agent.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const outcome = await agent.outcome.catch((err: Error) => ({ kind: 'refused' as const, message: err.message }));
  if (outcome.kind !== 'serving') {
    await agent.close();
    process.exit(2);
  }
}

await main();
