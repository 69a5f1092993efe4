/**
 * The composition root: the one place the real clients are made — database
 * and its repositories, keyring, agent CA (in the database unless a shared
 * directory is configured), execution drivers, release catalog
 * and planner, and the Temporal worker. `npm start` (api/control-plane.ts) and
 * the standalone worker (worker/main.ts) both build on it; each entry point
 * only reads its own settings and adds what it alone runs (the API, the
 * Temporal dev server).
 */
import path from 'node:path';
import type { FrontDoor } from '../core/types.js';
import type { ReleasePlanner } from '../core/release-plan.js';
import type { CommandRunner } from '../tenant/run-command.js';
import type { Keyring } from '../core/keyring.js';
import type { RenderDefaults } from '../core/render.js';
import { openDatabase, type Database } from '../prisma/db.js';
import { createAgentRepo, createInstanceRepo, createReleaseRepo, createUpgradeRepo } from '../prisma/repositories.js';
import { createDriftRepo } from '../prisma/drift-repo.js';
import type { DriftFoundEvent } from '../activities/index.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createCatalog, type ReleaseCatalog } from '../worker/catalog.js';
import { openCa, openSharedCa, type ControlPlaneCa } from './ca.js';
import { createDriverFactory, type DriverFor } from '../transports/drivers.js';
import { keyringFromEnv } from './keys.js';
import { defaultPlanner, releasesDirFromEnv, renderDefaultsFromEnv, withCatalog } from '../worker/planner.js';
import { createWorker, type RunnableWorker } from '../worker/worker.js';
import { Client, Connection } from '@temporalio/client';
import { dataConverterFor } from '../worker/data-converter.js';
import { createNotifier, driftFoundNotification, type Notifier } from './notifier.js';

export interface RuntimeOptions {
  /** PostgreSQL; without it, embedded PGlite under `<dataDir>/pglite` (one process only). */
  databaseUrl?: string;
  /** Where the keys, the CA and the embedded database live by default. */
  dataDir: string;
  log: (m: string) => void;
  /** Default DRYDOCK_SECRET_KEY or `<dataDir>/secret.keys`. */
  keyring?: Keyring;
  /**
   * The agent CA's directory (DRYDOCK_CA_DIR), shared by every process; default
   * the database, sealed with the keyring (a CA in `<dataDir>/ca` from before is imported once).
   */
  caDir?: string;
  /** Bundles published into the catalog at start; default DRYDOCK_RELEASES_DIR, else the shipped templates/. */
  releasesDir?: string;
  /** Render defaults; default from the environment. */
  renderDefaults?: RenderDefaults;
  /** Defaults to the releases directory's default release. */
  planner?: ReleasePlanner;
  /** Runs local instances' compose commands; default tenant/run-command.ts. */
  commandRunner?: CommandRunner;
}

export interface WorkerSettings {
  temporalAddress: string;
  taskQueue?: string;
  verifyPollMs?: number;
  frontDoor?: FrontDoor;
  /** Records and sends notifications; default one on its own Temporal connection (the standalone worker). */
  notifier?: Notifier;
  /** Where "drift found" events go (notifications); see activities/index.ts onDriftFound. */
  onDriftFound?: (event: DriftFoundEvent) => Promise<void>;
  shutdownGraceMs?: number;
  /** Merge Temporal's own worker metrics into /metrics (only when /metrics is served). */
  exportTemporalMetrics?: boolean;
}

export interface Runtime {
  db: Database;
  keyring: Keyring;
  ca: ControlPlaneCa;
  repos: {
    instances: ReturnType<typeof createInstanceRepo>;
    upgrades: ReturnType<typeof createUpgradeRepo>;
    agents: ReturnType<typeof createAgentRepo>;
    drift: ReturnType<typeof createDriftRepo>;
  };
  catalog: ReleaseCatalog;
  /** The planner with the catalog and the instances' secrets. */
  planner: ReleasePlanner;
  driverFor: DriverFor;
  /** This process's metrics: the worker counts into them, the API serves them. */
  metrics: Metrics;
  /** A worker on these clients. */
  createWorker(settings: WorkerSettings): Promise<RunnableWorker>;
  close(): Promise<void>;
}

export async function createRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { log } = opts;
  const db = await openDatabase({ url: opts.databaseUrl, dataDir: path.join(opts.dataDir, 'pglite'), log });
  try {
    const keyring = opts.keyring ?? (await keyringFromEnv(opts.dataDir, log));
    const ca = opts.caDir
      ? await openCa(opts.caDir, log)
      : await openSharedCa({ prisma: db.prisma, keyring, importFrom: path.join(opts.dataDir, 'ca'), log });
    const instances = createInstanceRepo(db.prisma);
    const upgrades = createUpgradeRepo(db.prisma);
    const agents = createAgentRepo(db.prisma);
    const metrics = createMetrics();
    const driverFor = await createDriverFactory({
      log,
      run: opts.commandRunner,
      remote: { credentials: ca.clientCredentials, approvedAgent: agents.approvedAgent, onContact: metrics.agentContact },
    });
    const renderDefaults = opts.planner?.defaults ?? opts.renderDefaults ?? renderDefaultsFromEnv();
    const releasesDir = opts.releasesDir ?? releasesDirFromEnv();
    const catalog = createCatalog(createReleaseRepo(db.prisma), renderDefaults);
    const loaded = await catalog.loadDir(releasesDir);
    log(
      loaded.length > 0
        ? `releases: ${loaded.map((b) => b.release.version).join(', ')} from ${releasesDir}`
        : `releases: ${releasesDir} is a template set without release.json; it renders as before`,
    );
    const planner = withCatalog(opts.planner ?? defaultPlanner(renderDefaults, releasesDir, catalog), catalog, instances, keyring);
    return {
      db,
      keyring,
      ca,
      repos: { instances, upgrades, agents, drift: createDriftRepo(db.prisma) },
      catalog,
      planner,
      driverFor,
      metrics,
      async createWorker({ notifier, ...s }) {
        const n = notifier ?? standaloneNotifier(db, keyring, s.temporalAddress, s.taskQueue, log);
        const onDriftFound = s.onDriftFound ?? (async (e: DriftFoundEvent) => void (await n.emit(driftFoundNotification(e, n.links))));
        return createWorker({ db, keyring, driverFor, planner, metrics, notifications: n.activityDeps(), ...s, onDriftFound });
      },
      close: () => db.close(),
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** A notifier for a worker without a control plane beside it: its Temporal client connects on first use. */
function standaloneNotifier(db: Database, keyring: Keyring, temporalAddress: string, taskQueue: string | undefined, log: (m: string) => void): Notifier {
  let client: Promise<Client> | undefined;
  return createNotifier({
    prisma: db.prisma,
    keyring,
    taskQueue,
    log,
    temporal: () =>
      (client ??= Connection.connect({ address: temporalAddress }).then(
        (connection) => new Client({ connection, dataConverter: dataConverterFor(keyring) }),
        (err: unknown) => {
          client = undefined;
          throw err;
        },
      )),
  });
}
