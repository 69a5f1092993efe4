import express, { type Express } from 'express';
import { notFound } from '../core/errors.js';
import { errorMiddleware } from './errors.js';
import { createRouter as createAgentsRouter, type AgentsRouterDeps } from './routes/agents.js';
import { createRouter, type InstancesRouterDeps } from './routes/instances.js';

export type AppDeps = InstancesRouterDeps & { log?: (m: string) => void; agents?: AgentsRouterDeps };

export const BODY_LIMIT = '256kb';

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: BODY_LIMIT }));
  app.get('/healthz', (_req, res) => void res.json({ ok: true }));
  app.use('/api', createRouter(deps));
  if (deps.agents) app.use('/api', createAgentsRouter(deps.agents));
  app.use('/api', (req, _res, next) => next(notFound(`no route ${req.method} ${req.originalUrl}`)));
  app.use(errorMiddleware(deps.log));
  return app;
}
