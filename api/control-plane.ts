/**
 * Composes the control plane: database (PostgreSQL or embedded PGlite),
 * Temporal (given address, or a dev server it starts), the worker and the API.
 * `npm start` and the integration tests both go through here.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Express } from 'express';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { openDatabase, type Database } from '../prisma/db.js';
import { createAgentRepo, createInstanceRepo, createReleaseRepo, createUpgradeRepo } from '../prisma/repositories.js';
import { createCatalog } from '../worker/catalog.js';
import { keyringFromEnv } from '../worker/keys.js';
import { openCa } from '../worker/ca.js';
import { findTemporalCli, REPO_ROOT, startDevServer, type DevServer } from '../worker/temporal-server.js';
import { createDriverFactory } from '../worker/drivers.js';
import { defaultPlanner, releasesDirFromEnv, renderDefaultsFromEnv, withCatalog } from '../worker/planner.js';
import { createWorker } from '../worker/worker.js';
import type { FrontDoor } from '../activities/index.js';
import type { CommandRunner } from '../agent/run-command.js';
import type { ReleasePlanner } from '../activities/release-plan.js';
import { createApp } from './app.js';
import { createAuthStore } from './auth-store.js';
import { latestUpgradesFrom } from './routes/overview.js';
import { createAuth, ensureFirstOperator, PID_FILE, type AuthOptions } from './auth.js';
import type { RateLimit } from './rate-limit.js';
import { createUpgradeService } from './upgrade-service.js';

export interface ControlPlaneOptions {
  databaseUrl?: string;
  temporalAddress?: string;
  dataDir?: string;
  port?: number;
  host?: string;
  defaultImageTag?: string;
  temporalUiUrl?: string;
  taskQueue?: string;
  /** Run the worker in this process (the embedded default). */
  runWorker?: boolean;
  verifyPollMs?: number;
  frontDoor?: FrontDoor;
  parkTimeoutMs?: number;
  verifyDeadlineMs?: number;
  /** Defaults to the releases directory's default release and render defaults from the environment. */
  planner?: ReleasePlanner;
  /** Bundles published into the catalog at start; default DRYDOCK_RELEASES_DIR, else the shipped templates/. */
  releasesDir?: string;
  log?: (m: string) => void;
  /** The agent CA's directory; default `<dataDir>/ca`. */
  caDir?: string;
  agentRateLimits?: { register?: RateLimit; poll?: RateLimit };
  /** The built web UI; default `dist/ui`. */
  uiDir?: string;
  /** Session lifetimes, Secure cookies, sign-in limits; defaults in api/auth.ts. */
  auth?: Pick<AuthOptions, 'sessionIdleMs' | 'sessionMaxMs' | 'secureCookies' | 'loginLimits'>;
  /** Created when no operator exists; default from DRYDOCK_ADMIN_EMAIL / DRYDOCK_ADMIN_PASSWORD. Null: none. */
  firstOperator?: { email?: string; password?: string } | null;
  /** Express's `trust proxy`; default from DRYDOCK_TRUST_PROXY. */
  trustProxy?: boolean | number | string;
  /** Runs local instances' compose commands; default agent/run-command.ts (bench/overhead.ts wraps it to time compose). */
  commandRunner?: CommandRunner;
}

/** DRYDOCK_TRUST_PROXY: true/false, a hop count, or Express's address list. */
export function trustProxyFromEnv(value = process.env.DRYDOCK_TRUST_PROXY): boolean | number | string | undefined {
  if (!value) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}

function secureCookiesFromEnv(value = process.env.DRYDOCK_SECURE_COOKIES): boolean | 'auto' {
  return value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : 'auto';
}

export interface ControlPlane {
  url: string;
  /** The Express app it serves (tests list its routes). */
  app: Express;
  db: Database;
  temporal: Client;
  temporalAddress: string;
  temporalUiUrl?: string;
  close(): Promise<void>;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const dataDir = opts.dataDir ?? path.join(REPO_ROOT, '.data');
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: Error) => log(`shutdown: ${err.message}`));
  };

  try {
    const db = await openDatabase({ url: opts.databaseUrl, dataDir: path.join(dataDir, 'pglite'), log });
    cleanups.push(() => db.close());
    if (!db.embedded) log(`database: ${redact(db.url)}`);
    else {
      const pidFile = path.join(dataDir, PID_FILE);
      await writeFile(pidFile, `${process.pid}\n`);
      cleanups.push(() => rm(pidFile, { force: true }));
    }

    const authStore = createAuthStore(db.prisma);
    const firstOperator =
      opts.firstOperator === undefined ? { email: process.env.DRYDOCK_ADMIN_EMAIL, password: process.env.DRYDOCK_ADMIN_PASSWORD } : opts.firstOperator;
    await ensureFirstOperator(authStore, firstOperator ?? undefined, log);
    const auth = createAuth({ store: authStore, secureCookies: secureCookiesFromEnv(), ...opts.auth, log });

    let temporalAddress = opts.temporalAddress;
    let temporalUiUrl = opts.temporalUiUrl;
    if (!temporalAddress) {
      const cli = await findTemporalCli(log);
      const server: DevServer = await startDevServer({
        cli,
        dbFile: path.join(dataDir, 'temporal.db'),
        logFile: path.join(dataDir, 'temporal.log'),
      });
      cleanups.push(() => server.stop());
      temporalAddress = server.address;
      temporalUiUrl ??= server.uiUrl;
      log(`temporal: dev server on ${server.address}, web console ${server.uiUrl}`);
    } else {
      log(`temporal: ${temporalAddress}`);
    }

    const connection = await Connection.connect({ address: temporalAddress, connectTimeout: 5_000 }).catch((err: Error) => {
      throw new Error(`the Temporal server at ${temporalAddress} is unreachable: ${err.message}`);
    });
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection });

    const defaultImageTag = opts.defaultImageTag ?? 'latest';
    const ca = await openCa(opts.caDir ?? path.join(dataDir, 'ca'), log);
    const agents = createAgentRepo(db.prisma);
    const driverFor = await createDriverFactory({
      log,
      run: opts.commandRunner,
      remote: { credentials: ca.clientCredentials, approvedAgent: agents.approvedAgent },
    });
    const renderDefaults = opts.planner?.defaults ?? { ...renderDefaultsFromEnv(), imageTag: defaultImageTag };
    const releasesDir = opts.releasesDir ?? releasesDirFromEnv();
    const catalog = createCatalog(createReleaseRepo(db.prisma), renderDefaults);
    const loaded = await catalog.loadDir(releasesDir);
    log(loaded.length > 0 ? `releases: ${loaded.map((b) => b.release.version).join(', ')} from ${releasesDir}` : `releases: ${releasesDir} is a template set without release.json; it renders as before`);
    const keyring = await keyringFromEnv(dataDir, log);
    const planner = withCatalog(opts.planner ?? defaultPlanner(renderDefaults, releasesDir, catalog), catalog, createInstanceRepo(db.prisma), keyring);
    if (opts.runWorker ?? true) {
      const w = await createWorker({ db, temporalAddress, taskQueue: opts.taskQueue, verifyPollMs: opts.verifyPollMs, driverFor, planner, frontDoor: opts.frontDoor });
      const running = w.run();
      cleanups.push(async () => {
        // Temporal's runtime also shuts workers down on SIGINT/SIGTERM: a second request would only log an error.
        if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
        await running;
      });
    }

    const uiDir = opts.uiDir ?? path.join(REPO_ROOT, 'dist', 'ui');
    const instances = createInstanceRepo(db.prisma);
    const upgrades = createUpgradeRepo(db.prisma);
    const app = createApp({
      driverFor,
      planner,
      instances,
      upgrades,
      defaultImageTag,
      temporalUiUrl,
      log,
      catalog,
      keyring,
      agents: { agents, ca, rateLimits: opts.agentRateLimits, log },
      auth: { auth, store: authStore },
      latestUpgrades: latestUpgradesFrom(db.prisma),
      uiDir,
      trustProxy: opts.trustProxy ?? trustProxyFromEnv(),
      rollouts: { instances, temporal, temporalAddress, temporalUiUrl, defaultImageTag, taskQueue: opts.taskQueue, verifyDeadlineMs: opts.verifyDeadlineMs, planner },
      upgradeService: createUpgradeService({
        temporal,
        temporalAddress,
        upgrades,
        defaultImageTag,
        taskQueue: opts.taskQueue,
        parkTimeoutMs: opts.parkTimeoutMs,
        verifyDeadlineMs: opts.verifyDeadlineMs,
        planner,
      }),
    });
    // Not app.listen: Express 5 hands a listen error to the callback, which would pass for success.
    const server = createServer(app);
    const port = opts.port ?? 3000;
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is taken: stop what uses it, or set PORT to another port`) : err),
      );
      server.listen(port, host, resolve);
    });
    cleanups.push(() => new Promise((r) => server.close(r)));
    const addr = server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : opts.port}`;
    log(existsSync(path.join(uiDir, 'index.html')) ? `web UI: ${url}/` : `web UI: not built; run \`npm run build\` to serve it at ${url}/`);
    return { url, app, db, temporal, temporalAddress, temporalUiUrl, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
