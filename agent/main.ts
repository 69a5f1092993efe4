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
 *   --tenants FILE        serve many tenant directories from one process (DRYDOCK_AGENT_TENANTS): a JSON array of
 *                         {slug, dir, project?, name?, inviteCode?} replacing --slug, --dir, --project, --name and
 *                         --invite-code; each tenant has its own key, invite, approval and certificate (state in
 *                         <state-dir>/<slug>, default ~/.drydock-agent/<slug>), picked by the TLS server name
 *
 * Exit codes: 0 stopped by a signal, 1 could not start, 2 registration refused or rejected (with --tenants: every
 * tenant's).
 */
import { startAgent, startMultiTenantAgent, type AgentConfig, type AgentOutcome, type MultiTenantAgentConfig } from './agent.js';
import { configFrom, multiConfigFrom, parseArgs } from './cli.js';

/** What both modes share once started: close on a signal, and the outcomes of their registrations. */
interface Running {
  close(): Promise<void>;
  outcomes: Promise<AgentOutcome>[];
}

async function startOne(cfg: AgentConfig): Promise<Running> {
  const a = await startAgent(cfg);
  return { close: () => a.close(), outcomes: [a.outcome] };
}

async function startMany(cfg: MultiTenantAgentConfig): Promise<Running> {
  const a = await startMultiTenantAgent(cfg);
  return { close: () => a.close(), outcomes: [...a.outcomes.values()] };
}

/** A configuration error: said in one line, exit 1, before anything starts. */
function orExit<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    console.error(`agent: ${(err as Error).message}`);
    process.exit(1);
  }
}

async function main() {
  const options = orExit(() => parseArgs(process.argv.slice(2), process.env));
  const multi = options.tenants !== undefined;
  let start: () => Promise<Running>;
  if (multi) {
    const cfg = orExit(() => multiConfigFrom(options));
    start = () => startMany(cfg);
  } else {
    const cfg = orExit(() => configFrom(options));
    start = () => startOne(cfg);
  }
  let agent: Running;
  try {
    agent = await start();
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
  // Serves on while at least one tenant is served or still waiting; exits 2 when every one was refused or rejected.
  const outcomes = await Promise.all(agent.outcomes.map((o) => o.catch((err: Error): AgentOutcome => ({ kind: 'refused', message: err.message }))));
  if (outcomes.every((o) => o.kind !== 'serving')) {
    if (multi) console.error('agent: no tenant left to serve');
    await agent.close();
    process.exit(2);
  }
}

await main();
