/**
 * Composes the control plane: database (PostgreSQL or embedded PGlite),
 * Temporal (given address, or a dev server it starts), the worker and the API.
 * `npm start` and the integration tests both go through here.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { Express } from 'express';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Keyring } from '../core/keyring.js';
import { dataConverterFor } from '../worker/data-converter.js';
import { findTemporalCli, REPO_ROOT, startDevServer, type DevServer } from '../platform/temporal-server.js';
import { DEFAULT_IMAGE_TAG, renderDefaultsFromEnv } from '../worker/planner.js';
import { createRuntime } from '../platform/runtime.js';
import type { Database } from '../prisma/db.js';
import type { FrontDoor } from '../core/types.js';
import type { CommandRunner } from '../tenant/run-command.js';
import type { ReleasePlanner } from '../core/release-plan.js';
import { createApp } from './app.js';
import { cachedAuthStore } from './auth-cache.js';
import { fastUpgradeReads } from './upgrade-reads.js';
import { createAuthStore } from './auth-store.js';
import { createAuditLog } from './audit.js';
import { latestUpgradesFrom } from './routes/overview.js';
import { createAuth, type AuthOptions } from './auth.js';
import { ensureFirstOperator, PID_FILE } from './first-operator.js';
import { sharedRateLimiterFactory, type RateLimit } from './rate-limit.js';
import { createSharedSignInLimiter, DEFAULT_SIGN_IN_LIMITS } from './sign-in-limiter.js';
import { createUpgradeService } from './upgrade-service.js';
import { createNotifier, notifierSettingsFromEnv, type NotifierSettings } from '../platform/notifier.js';
import { driftIntervalFromEnv, ensureDriftSchedule } from '../platform/drift-schedule.js';
import type { DriftFoundEvent } from '../activities/index.js';
import { metricsSettingsFromEnv, serveMetrics, type MetricsSettings } from '../platform/metrics.js';
import { createMetricsRepo } from '../prisma/repositories.js';
import { rolloutStatesFrom } from './metrics.js';

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
  /** The agent CA's directory, shared by every process (DRYDOCK_CA_DIR); default the database (platform/ca.ts). */
  caDir?: string;
  agentRateLimits?: { register?: RateLimit; poll?: RateLimit; pollAddress?: RateLimit };
  /** The built web UI; default `dist/ui`. */
  uiDir?: string;
  /** Session lifetimes, Secure cookies, sign-in limits; defaults in api/auth.ts. */
  auth?: Pick<AuthOptions, 'sessionIdleMs' | 'sessionMaxMs' | 'secureCookies' | 'loginLimits'>;
  /** Created when no operator exists; default from DRYDOCK_ADMIN_EMAIL / DRYDOCK_ADMIN_PASSWORD. Null: none. */
  firstOperator?: { email?: string; password?: string } | null;
  /** Express's `trust proxy`: a hop count or addresses, never `true`; default from DRYDOCK_TRUST_PROXY. */
  trustProxy?: number | string;
  /** Serve HTTPS with this certificate and key (PEM files); default from DRYDOCK_TLS_CERT / DRYDOCK_TLS_KEY. */
  tls?: TlsFiles;
  /**
   * Where browsers reach this control plane's codec server, for the web console
   * of the dev server drydock starts; default http://127.0.0.1:<port>/codec
   * (none when the port is chosen at random).
   */
  codecEndpoint?: string;
  /** The control plane's keys (Temporal payloads, snapshots); default DRYDOCK_SECRET_KEY or `<dataDir>/secret.keys`. */
  keyring?: Keyring;
  /** Runs local instances' compose commands; default tenant/run-command.ts (bench/overhead.ts wraps it to time compose). */
  commandRunner?: CommandRunner;
  /** Links in notifications and the agent watch's timing; default from the environment (platform/notifier.ts). */
  notifications?: Partial<NotifierSettings>;
  /** How often the drift schedule runs (ms); null: no schedule; default DRYDOCK_DRIFT_INTERVAL (30 min). */
  driftIntervalMs?: number | null;
  /** Where "drift found" events go (activities/index.ts onDriftFound). */
  onDriftFound?: (event: DriftFoundEvent) => Promise<void>;
  /** GET /metrics: its bearer token and/or a listener of its own; default DRYDOCK_METRICS_TOKEN / DRYDOCK_METRICS_LISTEN. */
  metrics?: MetricsSettings;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/**
 * DRYDOCK_TRUST_PROXY: how many proxies stand in front (a hop count), or
 * their addresses (Express's list: IPs, CIDRs, loopback, linklocal,
 * uniquelocal). Never `true`: trusting every hop lets any client write its
 * own X-Forwarded-For and pick the address the per-address limits count.
 */
export function trustProxyFromEnv(value = process.env.DRYDOCK_TRUST_PROXY): number | string | undefined {
  const v = value?.trim();
  if (!v || v === 'false' || v === '0') return undefined;
  if (v === 'true') {
    throw new Error(
      'DRYDOCK_TRUST_PROXY=true would trust every X-Forwarded-For hop, so any client could pick the address the rate limits count; ' +
        'set the number of proxies in front (DRYDOCK_TRUST_PROXY=1 for one reverse proxy) or their addresses (DRYDOCK_TRUST_PROXY=loopback, or 10.0.0.5,10.0.0.6)',
    );
  }
  if (/^\d+$/.test(v)) return Number(v);
  const names = v.split(',').map((s) => s.trim());
  const bad = names.find((n) => !['loopback', 'linklocal', 'uniquelocal'].includes(n) && !/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(n));
  if (bad !== undefined) {
    throw new Error(`DRYDOCK_TRUST_PROXY: ${JSON.stringify(bad)} is not a hop count, an IP address or CIDR, or one of loopback, linklocal, uniquelocal`);
  }
  return names.join(',');
}

/** DRYDOCK_TLS_CERT and DRYDOCK_TLS_KEY (PEM file paths): both or neither. */
export function tlsFromEnv(cert = process.env.DRYDOCK_TLS_CERT, key = process.env.DRYDOCK_TLS_KEY): TlsFiles | undefined {
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new Error('set both DRYDOCK_TLS_CERT and DRYDOCK_TLS_KEY (PEM files) to serve HTTPS, or neither');
  return { certFile: cert, keyFile: key };
}

async function loadTls(t: TlsFiles): Promise<{ cert: string; key: string }> {
  const read = (what: string, file: string) =>
    readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new Error(`the TLS ${what} ${file} cannot be read: ${err.code ?? err.message}`);
    });
  const pair = { cert: await read('certificate', t.certFile), key: await read('key', t.keyFile) };
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new Error(`the TLS certificate ${t.certFile} and key ${t.keyFile} do not make a usable pair: ${(err as Error).message}`);
  }
  return pair;
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
  keyring: Keyring;
  /** `host:port` of the metrics listener (DRYDOCK_METRICS_LISTEN), when there is one. */
  metricsAddress?: string;
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
    // Settings first: a bad one stops the start before anything is opened.
    const trustProxy = opts.trustProxy ?? trustProxyFromEnv();
    const tlsFiles = opts.tls ?? tlsFromEnv();
    const tls = tlsFiles ? await loadTls(tlsFiles) : undefined;
    const driftIntervalMs = opts.driftIntervalMs === undefined ? driftIntervalFromEnv() : opts.driftIntervalMs;
    const metricsSettings = opts.metrics ?? metricsSettingsFromEnv();
    const metricsServed = metricsSettings.token !== undefined || metricsSettings.listen !== undefined;
    const defaultImageTag = opts.defaultImageTag ?? DEFAULT_IMAGE_TAG;
    const runtime = await createRuntime({
      databaseUrl: opts.databaseUrl,
      dataDir,
      log,
      keyring: opts.keyring,
      caDir: opts.caDir,
      releasesDir: opts.releasesDir,
      renderDefaults: { ...renderDefaultsFromEnv(), imageTag: defaultImageTag },
      planner: opts.planner,
      commandRunner: opts.commandRunner,
    });
    cleanups.push(() => runtime.close());
    const { db, keyring, ca, driverFor, catalog, planner } = runtime;
    const { instances, upgrades, agents, drift } = runtime.repos;
    if (!db.embedded) log(`database: ${redact(db.url)}`);
    else {
      const pidFile = path.join(dataDir, PID_FILE);
      await writeFile(pidFile, `${process.pid}\n`);
      cleanups.push(() => rm(pidFile, { force: true }));
    }

    // Verified credentials trusted for AUTH_CACHE_TTL_MS (api/auth-cache.ts): a revocation elsewhere is seen within that.
    const authStore = cachedAuthStore(createAuthStore(db.prisma));
    const firstOperator =
      opts.firstOperator === undefined ? { email: process.env.DRYDOCK_ADMIN_EMAIL, password: process.env.DRYDOCK_ADMIN_PASSWORD } : opts.firstOperator;
    await ensureFirstOperator(authStore, firstOperator ?? undefined, log);
    const audit = createAuditLog(db.prisma);
    // The limits count in PostgreSQL, so API processes on one database allow them once between them.
    const limiter = createSharedSignInLimiter(db.prisma, { ...DEFAULT_SIGN_IN_LIMITS, ...opts.auth?.loginLimits }, log);
    const auth = createAuth({ store: authStore, audit, secureCookies: secureCookiesFromEnv(), ...opts.auth, limiter, log });

    const port = opts.port ?? 3000;
    const host = opts.host ?? '127.0.0.1';
    let temporalAddress = opts.temporalAddress;
    let temporalUiUrl = opts.temporalUiUrl;
    if (!temporalAddress) {
      const cli = await findTemporalCli(log);
      const server: DevServer = await startDevServer({
        cli,
        dbFile: path.join(dataDir, 'temporal.db'),
        logFile: path.join(dataDir, 'temporal.log'),
        codecEndpoint: opts.codecEndpoint ?? (port ? `${tls ? 'https' : 'http'}://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}/codec` : undefined),
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
    const temporal = new Client({ connection, dataConverter: dataConverterFor(keyring) });
    const notifier = createNotifier({
      prisma: db.prisma,
      keyring,
      temporal: async () => temporal,
      taskQueue: opts.taskQueue,
      settings: { ...notifierSettingsFromEnv(), temporalUiUrl, ...opts.notifications },
      log,
    });

    if (opts.runWorker ?? true) {
      const w = await runtime.createWorker({
        temporalAddress,
        taskQueue: opts.taskQueue,
        verifyPollMs: opts.verifyPollMs,
        frontDoor: opts.frontDoor,
        notifier,
        onDriftFound: opts.onDriftFound,
        exportTemporalMetrics: metricsServed,
      });
      const running = w.run();
      cleanups.push(async () => {
        // Temporal's runtime also shuts workers down on SIGINT/SIGTERM: a second request would only log an error.
        if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
        await running;
      });
    }

    if (driftIntervalMs !== null) {
      // Without the schedule drift is still checked on request (POST /api/drift/check): say so, and start.
      await ensureDriftSchedule(temporal, { intervalMs: driftIntervalMs, taskQueue: opts.taskQueue, log }).catch((err: Error) =>
        log(`warning: the drift check schedule could not be set up: ${err.message}`),
      );
    }

    const { metrics } = runtime;
    metrics.addGauges({ ...createMetricsRepo(db.prisma), rolloutStates: rolloutStatesFrom(temporal, opts.taskQueue) }, log);
    let metricsAddress: string | undefined;
    if (metricsSettings.listen) {
      const listener = await serveMetrics(metrics, metricsSettings.listen, metricsSettings.token);
      cleanups.push(() => listener.close());
      metricsAddress = listener.address;
      log(`metrics: http://${metricsAddress}/metrics${metricsSettings.token ? ' (bearer token)' : ''}`);
    }

    const uiDir = opts.uiDir ?? path.join(REPO_ROOT, 'dist', 'ui');
    const app = createApp({
      driverFor,
      planner,
      instances,
      upgrades: fastUpgradeReads(upgrades),
      defaultImageTag,
      temporalUiUrl,
      log,
      catalog,
      keyring,
      agents: { agents, ca, rateLimits: opts.agentRateLimits, rateLimiters: sharedRateLimiterFactory(db.prisma), log, notifier },
      notifier,
      auth: { auth, store: authStore },
      audit,
      latestUpgrades: latestUpgradesFrom(db.prisma),
      uiDir,
      trustProxy,
      metrics: { metrics, token: metricsSettings.token },
      codec: { keyring, consoleOrigin: temporalUiUrl ? new URL(temporalUiUrl).origin : undefined, namespace: 'default' },
      drift,
      driftChecks: { temporal, temporalAddress, taskQueue: opts.taskQueue },
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
    const server = tls ? createHttpsServer({ ...tls, minVersion: 'TLSv1.2' }, app) : createServer(app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is taken: stop what uses it, or set PORT to another port`) : err),
      );
      server.listen(port, host, resolve);
    });
    cleanups.push(() => new Promise((r) => server.close(r)));
    const addr = server.address();
    const url = `${tls ? 'https' : 'http'}://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : opts.port}`;
    notifier.settings.publicUrl ??= url;
    // Deliveries left pending by the last run go out now (their workflows also look on their own).
    await notifier.resume().catch((err: Error) => log(`notifications: ${err.message}`));
    if (metricsSettings.token) log(`metrics: ${url}/metrics (bearer token)`);
    log(existsSync(path.join(uiDir, 'index.html')) ? `web UI: ${url}/` : `web UI: not built; run \`npm run build\` to serve it at ${url}/`);
    return { url, app, db, temporal, temporalAddress, temporalUiUrl, keyring, metricsAddress, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
