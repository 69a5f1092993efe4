/**
 * `npm run agent -- --ccp-url … --invite-code … --slug … --dir …`: the tenant
 * agent. `--help` lists every option with its environment variable (the
 * table is OPTION_SPECS in agent/cli.ts).
 *
 * Exit codes: 0 stopped by a signal (or --help), 1 could not start, 2
 * registration refused or rejected (with --tenants: every tenant's).
 */
import { startAgent, startMultiTenantAgent, type AgentConfig, type AgentOutcome, type MultiTenantAgentConfig } from './agent.js';
import { configFrom, multiConfigFrom, parseArgs, usage } from './cli.js';

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
  if (options.help) {
    console.log(usage());
    process.exit(0);
  }
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
