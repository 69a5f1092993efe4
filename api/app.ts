import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import { notFound } from '../core/errors.js';
import type { AuthStore } from './auth-store.js';
import type { Auth } from './auth.js';
import { auditRequests, type AuditLog } from './audit.js';
import { isPublicRoute, matchRoles, requireRole } from './roles.js';
import { createAuditRouter } from './routes/audit.js';
import { createOperatorsRouter } from './routes/operators.js';
import { errorMiddleware } from './errors.js';
import { createRouter as createAgentsRouter, type AgentsRouterDeps } from './routes/agents.js';
import { createAuthRouter, createTokensRouter } from './routes/auth.js';
import { createCodecRouter, type CodecRouterDeps } from './routes/codec.js';
import { createRouter, type InstancesRouterDeps } from './routes/instances.js';
import { createOverviewRouter, type OverviewRouterDeps } from './routes/overview.js';
import { createRouter as createRolloutsRouter, type RolloutRouterDeps } from './routes/rollouts.js';
import { createRouter as createReleasesRouter } from './routes/releases.js';
import { createNotificationsRouter } from './routes/notifications.js';
import type { Notifier } from '../platform/notifier.js';
import { createDriftRouter, type DriftRouterDeps } from './routes/drift.js';
import { createUpgradeStatusRouter } from './routes/upgrade-status.js';
import type { Metrics } from '../platform/metrics.js';
import { httpMetrics, metricsEndpoint } from './metrics.js';

export type AppDeps = InstancesRouterDeps & {
  log?: (m: string) => void;
  agents?: Omit<AgentsRouterDeps, 'audit'>;
  rollouts?: RolloutRouterDeps;
  /** Drift checks (POST /api/drift/check, GET /api/instances/:id/drift). */
  driftChecks?: Omit<DriftRouterDeps, 'drift' | 'instances' | 'planner'>;
  /** The newest upgrade of each instance (GET /api/upgrades), for the fleet view. */
  latestUpgrades?: OverviewRouterDeps['latestUpgrades'];
  /** Operator sign-in: every /api route but the agents' and sign-in's own requires it. */
  auth: { auth: Auth; store: AuthStore };
  /** The audit log every state-changing route and every sign-in writes to. */
  audit: AuditLog;
  /** The built web UI (dist/ui); without index.html there, `/` says how to build it. */
  uiDir?: string;
  /** Express's `trust proxy` (a hop count or addresses, never `true`), for Secure cookies and client addresses behind a TLS-terminating proxy. */
  trustProxy?: number | string;
  /** The Temporal codec server (`/codec/…`) for the web console; its own body limit, so it comes before the API's parser. */
  codec?: Omit<CodecRouterDeps, 'auth'>;
  /** Notification endpoints and their deliveries (`/api/notifications/…`). */
  notifier?: Notifier;
  /** Request durations, and GET /metrics (served only with a token; see api/metrics.ts). */
  metrics?: { metrics: Metrics; token?: string };
};

export const BODY_LIMIT = '256kb';

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  );
  next();
};

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  if ((deps.trustProxy as unknown) === true || deps.trustProxy === 'true') {
    throw new Error('trust proxy must be a hop count or addresses, never true (any client could forge X-Forwarded-For)');
  }
  if (deps.trustProxy !== undefined) app.set('trust proxy', deps.trustProxy);
  if (deps.metrics) app.use(httpMetrics(deps.metrics.metrics));
  app.use(securityHeaders);
  if (deps.metrics) app.get('/metrics', metricsEndpoint(deps.metrics.metrics, deps.metrics.token));
  const { auth, store } = deps.auth;
  const { audit } = deps;
  // Every state-changing request is recorded once answered (refusals too); then who calls, then may they.
  const guards: RequestHandler[] = [
    auditRequests(audit, deps.log),
    matchRoles,
    (req, res, next) => {
      if (!isPublicRoute(req)) return auth.requireOperator(req, res, next);
      delete req.headers['x-drydock-operator'];
      next();
    },
    requireRole,
  ];
  // First: every open browser polls it (see the router for why it has its own).
  app.use('/api', createUpgradeStatusRouter({ upgrades: deps.upgrades, temporalUiUrl: deps.temporalUiUrl, guards }));
  if (deps.codec) app.use(['/codec', '/:namespace/codec'], createCodecRouter({ ...deps.codec, auth }));
  app.use(express.json({ limit: BODY_LIMIT }));
  app.get('/healthz', (_req, res) => void res.json({ ok: true }));

  app.use('/api', ...guards);
  app.use('/api', createAuthRouter({ auth, store, audit, log: deps.log }));
  app.use('/api', createTokensRouter({ auth, store, audit, log: deps.log }));
  app.use('/api', createOperatorsRouter({ store, audit, log: deps.log }));
  app.use('/api', createAuditRouter({ audit }));
  app.use('/api', createRouter({ ...deps, audit }));
  if (deps.catalog) app.use('/api', createReleasesRouter({ catalog: deps.catalog, platform: () => deps.planner.defaults, log: deps.log }));
  if (deps.latestUpgrades) app.use('/api', createOverviewRouter({ latestUpgrades: deps.latestUpgrades, temporalUiUrl: deps.temporalUiUrl }));
  if (deps.agents) app.use('/api', createAgentsRouter({ ...deps.agents, audit }));
  if (deps.rollouts) app.use('/api', createRolloutsRouter(deps.rollouts));
  if (deps.notifier) app.use('/api', createNotificationsRouter({ notifier: deps.notifier, audit, log: deps.log }));
  if (deps.driftChecks && deps.drift) app.use('/api', createDriftRouter({ ...deps.driftChecks, drift: deps.drift, instances: deps.instances, planner: deps.planner }));
  app.use('/api', (req, _res, next) => next(notFound(`no route ${req.method} ${req.originalUrl}`)));
  if (deps.uiDir) app.use(serveUi(deps.uiDir));
  app.use(errorMiddleware(deps.log));
  return app;
}

/** The built single-page UI: hashed assets cached for good, every other GET answered with index.html. */
function serveUi(dir: string): express.Router {
  const router = express.Router();
  router.use(
    '/assets',
    express.static(path.join(dir, 'assets'), { index: false, fallthrough: false, immutable: true, maxAge: '365d' }),
  );
  router.use(express.static(dir, { index: false }));
  router.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const index = path.join(dir, 'index.html');
    res.setHeader('Cache-Control', 'no-cache');
    if (existsSync(index)) return void res.sendFile(index);
    res
      .status(503)
      .type('html')
      .send(
        '<!doctype html><meta charset="utf-8"><title>drydock: web UI not built</title>' +
          '<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5">' +
          '<h1>The web UI is not built yet</h1>' +
          '<p>Build it with <code>npm run build</code> (it writes <code>dist/ui</code>), then reload this page; no restart is needed.</p>' +
          '<p>The API is running meanwhile under <code>/api</code>.</p></body>',
      );
  });
  return router;
}
