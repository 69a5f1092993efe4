/**
 * The agent process of the fleet benchmark: the real multi-tenant agent
 * (agent/agent.ts startMultiTenantAgent, the same command line as
 * `npm run agent -- --tenants FILE …`), with SIMULATED COMPOSE
 * (bench/sim-compose.ts) instead of the host's Docker: every compose command
 * is recorded and returns at once.
 *
 * Extra settings from the environment:
 *   SIM_INITIAL_TAG   the tag every tenant's containers start on
 *   SIM_STATS_FILE    where to write the recorded calls by subcommand, on SIGUSR2
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startMultiTenantAgent } from '../agent/agent.js';
import { multiConfigFrom, parseArgs } from '../agent/cli.js';
import { createTenantDriver } from '../tenant/tenant.js';
import { composeServices, createRecordingRunner, SimEngine, SIMULATED_LABEL } from './sim-compose.js';

const engine = new SimEngine();
const recorder = createRecordingRunner(engine);
const cfg = multiConfigFrom(parseArgs(process.argv.slice(2), process.env));
const initialTag = process.env.SIM_INITIAL_TAG ?? 'latest';
for (const t of cfg.tenants) {
  const services = composeServices(await readFile(path.join(t.dir, 'docker-compose.yml'), 'utf8'));
  engine.up(t.projectName ?? t.slug, services, initialTag);
}
const simulatedEngine = engine.asEngine();
const agent = await startMultiTenantAgent({
  ...cfg,
  // The benchmark's control plane lifts its registration limit; register as fast as it answers.
  registerConcurrency: 16,
  driverFor: (t) => createTenantDriver({ engine: simulatedEngine, compose: 'v1', run: recorder.run }, { projectName: t.projectName, dir: t.dir }),
});
console.log(`agent: ${SIMULATED_LABEL}`);

process.on('SIGUSR2', () => {
  const file = process.env.SIM_STATS_FILE;
  if (!file) return;
  void writeFile(file, JSON.stringify({ label: SIMULATED_LABEL, composeCalls: recorder.counts(), containers: engine.count(), serving: agent.server.serving().length }));
});
const stop = async () => {
  await agent.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
