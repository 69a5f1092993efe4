/**
 * The release catalog over HTTP: list, show, publish (a .tar.gz body) and
 * the release-to-release diff. Publishing checks the whole bundle (schema,
 * manifest rules, templates compile, a render with the defaults) before it
 * stores anything.
 */
import express, { Router } from 'express';
import { z } from 'zod';
import { BundleError } from '../../core/bundle.js';
import { DrydockError, notFound } from '../../core/errors.js';
import type { PlatformSettings } from '../../core/render.js';
import { diffReleases } from '../../core/release-diff.js';
import type { ReleaseCatalog } from '../../worker/catalog.js';
import { MAX_BUNDLE_BYTES, readBundleArchive } from '../bundle-upload.js';
import { releaseVersion } from '../schemas.js';
import { auditLocals } from '../audit.js';

export interface ReleasesRouterDeps {
  catalog: ReleaseCatalog;
  /** Platform settings the diff renders with (the control plane's registry, prefix, domain, default tag). */
  platform: () => PlatformSettings;
  log?: (m: string) => void;
}

const versionParam = z.object({ version: releaseVersion });
const diffParams = z.object({ from: releaseVersion, to: releaseVersion });

/** A bundle problem: 400 naming the file and the line. */
function bundleRefused(err: BundleError): DrydockError {
  return new DrydockError('bad-request', `bundle refused: ${err.message}`, { file: err.file, ...(err.line !== undefined ? { line: err.line } : {}) });
}

export function createRouter(deps: ReleasesRouterDeps): Router {
  const router = Router();

  async function load(version: string) {
    const bundle = await deps.catalog.get(version);
    if (!bundle) throw notFound(`no release ${version} in the catalog`);
    return bundle;
  }

  router.get('/releases', async (_req, res) => {
    const def = deps.catalog.defaultVersion();
    res.json((await deps.catalog.list()).map((r) => ({ ...r, isDefault: r.version === def })));
  });

  router.get('/releases/:from/diff/:to', async (req, res) => {
    const { from, to } = diffParams.parse(req.params);
    const [a, b] = [await load(from), await load(to)];
    try {
      res.json(diffReleases(a, b, deps.platform()));
    } catch (err) {
      if (err instanceof BundleError) throw bundleRefused(err);
      throw err;
    }
  });

  router.get('/releases/:version', async (req, res) => {
    const { version } = versionParam.parse(req.params);
    const bundle = await load(version);
    const row = (await deps.catalog.list()).find((r) => r.version === version);
    res.json({
      version,
      name: bundle.release.name,
      contentHash: bundle.contentHash,
      source: row?.source,
      createdAt: row?.createdAt,
      isDefault: version === deps.catalog.defaultVersion(),
      release: bundle.release,
      notes: bundle.release.notes,
      schema: bundle.schema,
      secrets: bundle.secretKeys,
      managed: bundle.templates.manifest,
      files: bundle.files,
    });
  });

  router.post(
    '/releases',
    express.raw({ type: () => true, limit: MAX_BUNDLE_BYTES }),
    async (req, res) => {
      const body = req.body as unknown;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        throw new DrydockError('bad-request', 'send the bundle directory as a .tar.gz body (Content-Type: application/gzip)');
      }
      let result;
      try {
        result = await deps.catalog.publish(await readBundleArchive(body), 'upload');
      } catch (err) {
        if (err instanceof BundleError) throw bundleRefused(err);
        throw err;
      }
      const { bundle, outcome } = result;
      Object.assign(auditLocals(res), { auditTarget: { kind: 'release', id: bundle.release.version }, auditAfter: { contentHash: bundle.contentHash, outcome } });
      deps.log?.(`release ${bundle.release.version} ${outcome === 'created' ? 'published' : 'published again with the same content (no-op)'}`);
      res.status(outcome === 'created' ? 201 : 200).json({
        version: bundle.release.version,
        name: bundle.release.name,
        contentHash: bundle.contentHash,
        outcome,
      });
    },
  );

  return router;
}
