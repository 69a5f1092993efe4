/**
 * The composition root: the one place the real clients are made — database
 * and its repositories, keyring, agent CA, execution drivers, release catalog
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
import { createMetrics, type Metrics } from './metrics.js';
import { createCatalog, type ReleaseCatalog } from '../worker/catalog.js';
import { openCa, type ControlPlaneCa } from './ca.js';
import { createDriverFactory, type DriverFor } from '../transports/drivers.js';
import { keyringFromEnv } from './keys.js';
import { defaultPlanner, releasesDirFromEnv, renderDefaultsFromEnv, withCatalog } from '../worker/planner.js';
import { createWorker, type RunnableWorker } from '../worker/worker.js';

export interface RuntimeOptions {
  /** PostgreSQL; without it, embedded PGlite under `<dataDir>/pglite` (one process only). */
  databaseUrl?: string;
  /** Where the keys, the CA and the embedded database live by default. */
  dataDir: string;
  log: (m: string) => void;
  /** Default DRYDOCK_SECRET_KEY or `<dataDir>/secret.keys`. */
  keyring?: Keyring;
  /** The agent CA's directory; default `<dataDir>/ca`. */
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
    const ca = await openCa(opts.caDir ?? path.join(opts.dataDir, 'ca'), log);
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
      repos: { instances, upgrades, agents },
      catalog,
      planner,
      driverFor,
      metrics,
      createWorker: (s) => createWorker({ db, keyring, driverFor, planner, metrics, ...s }),
      close: () => db.close(),
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
