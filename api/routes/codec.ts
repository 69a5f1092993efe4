/**
 * The Temporal codec server protocol, so the Temporal web console (and
 * `temporal --codec-endpoint`) can show drydock's encrypted payloads decoded:
 * `POST <endpoint>/encode` and `POST <endpoint>/decode` take and answer
 * `{ "payloads": [{ "metadata": {k: base64}, "data": base64 }] }`, the
 * protobuf JSON of Payloads. Served at `/codec/…` and `/<namespace>/codec/…`.
 *
 * Only a signed-in operator (session cookie or API token) gets an answer.
 * Browsers may call it from the Temporal web console's origin only, with
 * credentials; a request from any other origin is refused. A cookie suffices
 * without drydock's own UI header: encode and decode change nothing, take
 * JSON only (so a cross-site form cannot send one without a CORS preflight,
 * which only the console's origin passes), and their answers are readable by
 * that origin alone.
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Keyring } from '../../core/keyring.js';
import { KeyringCodec, payloadFromJson, payloadToJson } from '../../worker/data-converter.js';
import { AuthError, sendAuthError, type Auth } from '../auth.js';

export interface CodecRouterDeps {
  keyring: Keyring;
  auth: Auth;
  /** The Temporal web console's origin (scheme://host:port): the one origin browsers may call from. */
  consoleOrigin?: string;
  /** The namespace drydock's workflows run in; `/<other>/codec/…` is not found. */
  namespace?: string;
}

/** A history's payloads can be large (snapshots of older upgrades): more room than the API's 256 kB. */
export const CODEC_BODY_LIMIT = '4mb';

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const PayloadsBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).nullish(), data: base64.nullish() }).loose()).max(10_000),
});
export function createCodecRouter(deps: CodecRouterDeps): Router {
  const codec = new KeyringCodec(deps.keyring);
  const namespace = deps.namespace ?? 'default';
  const router = Router({ mergeParams: true });

  router.use((req, res, next) => {
    const ns = (req.params as { namespace?: string }).namespace;
    if (ns !== undefined && ns !== namespace) return void res.status(404).json({ error: `no codec for namespace ${ns} (drydock runs in ${namespace})` });
    const origin = req.get('origin');
    if (origin !== undefined) {
      if (origin !== deps.consoleOrigin) {
        return void res.status(403).json({ error: `the codec answers browsers on the Temporal web console's origin only, not ${origin}` });
      }
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST');
      res.setHeader('Access-Control-Allow-Headers', 'content-type, x-namespace, authorization');
      res.setHeader('Access-Control-Max-Age', '600');
      return void res.status(204).end();
    }
    next();
  });

  router.use(async (req, res, next) => {
    try {
      if (!(await deps.auth.identify(req))) {
        throw new AuthError(401, 'sign in to drydock first: the codec decodes payloads for signed-in operators only (session cookie or API token)');
      }
      next();
    } catch (err) {
      if (err instanceof AuthError) return void sendAuthError(res, err);
      next(err);
    }
  });

  router.use(express.json({ limit: CODEC_BODY_LIMIT }));

  const convert = (direction: 'encode' | 'decode') => async (req: Request, res: Response, next: NextFunction) => {
    if (!req.is('application/json')) return void res.status(415).json({ error: 'send the payloads as application/json' });
    const header = req.get('x-namespace');
    if (header && header !== namespace) return void res.status(404).json({ error: `no codec for namespace ${header} (drydock runs in ${namespace})` });
    const body = PayloadsBody.safeParse(req.body);
    if (!body.success) return void res.status(400).json({ error: `expected {"payloads": [{"metadata": {…}, "data": "…"}]}: ${body.error.issues[0]?.message}` });
    try {
      const payloads = body.data.payloads.map(payloadFromJson);
      const out = direction === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      res.json({ payloads: out.map(payloadToJson) });
    } catch (err) {
      if (err instanceof Error && err.name === 'KeyringError') return void res.status(400).json({ error: `cannot ${direction}: ${err.message}` });
      next(err);
    }
  };
  router.post('/encode', convert('encode'));
  router.post('/decode', convert('decode'));
  return router;
}
