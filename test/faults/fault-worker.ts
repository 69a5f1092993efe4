/**
 * A standalone worker exactly like `npm run worker` (worker/main.ts: same
 * createWorker, driver factory, planner and environment), plus one fault gate
 * for the crash tests: with DRYDOCK_FAULT_GATE=<activity type>:<driver method>,
 * the first time that activity calls that method of the tenant driver the
 * worker prints `fault-gate: reached <activity>` and never finishes the
 * activity, so the test can SIGKILL it at a known point. What the gated call
 * does first:
 *
 * - writeFiles: writes the first file of the batch for real (a kill mid-batch);
 * - pull / upAll / recreate: runs compose for real, announcing at its first
 *   output line (a kill while compose runs, or just after);
 * - anything else (the plan's readFiles, verify's containerStates): nothing.
 *
 * The gate holds the step's first attempt only, so with two such workers on
 * one queue the one that reaches it first is the one to kill, and the other
 * runs the retry. Every retried attempt's first tenant call prints
 * `fault-trace: <activity> attempt <n> at <epoch ms>`: when the step resumed
 * on this worker.
 *
 * Run with `node --import tsx test/faults/fault-worker.ts`.
 */
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { ExecutionDriver, OperationOptions } from '../../core/driver.js';
import { TASK_QUEUE } from '../../workflows/surface.js';
import { openDatabase } from '../../prisma/db.js';
import { createAgentRepo } from '../../prisma/repositories.js';
import { openCa } from '../../platform/ca.js';
import { createDriverFactory, type DriverFor } from '../../transports/drivers.js';
import { createPlanner, renderDefaultsFromEnv } from '../../worker/planner.js';
import { keyringFromEnv } from '../../platform/keys.js';
import { createWorker } from '../../worker/worker.js';

const [gate, gateMethod] = (process.env.DRYDOCK_FAULT_GATE ?? '').split(':');
let fired = false;
const hang = () => new Promise<never>(() => {});
const announce = (detail: string) => console.log(`fault-gate: reached ${gate}${detail ? ` (${detail})` : ''}`);

function currentActivity(): { type: string; attempt: number } | undefined {
  try {
    const { activityType, attempt } = Context.current().info;
    return { type: activityType, attempt };
  } catch {
    return undefined; // not inside an activity (the API's preview, say)
  }
}

const traced = new Set<string>();
function traceRetry(activity: { type: string; attempt: number } | undefined) {
  if (!activity || activity.attempt < 2 || traced.has(`${activity.type}:${activity.attempt}`)) return;
  traced.add(`${activity.type}:${activity.attempt}`);
  console.log(`fault-trace: ${activity.type} attempt ${activity.attempt} at ${Date.now()}`);
}

function gated(driver: ExecutionDriver): ExecutionDriver {
  return new Proxy(driver, {
    get(target, prop, receiver) {
      const real = Reflect.get(target, prop, receiver) as unknown;
      if (typeof real !== 'function') return real;
      return async (...args: unknown[]) => {
        const activity = currentActivity();
        traceRetry(activity);
        if (fired || !gate || prop !== gateMethod || activity?.type !== gate || activity.attempt !== 1) {
          return (real as (...a: unknown[]) => unknown).apply(target, args);
        }
        fired = true;
        if (prop === 'writeFiles') {
          const [managed, files] = args as Parameters<ExecutionDriver['writeFiles']>;
          const r = await target.writeFiles(managed, files.slice(0, 1));
          announce(`wrote ${r.written.join(', ') || 'nothing'} of ${files.length} files`);
          return hang();
        }
        if (prop === 'pull' || prop === 'upAll' || prop === 'recreate') {
          let first = true;
          const optsAt = prop === 'upAll' ? 1 : 2;
          const opts = (args[optsAt] ?? {}) as OperationOptions;
          const withAnnounce: OperationOptions = {
            ...opts,
            onProgress: (line) => {
              if (first) announce(`compose running: ${line.slice(0, 80)}`);
              first = false;
              opts.onProgress?.(line);
            },
          };
          const callArgs = [...args];
          callArgs[optsAt] = withAnnounce;
          await (real as (...a: unknown[]) => Promise<unknown>).apply(target, callArgs);
          if (first) announce('compose finished without output');
          return hang();
        }
        announce(String(prop));
        return hang();
      };
    },
  });
}

const databaseUrl = process.env.DATABASE_URL;
const temporalAddress = process.env.TEMPORAL_ADDRESS;
if (!databaseUrl || !temporalAddress) {
  console.error('the fault worker needs DATABASE_URL and TEMPORAL_ADDRESS');
  process.exit(1);
}
const db = await openDatabase({ url: databaseUrl, log: console.log });
const ca = await openCa(process.env.DRYDOCK_CA_DIR || path.join(process.env.DRYDOCK_DATA_DIR || '.data', 'ca'), console.log);
const driverFor: DriverFor = await createDriverFactory({
  log: console.log,
  remote: { credentials: ca.clientCredentials, approvedAgent: createAgentRepo(db.prisma).approvedAgent },
});
const { worker, run } = await createWorker({
  db,
  keyring: await keyringFromEnv(process.env.DRYDOCK_DATA_DIR || '.data', console.log),
  temporalAddress,
  taskQueue: process.env.DRYDOCK_TASK_QUEUE || undefined,
  driverFor: (t) => gated(driverFor(t)),
  planner: createPlanner(renderDefaultsFromEnv(), process.env.DRYDOCK_TEMPLATES_DIR || undefined),
});
process.on('SIGTERM', () => worker.shutdown());
console.log(`worker polling ${temporalAddress} (task queue ${process.env.DRYDOCK_TASK_QUEUE || TASK_QUEUE}; fault gate ${gate ? `${gate}:${gateMethod}` : 'none'})`);
await run();
await db.close();
