/**
 * `npm run worker`: a standalone worker, for running workers apart from the
 * API (needs DATABASE_URL and TEMPORAL_ADDRESS; PGlite serves one process).
 * DRYDOCK_TASK_QUEUE (default drydock-upgrades), DRYDOCK_RELEASES_DIR
 * (default the shipped templates/; DRYDOCK_TEMPLATES_DIR is its former name),
 * DRYDOCK_FRONT_DOOR and the keys (DRYDOCK_SECRET_KEY, or the key file in
 * DRYDOCK_DATA_DIR) must match the API's. DRYDOCK_METRICS_LISTEN serves this
 * worker's metrics (counters, step durations, Temporal's worker metrics;
 * DRYDOCK_METRICS_TOKEN guards it when set).
 */
import { createRuntime } from '../platform/runtime.js';
import { WORKER_SHUTDOWN_GRACE_MS } from './worker.js';
import { frontDoorFromEnv } from './front-door.js';
import { TASK_QUEUE } from '../workflows/surface.js';
import { metricsSettingsFromEnv, serveMetrics } from '../platform/metrics.js';

function graceFromEnv(value: string | undefined): number {
  if (value === undefined || value === '') return WORKER_SHUTDOWN_GRACE_MS;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) {
    console.error(`DRYDOCK_SHUTDOWN_GRACE_SECONDS=${value} is not a number of seconds (0 or more)`);
    process.exit(1);
  }
  return seconds * 1000;
}

const databaseUrl = process.env.DATABASE_URL;
const temporalAddress = process.env.TEMPORAL_ADDRESS;
if (!databaseUrl || !temporalAddress) {
  console.error('npm run worker needs DATABASE_URL and TEMPORAL_ADDRESS (npm start runs a worker in-process on the embedded defaults)');
  process.exit(1);
}
try {
  // The worker's counters, step durations and Temporal's worker metrics: on DRYDOCK_METRICS_LISTEN only (it serves no other HTTP).
  const metricsSettings = metricsSettingsFromEnv();
  const runtime = await createRuntime({
    databaseUrl,
    dataDir: process.env.DRYDOCK_DATA_DIR || '.data',
    // Remote instances are reached with the same CA as the API's (DRYDOCK_CA_DIR, default the database).
    caDir: process.env.DRYDOCK_CA_DIR || undefined,
    log: console.log,
  });
  const { worker, run } = await runtime.createWorker({
    temporalAddress,
    taskQueue: process.env.DRYDOCK_TASK_QUEUE || undefined,
    frontDoor: frontDoorFromEnv(process.env.DRYDOCK_FRONT_DOOR),
    shutdownGraceMs: graceFromEnv(process.env.DRYDOCK_SHUTDOWN_GRACE_SECONDS),
    exportTemporalMetrics: metricsSettings.listen !== undefined,
  });
  const listener = metricsSettings.listen ? await serveMetrics(runtime.metrics, metricsSettings.listen, metricsSettings.token) : undefined;
  if (listener) console.log(`metrics: http://${listener.address}/metrics${metricsSettings.token ? ' (bearer token)' : ''}`);
  const stop = () => worker.shutdown();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  console.log(`worker polling ${temporalAddress} (task queue ${process.env.DRYDOCK_TASK_QUEUE || TASK_QUEUE})`);
  await run();
  await listener?.close();
  await runtime.close();
} catch (err) {
  console.error(`worker could not start: ${(err as Error).message}`);
  process.exit(1);
}
