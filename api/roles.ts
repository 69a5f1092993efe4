/**
 * Who may call what: THE table of every /api route, the role it needs and
 * what the audit log calls it. The route guard (`createRoleGuard`) reads this
 * table and nothing else; test/roles.test.ts walks every route the real app
 * registers and fails when one is missing here.
 *
 * Roles are ordered: viewer < operator < admin.
 * - viewer: reads everything an operator sees, changes nothing.
 * - operator: starts, retries, rolls back, aborts and cancels upgrades and
 *   rollouts, previews, sets an instance's tag and values.
 * - admin: also operators and their roles, agents and invites, API tokens of
 *   others, releases.
 * `public` routes are open to anyone (agents calling in, sign-in itself).
 *
 * Adding a route (e.g. releases, per-instance values): add ONE row below with
 * its method, its path exactly as the router registers it (under /api), the
 * role it needs and, when it changes anything, `audit: { action, target }`.
 * `:action` in an audit action is replaced by the path's `:action` parameter;
 * the target id is the path's `:id` unless the route names another
 * (res.locals.auditTarget). Nothing else needs to change.
 */
import type { Request, RequestHandler } from 'express';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export type Need = Role | 'public';

export const roleRank = (r: Role) => ROLES.indexOf(r);
export const atLeast = (have: Role, need: Role) => roleRank(have) >= roleRank(need);
export const lowerRole = (a: Role, b: Role): Role => (roleRank(a) <= roleRank(b) ? a : b);
export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v);

export type TargetKind = 'upgrade' | 'rollout' | 'instance' | 'agent' | 'invite' | 'token' | 'operator' | 'release' | 'session' | 'audit' | 'notification';

export interface RouteRule {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** As registered, under /api: `/instances/:id`. */
  path: string;
  role: Need;
  /** State-changing routes: what the audit log records. */
  audit?: { action: string; target: TargetKind };
}

const r = (method: RouteRule['method'], path: string, role: Need, audit?: RouteRule['audit']): RouteRule => ({ method, path: `/api${path}`, role, audit });

export const ROUTE_RULES: readonly RouteRule[] = [
  // sign-in (the sign-in route writes its own audit entries)
  r('POST', '/auth/login', 'public'),
  r('POST', '/auth/logout', 'public', { action: 'auth.sign-out', target: 'session' }),
  r('GET', '/auth/me', 'public'),

  // instances and their upgrades
  r('GET', '/instances', 'viewer'),
  r('GET', '/instances/:id', 'viewer'),
  r('POST', '/instances', 'operator', { action: 'instance.create', target: 'instance' }),
  r('PATCH', '/instances/:id', 'operator', { action: 'instance.update', target: 'instance' }),
  r('POST', '/instances/:id/upgrade', 'operator', { action: 'upgrade.start', target: 'instance' }),
  r('POST', '/instances/:id/upgrade-images', 'operator', { action: 'upgrade.start', target: 'instance' }),
  r('POST', '/instances/:id/upgrade-release/preview', 'operator'),
  r('POST', '/instances/:id/upgrade-release', 'operator', { action: 'upgrade.start', target: 'instance' }),
  r('GET', '/instances/:id/upgrades', 'viewer'),
  r('GET', '/instances/:id/values', 'viewer'),
  r('PUT', '/instances/:id/values', 'operator', { action: 'instance.values', target: 'instance' }),
  r('GET', '/instances/:id/drift', 'viewer'),
  r('POST', '/drift/check', 'operator', { action: 'drift.check', target: 'instance' }),
  r('GET', '/upgrades', 'viewer'),
  r('GET', '/upgrades/:id', 'viewer'),
  r('POST', '/upgrades/:id/:action', 'operator', { action: 'upgrade.:action', target: 'upgrade' }),

  // fleet rollouts
  r('POST', '/rollouts/preview', 'operator'),
  r('POST', '/rollouts', 'operator', { action: 'rollout.start', target: 'rollout' }),
  r('GET', '/rollouts', 'viewer'),
  r('GET', '/rollouts/:id', 'viewer'),
  r('POST', '/rollouts/:id/:action', 'operator', { action: 'rollout.:action', target: 'rollout' }),

  // agents: they call in themselves; trusting them is an admin's decision
  r('POST', '/agents/register', 'public', { action: 'agent.register', target: 'agent' }),
  r('POST', '/agents/poll', 'public'),
  r('GET', '/agents/invites', 'viewer'),
  r('POST', '/agents/invites', 'admin', { action: 'invite.create', target: 'invite' }),
  r('GET', '/agents/registrations', 'viewer'),
  r('GET', '/agents/registrations/:id', 'viewer'),
  r('POST', '/agents/registrations/:id/approve', 'admin', { action: 'agent.approve', target: 'agent' }),
  r('POST', '/agents/registrations/:id/reject', 'admin', { action: 'agent.reject', target: 'agent' }),
  r('POST', '/agents/registrations/:id/revoke', 'admin', { action: 'agent.revoke', target: 'agent' }),

  // API tokens: everyone their own (a viewer's token can only view); admins everyone's
  r('GET', '/tokens', 'viewer'),
  r('POST', '/tokens', 'viewer', { action: 'token.create', target: 'token' }),
  r('POST', '/tokens/:id/revoke', 'viewer', { action: 'token.revoke', target: 'token' }),

  // operators
  r('GET', '/operators', 'admin'),
  r('POST', '/operators', 'admin', { action: 'operator.create', target: 'operator' }),
  r('PATCH', '/operators/:id', 'admin', { action: 'operator.update', target: 'operator' }),

  // the release catalog: publishing is an admin's
  r('GET', '/releases', 'viewer'),
  r('GET', '/releases/:version', 'viewer'),
  r('GET', '/releases/:from/diff/:to', 'viewer'),
  r('POST', '/releases', 'admin', { action: 'release.publish', target: 'release' }),

  // notification endpoints: where events go, signed with their secrets, is an admin's
  r('GET', '/notifications/endpoints', 'admin'),
  r('GET', '/notifications/endpoints/:id', 'admin'),
  r('POST', '/notifications/endpoints', 'admin', { action: 'notification.create', target: 'notification' }),
  r('PATCH', '/notifications/endpoints/:id', 'admin', { action: 'notification.update', target: 'notification' }),
  r('DELETE', '/notifications/endpoints/:id', 'admin', { action: 'notification.delete', target: 'notification' }),
  r('GET', '/notifications/endpoints/:id/deliveries', 'admin'),
  r('POST', '/notifications/endpoints/:id/test', 'admin', { action: 'notification.test', target: 'notification' }),

  // the audit log itself
  r('GET', '/audit', 'viewer'),
  r('GET', '/audit/export', 'viewer'),
];

interface Compiled {
  rule: RouteRule;
  segments: string[];
  literals: number;
}

const split = (p: string) => p.replace(/\/+$/, '').split('/').filter(Boolean);
const compiled: Compiled[] = ROUTE_RULES.map((rule) => {
  const segments = split(rule.path);
  return { rule, segments, literals: segments.filter((s) => !s.startsWith(':')).length };
});

export interface MatchedRoute {
  rule: RouteRule;
  params: Record<string, string>;
}

/** The table's row for a request (`/api/...` path), the most literal one when several fit. */
export function matchRoute(method: string, path: string): MatchedRoute | undefined {
  const parts = split(path);
  let best: { c: Compiled; params: Record<string, string> } | undefined;
  for (const c of compiled) {
    if (c.rule.method !== method.toUpperCase() || c.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const seg = c.segments[i]!;
      let part: string;
      try {
        part = decodeURIComponent(parts[i]!);
      } catch {
        part = parts[i]!;
      }
      if (seg.startsWith(':')) params[seg.slice(1)] = part;
      else ok = seg.toLowerCase() === part.toLowerCase();
    }
    if (ok && (!best || c.literals > best.c.literals)) best = { c, params };
  }
  return best && { rule: best.c.rule, params: best.params };
}

/** The audit action of a matched route, `:action` filled in. */
export function auditAction(m: MatchedRoute): string | undefined {
  return m.rule.audit?.action.replace(':action', m.params.action ?? 'action');
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The role table's row for this request (set by the role guard). */
      route_?: MatchedRoute;
    }
  }
}

/** Finds the request's row in the table (before sign-in is checked, so public routes skip it). */
export const matchRoles: RequestHandler = (req, _res, next) => {
  const m = matchRoute(req.method === 'HEAD' ? 'GET' : req.method, req.baseUrl + req.path);
  if (m) req.route_ = m;
  next();
};

/** Whether a route is open to anyone (agents calling in, sign-in itself). */
export const isPublicRoute = (req: Request) => req.route_?.rule.role === 'public';

/**
 * After the sign-in guard: 403 naming the role needed when the caller's is
 * lower; 404 for a path the table does not know (deny by default).
 */
export const requireRole: RequestHandler = (req, res, next) => {
  const m = req.route_;
  if (!m) return void res.status(404).json({ error: `no route ${req.method} ${req.originalUrl}` });
  if (m.rule.role === 'public') return next();
  const op = req.operator;
  if (!op) return void res.status(401).json({ error: 'sign in first' });
  if (atLeast(op.role, m.rule.role)) return next();
  const who = op.via === 'token' ? `the token "${op.tokenName ?? op.tokenId}" of ${op.email}` : op.email;
  res.status(403).json({ error: `refused: ${req.method} ${m.rule.path} needs the ${m.rule.role} role; ${who} has ${op.role}`, needs: m.rule.role, role: op.role });
};
