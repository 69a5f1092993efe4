/**
 * The control plane as its own process for the benchmarks (so its memory can
 * be measured apart from the benchmark's): startControlPlane — API, worker,
 * database, the agent CA — on the settings in BENCH_CP_CONFIG (JSON, see
 * ProcessConfig), plus an operator with an API token. Prints one line
 * `READY {"url":…,"token":…}` when it serves; stops on SIGTERM.
 */
import { startControlPlane } from '../api/control-plane.js';
import type { RenderDefaults } from '../core/render.js';
import { createPlanner } from '../worker/planner.js';
import { createTestOperator } from '../test/support.js';

export interface ProcessConfig {
  databaseUrl: string;
  temporalAddress: string;
  dataDir: string;
  caDir: string;
  taskQueue: string;
  templatesDir: string;
  renderDefaults: RenderDefaults;
  verifyPollMs?: number;
  /** Registration and poll limits per second for many agents from one address (the defaults are 10 and 180 per 15 min). */
  agentLimit?: number;
}

const cfg = JSON.parse(process.env.BENCH_CP_CONFIG ?? '') as ProcessConfig;
// A one-second window: the shared limiter keeps each key's hits in the window as one row's array, rewritten
// on every check, so a 15-minute window of thousands of registrations from this one address made each check
// slower than the last (fleet-3000's registrations stalled after about 1,500).
const limit = cfg.agentLimit ? { max: cfg.agentLimit, windowMs: 1_000 } : undefined;
const cp = await startControlPlane({
  databaseUrl: cfg.databaseUrl,
  // No drift schedule: a fleet check must not run in the middle of a measurement.
  driftIntervalMs: null,
  temporalAddress: cfg.temporalAddress,
  dataDir: cfg.dataDir,
  caDir: cfg.caDir,
  port: 0,
  taskQueue: cfg.taskQueue,
  planner: createPlanner(cfg.renderDefaults, cfg.templatesDir),
  verifyPollMs: cfg.verifyPollMs,
  agentRateLimits: limit ? { register: limit, poll: limit, pollAddress: limit } : undefined,
  firstOperator: null,
  log: (m) => process.stderr.write(`control plane: ${m}\n`),
});
const operator = await createTestOperator(cp);
process.stdout.write(`READY ${JSON.stringify({ url: cp.url, token: operator.token })}\n`);

const stop = async () => {
  await cp.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
