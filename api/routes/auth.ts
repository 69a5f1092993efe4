/**
 * Sign-in (`/api/auth/*`, open: the guard does not cover it) and API tokens
 * (`/api/tokens`, behind the guard like every admin route).
 */
import { Router } from 'express';
import { forbidden, notFound } from '../../core/errors.js';
import { createAuthStore, type AuthStore } from '../auth-store.js';
import { AuthError, sendAuthError, type Auth } from '../auth.js';
import { auditLocals, entryFor, type AuditLog } from '../audit.js';
import { createTokenBody, idParam, loginBody } from '../schemas.js';

export interface AuthRouterDeps {
  auth: Auth;
  store: AuthStore;
  audit: AuditLog;
  log?: (m: string) => void;
}

export function createAuthRouter(deps: AuthRouterDeps): Router {
  const router = Router();

  router.post('/auth/login', async (req, res) => {
    const { email, password } = loginBody.parse(req.body ?? {});
    try {
      const operator = await deps.auth.signIn(req, res, email, password);
      res.json({ operator });
    } catch (err) {
      if (err instanceof AuthError) return void sendAuthError(res, err);
      throw err;
    }
  });

  router.post('/auth/logout', async (req, res) => {
    // Who signs out, for the audit entry (a bad token is simply nobody).
    req.operator = await deps.auth.identify(req).catch(() => undefined);
    await deps.auth.signOut(req, res);
    res.status(204).end();
  });

  /** Who is signed in; 401 (with setupNeeded when no operator exists yet) otherwise. */
  router.get('/auth/me', async (req, res) => {
    let operator;
    try {
      operator = await deps.auth.identify(req);
    } catch (err) {
      if (err instanceof AuthError) return void sendAuthError(res, err);
      throw err;
    }
    if (operator) return void res.json({ operator });
    const setupNeeded = (await deps.store.countOperators()) === 0;
    res.status(401).json({ error: 'not signed in', setupNeeded });
  });

  return router;
}

export function createTokensRouter(deps: AuthRouterDeps): Router {
  const router = Router();

  // Operators see their own tokens; admins everyone's.
  router.get('/tokens', async (req, res) => {
    const op = req.operator!;
    res.json(await deps.store.listTokens(op.role === 'admin' ? undefined : op.id));
  });

  // The token itself is in this answer only; the database keeps its hash.
  router.post('/tokens', async (req, res) => {
    const body = createTokenBody.parse(req.body ?? {});
    let created;
    try {
      created = await deps.auth.createToken(req, body);
    } catch (err) {
      if (err instanceof AuthError) return void sendAuthError(res, err);
      throw err;
    }
    auditLocals(res).audited = true;
    deps.log?.(`API token "${body.name}" (${created.prefix}…) created by ${req.operator!.email}`);
    res.status(201).json(created);
  });

  router.post('/tokens/:id/revoke', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const op = req.operator!;
    const existing = await deps.store.getToken(id).catch(() => undefined);
    // Another operator's token is as good as absent to a non-admin: no probing which ids exist.
    if (!existing || (existing.operatorId !== op.id && op.role !== 'admin')) {
      if (existing) throw forbidden(`refused: revoking another operator's token needs the admin role; you are ${op.role}`);
      throw notFound(`no API token with id ${id}`);
    }
    if (existing.revokedAt) return void res.json(existing); // revoking twice is a no-op (and recorded as such)
    const revoked = await deps.audit.transaction(async (tx) => {
      const r = await createAuthStore(tx).revokeToken(id, op.email);
      return {
        result: r,
        entry: entryFor(req, {
          outcome: r ? 'accepted' : 'refused',
          reason: r ? null : 'revoked already',
          before: { name: existing.name, operator: existing.operatorEmail, revokedAt: null },
          after: r ? { revokedAt: r.revokedAt?.toISOString() ?? null, revokedBy: op.email } : null,
        }),
      };
    });
    // Refused by this process at once, not after the credential cache's bound.
    deps.store.forget();
    auditLocals(res).audited = true;
    if (!revoked) return void res.json((await deps.store.getToken(id)) ?? existing);
    deps.log?.(`API token "${revoked.name}" (${revoked.prefix}…) revoked by ${op.email}`);
    res.json(revoked);
  });

  return router;
}
