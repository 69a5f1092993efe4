/**
 * `GET /api/upgrades/:id`, the endpoint every open browser polls. Its own
 * router, mounted ahead of the others with the same guards as every /api
 * route (app.ts passes them in), so a poll does not walk a dozen routers and
 * the JSON body parser before it reaches its handler; the role table
 * (api/roles.ts) still decides who may call it.
 */
import { Router, type RequestHandler } from 'express';
import { notFound } from '../../core/errors.js';
import type { UpgradeRecord, UpgradeRepo } from '../../prisma/repositories.js';
import { idParam } from '../schemas.js';
import { upgradeView } from './instances.js';

export interface UpgradeStatusRouterDeps {
  /** With api/upgrade-reads.ts in front: finished upgrades come back as the same frozen record. */
  upgrades: Pick<UpgradeRepo, 'get'>;
  temporalUiUrl?: string;
  /** Who calls and may they: the chain every /api request passes (app.ts). */
  guards: RequestHandler[];
}

export function createUpgradeStatusRouter(deps: UpgradeStatusRouterDeps): Router {
  const router = Router();
  // The body of a record the reads share (a finished upgrade, frozen) is made once, with its ETag.
  const bodies = new WeakMap<UpgradeRecord, { json: Buffer; etag: string }>();
  router.get('/upgrades/:id', ...deps.guards, async (req, res) => {
    const { id } = idParam.parse(req.params);
    const upgrade = await deps.upgrades.get(id);
    if (!upgrade) throw notFound(`no upgrade with id ${id}`);
    let body = bodies.get(upgrade);
    if (!body) {
      const json = Buffer.from(JSON.stringify(upgradeView(upgrade, deps.temporalUiUrl)));
      const etagOf = req.app.get('etag fn') as ((b: Buffer, enc: string) => string) | undefined;
      body = { json, etag: etagOf?.(json, 'utf8') ?? '' };
      if (Object.isFrozen(upgrade)) bodies.set(upgrade, body);
    }
    // send() keeps an ETag already set, and answers 304 when the client holds it.
    if (body.etag) res.setHeader('ETag', body.etag);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.send(body.json);
  });
  return router;
}
