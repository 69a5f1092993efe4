/**
 * The API's side of the metrics (platform/metrics.ts): request durations by
 * route pattern, GET /metrics behind its token, and the rollout gauge's
 * source (this control plane's rollouts, from Temporal).
 */
import type { Client } from '@temporalio/client';
import type { RequestHandler } from 'express';
import type { RolloutView } from '../core/types.js';
import { answerScrape, type Metrics } from '../platform/metrics.js';
import { rolloutQuery, rolloutsQuery } from '../workflows/surface.js';

/**
 * Where the routers are mounted (api/app.ts). Express rewrites `baseUrl` to
 * the path actually matched (a namespace) and resets it when a route throws,
 * so the label's prefix comes from here, never from the URL itself.
 */
const MOUNTS: [RegExp, string][] = [
  [/^\/api(\/|$)/, '/api'],
  [/^\/codec(\/|$)/, '/codec'],
  [/^\/[^/]+\/codec(\/|$)/, '/:namespace/codec'],
];

/** The route pattern of a request, e.g. `/api/instances/:id`; never ids or other raw path parts. */
export function routeLabel(originalUrl: string, method: string, routePath: unknown): string {
  const path = originalUrl.split('?')[0]!;
  const mount = MOUNTS.find(([re]) => re.test(path))?.[1];
  if (typeof routePath === 'string') return `${mount ?? ''}${routePath === '/' && mount ? '' : routePath}`;
  if (mount) return `${mount} (no route)`;
  return method === 'GET' || method === 'HEAD' ? '(web UI)' : '(no route)';
}

export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const t0 = process.hrtime.bigint();
    res.once('finish', () => {
      const route = routeLabel(req.originalUrl, req.method, req.route?.path);
      metrics.observeHttp(req.method, route, res.statusCode, Number(process.hrtime.bigint() - t0) / 1e9);
    });
    next();
  };
}

/** GET /metrics on the API's port: behind the bearer token, or not served at all (DRYDOCK_METRICS_LISTEN is then the place). */
export function metricsEndpoint(metrics: Metrics, token: string | undefined): RequestHandler {
  return (req, res) => {
    if (token === undefined) {
      res.status(404).json({ error: 'metrics are not served on this port: set DRYDOCK_METRICS_TOKEN to scrape /metrics here with a bearer token, or DRYDOCK_METRICS_LISTEN for a listener of their own' });
      return;
    }
    void answerScrape(metrics, token, req, res);
  };
}

/** Rollouts that run by their own state (their query), closed ones by Temporal's execution status. */
export function rolloutStatesFrom(temporal: Client, taskQueue?: string) {
  const ours = rolloutsQuery(taskQueue);
  const CLOSED = { Completed: 'completed', Failed: 'failed', Canceled: 'cancelled', Terminated: 'terminated', TimedOut: 'timed-out', ContinuedAsNew: undefined } as const;
  return async (): Promise<{ state: string; count: number }[]> => {
    const counts = new Map<string, number>();
    const add = (state: string, n = 1) => counts.set(state, (counts.get(state) ?? 0) + n);
    const running: string[] = [];
    for await (const w of temporal.workflow.list({ query: `${ours} AND ExecutionStatus = 'Running'`, pageSize: 100 })) {
      running.push(w.workflowId);
      if (running.length >= 200) break;
    }
    const states = await Promise.all(
      running.map((id) =>
        temporal.workflow
          .getHandle(id)
          .query(rolloutQuery)
          .then((v: RolloutView) => v.status as string)
          .catch(() => 'unknown'),
      ),
    );
    for (const s of states) add(s);
    await Promise.all(
      Object.entries(CLOSED).map(async ([status, state]) => {
        if (!state) return;
        const { count } = await temporal.workflow.count(`${ours} AND ExecutionStatus = '${status}'`);
        add(state, count);
      }),
    );
    return [...counts].map(([state, count]) => ({ state, count }));
  };
}
