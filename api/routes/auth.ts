/**
 * Sign-in (`/api/auth/*`, open: the guard does not cover it) and API tokens
 * (`/api/tokens`, behind the guard like every admin route).
 */
import { Router } from 'express';
import { notFound } from '../../core/errors.js';
import type { AuthStore } from '../auth-store.js';
import { AuthError, sendAuthError, type Auth } from '../auth.js';
import { createTokenBody, idParam, loginBody } from '../schemas.js';

export interface AuthRouterDeps {
  auth: Auth;
  store: AuthStore;
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

  router.get('/tokens', async (_req, res) => {
    res.json(await deps.store.listTokens());
  });

  // The token itself is in this answer only; the database keeps its hash.
  router.post('/tokens', async (req, res) => {
    const body = createTokenBody.parse(req.body ?? {});
    const created = await deps.auth.createToken(req.operator!, body.name, body.expiresInDays);
    deps.log?.(`API token "${body.name}" (${created.prefix}…) created by ${req.operator!.email}`);
    res.status(201).json(created);
  });

  router.post('/tokens/:id/revoke', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const revoked = await deps.store.revokeToken(id, req.operator!.email);
    if (!revoked) {
      const existing = await deps.store.getToken(id).catch(() => undefined);
      if (!existing) throw notFound(`no API token with id ${id}`);
      return void res.json(existing); // revoking twice is a no-op
    }
    deps.log?.(`API token "${revoked.name}" (${revoked.prefix}…) revoked by ${req.operator!.email}`);
    res.json(revoked);
  });

  return router;
}
