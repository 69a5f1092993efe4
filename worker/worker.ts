/**
 * The one place real clients are made for activities: database repositories
 * and execution drivers. Used by the standalone worker and by `npm start`.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogEntry, type LogLevel, type WorkerOptions as TemporalWorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import type { NotificationDeps } from '../activities/notifications.js';
import type { FrontDoor } from '../core/types.js';
import type { ReleasePlanner } from '../core/release-plan.js';
import { TASK_QUEUE } from '../workflows/surface.js';
import type { Keyring } from '../core/keyring.js';
import type { Database } from '../prisma/db.js';
import { createInstanceRepo, createUpgradeRepo } from '../prisma/repositories.js';
import { createSnapshotStore } from '../prisma/snapshot-store.js';
import { createDriftRepo } from '../prisma/drift-repo.js';
import type { DriftFoundEvent } from '../activities/index.js';
import type { DriverFor } from '../transports/drivers.js';
import { BUNDLE_FILE, buildBundle, prebuiltBundleIsFresh } from './bundle.js';
import { dataConverterFor } from './data-converter.js';
import { freeLoopbackAddress, type Metrics } from '../platform/metrics.js';
import { stepMetrics } from './step-metrics.js';

export interface WorkerOptions {
  db: Database;
  /** Seals Temporal payloads and snapshots' files (the control plane's keys). */
  keyring: Keyring;
  temporalAddress: string;
  namespace?: string;
  taskQueue?: string;
  driverFor: DriverFor;
  planner: ReleasePlanner;
  frontDoor?: FrontDoor;
  minFreeDiskBytes?: number;
  verifyPollMs?: number;
  /** Notifications' outbox and delivery (platform/notifier.ts). */
  notifications?: NotificationDeps;
  /** Called when a drift check finds an instance newly drifted (activities/index.ts onDriftFound). */
  onDriftFound?: (event: DriftFoundEvent) => Promise<void>;
  /** After a shutdown request, how long running activities get to finish before they are cancelled (and retried elsewhere). */
  shutdownGraceMs?: number;
  /** Counts status changes and times steps (platform/metrics.ts). */
  metrics?: Metrics;
  /** Also export Temporal's own worker metrics (the SDK's Prometheus exporter on a loopback port), merged into /metrics. */
  exportTemporalMetrics?: boolean;
}

/**
 * `npm run worker` on SIGTERM: stops taking tasks at once, lets running steps
 * finish for this long (DRYDOCK_SHUTDOWN_GRACE_SECONDS), then cancels what
 * still runs (compose is stopped), and the cancelled attempt is retried on
 * another worker. Give the process manager's stop timeout a few seconds more
 * (docker's default is 10 s: `stop_grace_period: 30s`).
 */
export const WORKER_SHUTDOWN_GRACE_MS = 25_000;

/**
 * One line per SDK log entry: a failed activity attempt is an expected event
 * (the step retries, then parks), so it names the step and the error, without
 * the error object and its stack trace. DRYDOCK_TEMPORAL_LOG_LEVEL=DEBUG shows more.
 */
function logLine({ level, message, meta }: LogEntry) {
  const m = (meta ?? {}) as Record<string, unknown>;
  const where = ['workflowType', 'workflowId', 'activityType', 'attempt'].filter((k) => m[k] !== undefined).map((k) => `${k}=${String(m[k])}`);
  const error = m.error instanceof Error ? `: ${m.error.message.split('\n')[0]}` : '';
  console.error(`temporal ${level.toLowerCase()}: ${message}${error}${where.length ? ` (${where.join(' ')})` : ''}`);
}

/** The SDK's Prometheus exporter of this process, when the runtime was installed with one. */
let temporalExporter: string | undefined;

/**
 * Temporal's own log lines are for debugging the SDK; keep them to warnings
 * unless asked. The runtime is installed once per process: the first worker
 * decides whether the SDK exports its metrics.
 */
async function installQuietRuntime(exportMetrics: boolean): Promise<string | undefined> {
  const level = (process.env.DRYDOCK_TEMPORAL_LOG_LEVEL ?? 'WARN') as LogLevel;
  try {
    const bindAddress = exportMetrics ? await freeLoopbackAddress() : undefined;
    Runtime.install({
      logger: new DefaultLogger(level, logLine),
      ...(bindAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress, countersTotalSuffix: true, useSecondsForDurations: true } } } } : {}),
    });
    temporalExporter = bindAddress;
  } catch {
    // already installed by an earlier worker in this process
  }
  return temporalExporter;
}

/**
 * How the worker runs its tasks, apart from what it runs. The fleet
 * benchmark's raw-Temporal baseline (bench/fleet.ts) runs with the same.
 */
export const WORKER_TUNING = {
  // Cancellation reaches an activity only with a heartbeat's answer: send them often enough that Cancel is prompt.
  defaultHeartbeatThrottleInterval: '2 seconds',
  maxHeartbeatThrottleInterval: '5 seconds',
} satisfies Partial<TemporalWorkerOptions>;

export interface RunnableWorker {
  worker: Worker;
  /** Runs until shutdown, then closes the worker's connection. */
  run(): Promise<void>;
}

export async function createWorker(opts: WorkerOptions): Promise<RunnableWorker> {
  const exporter = await installQuietRuntime(!!(opts.metrics && opts.exportTemporalMetrics));
  if (exporter && opts.exportTemporalMetrics) opts.metrics?.setTemporalExporter(exporter);
  const activities = createActivities({
    instances: createInstanceRepo(opts.db.prisma),
    upgrades: createUpgradeRepo(opts.db.prisma),
    snapshots: createSnapshotStore(opts.db.prisma, opts.keyring),
    driverFor: opts.driverFor,
    planner: opts.planner,
    frontDoor: opts.frontDoor,
    minFreeDiskBytes: opts.minFreeDiskBytes,
    verifyPollMs: opts.verifyPollMs,
    notifications: opts.notifications,
    drift: createDriftRepo(opts.db.prisma),
    onDriftFound: opts.onDriftFound,
    events: opts.metrics?.upgradeEvents,
  });

  const connection = await NativeConnection.connect({ address: opts.temporalAddress });
  const workflowSource = prebuiltBundleIsFresh()
    ? { workflowBundle: { codePath: BUNDLE_FILE } }
    : { workflowBundle: await buildBundle() };
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    activities,
    dataConverter: dataConverterFor(opts.keyring),
    ...(opts.shutdownGraceMs !== undefined ? { shutdownGraceTime: opts.shutdownGraceMs } : {}),
    ...WORKER_TUNING,
    ...workflowSource,
    ...(opts.metrics ? { interceptors: { activity: [stepMetrics(opts.metrics)] } } : {}),
  });
  return { worker, run: () => worker.run().finally(() => connection.close()) };
}
