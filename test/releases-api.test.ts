/**
 * The release catalog and per-instance values through the real API, on a
 * real PostgreSQL: publishing .tar.gz bundles (immutable versions, bad
 * bundles named by file and line), the release-to-release diff, values
 * checked against the release's schema, secrets sealed at rest and never
 * answered, and one instance per tenant.
 */
import { cp as copyDir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceValuesView, releaseDetail, releaseDiff, releaseSummary, publishedRelease } from '../api/responses.js';
import { startTestControlPlane, uniqueName, type TestControlPlane } from './support.js';

const EXAMPLES = path.join(import.meta.dirname, '..', 'examples', 'notes');
const TOKEN = 'tok-Zq81-never-shown';

async function tgz(dir: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of createTar({ gzip: true, cwd: dir, portable: true }, ['.'])) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('the release catalog and instance values through the API', () => {
  let cp: TestControlPlane;
  let work: string;
  const logs: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-releases-'));
    cp = await startTestControlPlane({ runWorker: false, releasesDir: EXAMPLES, log: (m) => logs.push(m) });
  });
  afterAll(async () => {
    await cp?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const upload = async (body: Buffer | string) => {
    const res = await fetch(`${cp.url}/api/releases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cp.operator.token}`, 'content-type': 'application/gzip' },
      body: typeof body === 'string' ? body : new Uint8Array(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  /** A copy of notes 1.1.0 published as a new version, after `edit` changed files in it. */
  async function bundle(version: string, edit: (dir: string) => Promise<void> = async () => {}) {
    const dir = path.join(work, uniqueName('b'));
    await copyDir(path.join(EXAMPLES, '1.1.0'), dir, { recursive: true });
    const releaseFile = path.join(dir, 'release.json');
    await writeFile(releaseFile, (await readFile(releaseFile, 'utf8')).replace('"notes-1.1.0"', JSON.stringify(version)));
    await edit(dir);
    return tgz(dir);
  }
  const replaceIn = (file: string, from: string, to: string) => async (dir: string) => {
    const p = path.join(dir, file);
    await writeFile(p, (await readFile(p, 'utf8')).replace(from, to));
  };

  it('lists the releases loaded from DRYDOCK_RELEASES_DIR at start, the last one the default', async () => {
    const res = await cp.api('GET', '/api/releases');
    expect(res.status).toBe(200);
    expect(res.body.map((r: { version: string }) => r.version)).toEqual(['notes-1.0.0', 'notes-1.0.1', 'notes-1.1.0']);
    expect(res.body.find((r: { isDefault: boolean }) => r.isDefault).version).toBe('notes-1.1.0');
  });

  it('publishes an uploaded .tar.gz, answers the same content again with a no-op 200, and shows it', async () => {
    const archive = await bundle('notes-2.0.0');
    const first = await upload(archive);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ version: 'notes-2.0.0', name: 'notes', outcome: 'created' });
    const again = await upload(archive);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ outcome: 'same', contentHash: first.body.contentHash });
    const shown = await cp.api('GET', '/api/releases/notes-2.0.0');
    expect(shown.status).toBe(200);
    expect(shown.body.contentHash).toBe(first.body.contentHash);
    expect(shown.body.notes).toMatch(/message of the day/);
    expect(Object.keys(shown.body.files).sort()).toEqual(['app/motd.txt.eta', 'app/notes.ini.eta', 'compose.yml.eta', 'env.eta', 'manifest.json', 'release.json', 'values.schema.json']);
    expect(shown.body.secrets).toEqual(['signingToken']);
    expect(shown.body.schema.properties.title.default).toBe('Notes');
  });

  it('refuses other content under a published version with 409 naming the version, and keeps the first', async () => {
    const before = (await cp.api('GET', '/api/releases/notes-2.0.0')).body.contentHash;
    const res = await upload(await bundle('notes-2.0.0', replaceIn('app/motd.txt.eta', '<%=', 'MOTD: <%=')));
    expect(res.status).toBe(409);
    expect(res.body.error).toMatch(/release notes-2\.0\.0 is published already with other content/);
    expect((await cp.api('GET', '/api/releases/notes-2.0.0')).body.contentHash).toBe(before);
  });

  it.each([
    ['a manifest path outside the rules', 'manifest.json', '"app/conf.d/motd.txt"', '"../motd.txt"', /manifest\.json:\d+: managed\[3\] \("\.\.\/motd\.txt"\): path contains a "\.\." segment/, 'manifest.json'],
    ['a manifest path into tenant content', 'manifest.json', '"app/conf.d/motd.txt"', '"mkdocs/motd.txt"', /path is tenant-owned content/, 'manifest.json'],
    ['a template that does not compile', 'app/motd.txt.eta', '<%= it.values.motd %>', '<%= it.values.motd', /app\/motd\.txt\.eta.*does not compile/, 'app/motd.txt.eta'],
    ['an invalid schema', 'values.schema.json', '"type": "integer"', '"type": "integr"', /values\.schema\.json.*is not a valid JSON Schema/, 'values.schema.json'],
    ['a render with the defaults that fails', 'app/notes.ini.eta', '<%= it.values.title %>', '<%= it.values.titel %>', /app\/notes\.ini\.eta:3: does not render with the schema's defaults: [\s\S]*it\.values\.titel is not in the render context/, 'app/notes.ini.eta'],
    ['release.json that is not JSON', 'release.json', '"name": "notes",', '"name": "notes"', /release\.json:3: is not valid JSON/, 'release.json'],
  ])('refuses a bundle with %s: 400 naming the file and the line', async (_what, file, from, to, message, named) => {
    const res = await upload(await bundle(uniqueName('bad-'), replaceIn(file, from, to)));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(message);
    expect(res.body.file).toBe(named);
  });

  it('names the line of a bad manifest entry', async () => {
    const res = await upload(await bundle(uniqueName('bad-'), replaceIn('manifest.json', '"app/conf.d/motd.txt"', '"/etc/motd"')));
    expect(res.status).toBe(400);
    expect(res.body.line).toBe(19);
    expect(res.body.error).toMatch(/path is absolute/);
  });

  it('answers in the shapes api/schemas.ts declares, which the web UI reads', async () => {
    for (const r of (await cp.api('GET', '/api/releases')).body) releaseSummary.parse(r);
    releaseDetail.parse((await cp.api('GET', '/api/releases/notes-1.1.0')).body);
    releaseDiff.parse((await cp.api('GET', '/api/releases/notes-1.0.0/diff/notes-1.1.0')).body);
    publishedRelease.parse((await upload(await bundle('notes-2.0.0'))).body);
  });

  it('refuses a body that is not a .tar.gz', async () => {
    const res = await upload('not an archive');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/not a readable \.tar\.gz/);
  });

  it('diffs two releases: image-only when only image references change, files and images otherwise', async () => {
    const quick = await cp.api('GET', '/api/releases/notes-1.0.0/diff/notes-1.0.1');
    expect(quick.status).toBe(200);
    expect(quick.body.imageOnly).toBe(true);
    console.log(`GET /api/releases/notes-1.0.0/diff/notes-1.0.1 answered (diff texts cut): ${JSON.stringify({ ...quick.body, files: quick.body.files.map((f: { diff?: string }) => ({ ...f, diff: f.diff?.slice(0, 160) })) })}`);
    expect(quick.body.images.map((i: { service: string }) => i.service)).toEqual(['gateway', 'jobs', 'web']);
    const full = await cp.api('GET', '/api/releases/notes-1.0.0/diff/notes-1.1.0');
    expect(full.body.imageOnly).toBe(false);
    expect(full.body.files.find((f: { path: string }) => f.path === 'app/conf.d/motd.txt').status).toBe('created');
    expect((await cp.api('GET', '/api/releases/notes-1.0.0/diff/nope-9')).status).toBe(404);
  });

  describe('values and secrets', () => {
    let id: string;
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(work, 'tenant-'));
      const created = await cp.api('POST', '/api/instances', {
        slug: uniqueName('notes-'),
        name: 'Notes tenant',
        composeDir: dir,
        release: 'notes-1.0.0',
        values: { title: 'Acme notes', queue: { retries: 5 } },
        secrets: { signingToken: TOKEN },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      id = created.body.id;
      // No tag of its own: the release's.
      expect(created.body).toMatchObject({ releaseVersion: 'notes-1.0.0', coreServices: ['web', 'jobs', 'gateway'], secretsSet: ['signingToken'], imageTag: null, effectiveImageTag: '1.0.0' });
      expect(JSON.stringify(created.body)).not.toContain(TOKEN);
    });

    it('shows values with the defaults filled in and secrets only as set or unset', async () => {
      const res = await cp.api('GET', `/api/instances/${id}/values`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        release: 'notes-1.0.0',
        values: { title: 'Acme notes', queue: { retries: 5 } },
        effectiveValues: { title: 'Acme notes', workers: 2, queue: { name: 'notes', retries: 5 } },
        secrets: { signingToken: 'set' },
      });
      expect(res.body.schema.properties.signingToken['x-drydock-secret']).toBe(true);
      instanceValuesView.parse(res.body);
      for (const path of ['/api/instances', `/api/instances/${id}`, `/api/instances/${id}/values`]) {
        expect(JSON.stringify((await cp.api('GET', path)).body), path).not.toContain(TOKEN);
      }
    });

    it('stores the secret sealed: the database row holds no plaintext, and a key id', async () => {
      const client = new pg.Client({ connectionString: cp.db.url });
      await client.connect();
      try {
        const { rows } = await client.query('SELECT secrets::text AS s FROM "Instance" WHERE id = $1', [id]);
        expect(rows[0].s).not.toContain(TOKEN);
        expect(JSON.parse(rows[0].s).signingToken).toMatch(/^[^.]+\.[A-Za-z0-9_-]+/);
      } finally {
        await client.end();
      }
    });

    it.each([
      ['a value against its rule', { values: { workers: 99 } }, /\/workers: must be <= 16 \(maximum\)/],
      ['an unknown key (a typo)', { values: { titel: 'x' } }, /\/: unknown key "titel" \(additionalProperties\)/],
      ['a nested unknown key', { values: { queue: { retry: 1 } } }, /\/queue: unknown key "retry"/],
      ['a secret sent as a value', { values: { signingToken: 'abc' } }, /\/signingToken is a secret/],
      ['a secret against its rule', { secrets: { signingToken: 'short' } }, /\/signingToken: must NOT have fewer than 12 characters \(minLength\)/],
      ['a secret the release does not have', { secrets: { dbPassword: 'x'.repeat(20) } }, /\/dbPassword: not a secret of this release/],
    ])('refuses %s, naming the JSON path and the rule, and changes nothing', async (_what, body, message) => {
      const before = (await cp.api('GET', `/api/instances/${id}/values`)).body;
      const res = await cp.api('PUT', `/api/instances/${id}/values`, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(message);
      expect(JSON.stringify(res.body)).not.toContain('short');
      expect((await cp.api('GET', `/api/instances/${id}/values`)).body).toEqual(before);
    });

    it('replaces values and unsets a secret with null', async () => {
      const res = await cp.api('PUT', `/api/instances/${id}/values`, { values: { title: 'Renamed' }, secrets: { signingToken: null } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ values: { title: 'Renamed' }, secrets: { signingToken: 'unset' } });
      const set = await cp.api('PUT', `/api/instances/${id}/values`, { secrets: { signingToken: TOKEN } });
      expect(set.body.secrets).toEqual({ signingToken: 'set' });
      expect(set.body.values).toEqual({ title: 'Renamed' });
    });

    it('refuses a second instance for the same compose directory and project, naming the first', async () => {
      const first = (await cp.api('GET', `/api/instances/${id}`)).body;
      const res = await cp.api('POST', '/api/instances', { slug: uniqueName('dup-'), name: 'Dup', composeDir: dir, composeProjectName: first.composeProjectName });
      expect(res.status).toBe(409);
      expect(res.body.error).toContain(`instance ${first.slug} already manages compose project ${first.composeProjectName}`);
    });

    it('takes a release in a rollout, and names a release the catalog lacks', async () => {
      const ok = await cp.api('POST', '/api/rollouts/preview', { mode: 'release', release: 'notes-1.1.0', target: { instanceIds: [id] }, waves: [1] });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      const bad = await cp.api('POST', '/api/rollouts/preview', { mode: 'release', release: 'notes-9.9.9', target: { instanceIds: [id] }, waves: [1] });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatch(/release notes-9\.9\.9 is not in the catalog/);
      const preview = await cp.api('POST', `/api/instances/${id}/upgrade-release/preview`, { release: 'notes-9.9.9' });
      expect(preview.status).toBe(400);
    });

    it('logs no secret', () => {
      expect(logs.length).toBeGreaterThan(0);
      expect(logs.join('\n')).not.toContain(TOKEN);
    });

    it('creates nothing when the values of a new instance are bad', async () => {
      const slug = uniqueName('bad-');
      const res = await cp.api('POST', '/api/instances', { slug, name: 'Bad', composeDir: dir, composeProjectName: 'other', release: 'notes-1.0.0', values: { workers: 0 } });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/\/workers: must be >= 1 \(minimum\)/);
      expect((await cp.api('GET', '/api/instances')).body.map((i: { slug: string }) => i.slug)).not.toContain(slug);
    });
  });
});
