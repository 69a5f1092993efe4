/**
 * The real templates, rendered for three tenants and compared byte for byte
 * with templates/__golden__/<case>/. After changing a template, run
 * `UPDATE_GOLDEN=1 npx vitest run templates`, read the diff of __golden__
 * and commit it with the template change.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envCoverage } from '../core/env-file.js';
import { renderBundle } from '../core/release-render.js';
import type { PlatformSettings, RenderedFile, RenderInstance, TenantSecrets } from '../core/render.js';
import { loadBundleDir, loadTemplateSet, TEMPLATES_DIR } from './load.js';

const GOLDEN_DIR = path.join(TEMPLATES_DIR, '__golden__');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const platform: PlatformSettings = {
  imageTag: '2.5.0',
  registry: 'registry.example.com',
  imagePrefix: 'drydock/app',
  baseDomain: 'tenants.example.com',
};
// The golden files were made when these were control-plane settings; they are the bundle's values now.
const values = { postgresImage: 'postgres:16-alpine', redisImage: 'redis:7-alpine', smtp: { host: 'smtp.example.com', port: 587 } };
// Fake, recognizable values: goldens are committed.
const secrets: TenantSecrets = { postgresPassword: 'golden-postgres-password', apiSecret: 'golden-api-secret' };

interface GoldenCase {
  name: string;
  instance: RenderInstance;
  secrets?: TenantSecrets;
  excludeEnv: boolean;
}

const CASES: GoldenCase[] = [
  {
    name: 'own-image-tag',
    instance: { slug: 'acme', name: 'Acme Corp', imageTag: '2.4.1', composeProjectName: 'acme' },
    secrets,
    excludeEnv: false,
  },
  {
    name: 'default-image-tag',
    instance: { slug: 'globex', name: 'Globex & Partners', imageTag: null, composeProjectName: 'globex_prod' },
    secrets,
    excludeEnv: false,
  },
  {
    name: 'registered-tenant',
    instance: { slug: 'initech', name: 'Initech', imageTag: '2.3.0', composeProjectName: 'initech' },
    excludeEnv: true,
  },
];

const bundle = await loadBundleDir(TEMPLATES_DIR);
const set = bundle.templates;
const render = (c: GoldenCase) =>
  renderBundle(bundle, c.instance, platform, { values, secrets: c.excludeEnv ? null : { ...c.secrets! } }).rendered;

async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await filesUnder(path.join(dir, d.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

async function writeFiles(dir: string, files: { path: string; content: string }[]) {
  for (const f of files) {
    await mkdir(path.dirname(path.join(dir, f.path)), { recursive: true });
    await writeFile(path.join(dir, f.path), f.content);
  }
}

describe('rendering the release templates', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('renders the %s case exactly as its golden files', async (_name, c) => {
    const rendered = render(c);
    const dir = path.join(GOLDEN_DIR, c.name);
    if (UPDATE) {
      await rm(dir, { recursive: true, force: true });
      await writeFiles(dir, rendered);
    }
    expect(await filesUnder(dir)).toEqual(rendered.map((f) => f.path).sort());
    for (const f of rendered) expect(f.content, f.path).toBe(await readFile(path.join(dir, f.path), 'utf8'));
  });

  it('renders the .env of a drydock-created tenant but not of a registered one', () => {
    expect(render(CASES[0]!).map((f) => f.path)).toContain('.env');
    expect(render(CASES[2]!).map((f) => f.path)).not.toContain('.env');
  });

  it('writes the default tag into the compose file when the instance has none', () => {
    const compose = render(CASES[1]!).find((f) => f.kind === 'compose')!.content;
    expect(compose).toContain('image: registry.example.com/drydock/app/api:${IMAGE_TAG:-2.5.0}');
  });

  it('renders a .env that covers every variable the compose file needs, and nothing else', () => {
    const files = render(CASES[0]!);
    const coverage = envCoverage(files.find((f) => f.kind === 'compose')!.content, files.find((f) => f.kind === 'env')!.content);
    expect(coverage).toMatchObject({ missingInTenantEnv: [], unusedInTenantEnv: [], problems: [] });
  });

  it('references variables in every interpolation syntax compose supports', () => {
    const compose = render(CASES[0]!).find((f) => f.kind === 'compose')!.content;
    expect(compose).toMatch(/\$\{POSTGRES_PASSWORD\}/);
    expect(compose).toMatch(/\$\{REDIS_URL:-[^}]+\}/);
    expect(compose).toMatch(/\$\{LOG_LEVEL-[^}]+\}/);
    expect(compose).toMatch(/\$\{SMTP_HOST\?[^}]+\}/);
    expect(compose).toMatch(/\$\{SMTP_FROM:\?[^}]+\}/);
    expect(compose).toMatch(/\$API_SECRET\b/);
    expect(compose).toMatch(/\$\$\{POSTGRES_USER\}/);
  });

  it("tells what a registered tenant's own .env lacks", () => {
    const compose = render(CASES[2]!).find((f) => f.kind === 'compose')!.content;
    expect(envCoverage(compose, 'POSTGRES_PASSWORD=x\nAPI_SECRET=y\nOLD_FLAG=1\n')).toMatchObject({
      missingInTenantEnv: ['SMTP_FROM', 'SMTP_HOST'],
      unusedInTenantEnv: ['OLD_FLAG'],
    });
  });
});

describe('loading a template set', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  async function templatesDir(manifest: unknown, files: Record<string, string> = {}) {
    const dir = await mkdtemp(path.join(tmpdir(), 'drydock-templates-'));
    dirs.push(dir);
    await writeFiles(dir, [
      { path: 'manifest.json', content: typeof manifest === 'string' ? manifest : JSON.stringify(manifest) },
      ...Object.entries(files).map(([p, content]) => ({ path: p, content })),
    ]);
    return dir;
  }

  it('reads the manifest and every template it names', async () => {
    const dir = await templatesDir({ managed: [{ path: 'a.conf', template: 'sub/a.eta', kind: 'config' }] }, { 'sub/a.eta': 'x' });
    expect(await loadTemplateSet(dir)).toEqual({
      manifest: [{ path: 'a.conf', template: 'sub/a.eta', kind: 'config' }],
      sources: { 'sub/a.eta': 'x' },
    });
  });

  it('names the bad entry of a manifest', async () => {
    const dir = await templatesDir({
      managed: [
        { path: 'a.conf', template: 'a.eta', kind: 'config' },
        { path: 'mkdocs/index.md', template: 'a.eta', kind: 'config' },
      ],
    });
    await expect(loadTemplateSet(dir)).rejects.toThrow(/managed\[1\] \("mkdocs\/index.md"\): path is tenant-owned content/);
  });

  it('names a template that is missing', async () => {
    const dir = await templatesDir({ managed: [{ path: 'a.conf', template: 'a.eta', kind: 'config' }] });
    await expect(loadTemplateSet(dir)).rejects.toThrow(/cannot read template a.eta \(for a.conf\)/);
  });

  it('says when the manifest is not JSON', async () => {
    const dir = await templatesDir('{ managed: [');
    await expect(loadTemplateSet(dir)).rejects.toThrow(/cannot read the template manifest .*manifest.json/);
  });

  it('loads the shipped manifest, which manages nothing of the tenant', () => {
    expect(set.manifest.map((e) => e.path)).toEqual([
      'docker-compose.yml',
      '.env',
      'nginx/conf.d/default.conf',
      'drydock/healthcheck.sh',
      'drydock/VERSION',
    ]);
  });
});

interface ComposeBinary {
  label: string;
  file: string;
  args: string[];
}

function installedComposes(): ComposeBinary[] {
  const candidates: ComposeBinary[] = [
    { label: 'docker compose (v2)', file: 'docker', args: ['compose'] },
    { label: 'docker-compose (v1)', file: 'docker-compose', args: [] },
  ];
  return candidates.filter((c) => spawnSync(c.file, [...c.args, 'version'], { stdio: 'ignore' }).status === 0);
}

const composes = installedComposes();
if (composes.length === 0) {
  console.log('Skipping the compose validation of rendered files: neither `docker compose` nor `docker-compose` is on PATH.');
}

describe('the rendered compose file', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  async function tenantDir(files: RenderedFile[], extra: Record<string, string> = {}) {
    const dir = await mkdtemp(path.join(tmpdir(), 'drydock-rendered-'));
    dirs.push(dir);
    await writeFiles(dir, [...files, ...Object.entries(extra).map(([p, content]) => ({ path: p, content }))]);
    return dir;
  }

  // Only PATH and HOME: variables of the test process must not fill gaps in .env.
  function runCompose(c: ComposeBinary, dir: string, args: string[], env: Record<string, string> = {}) {
    return spawnSync(c.file, [...c.args, ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    });
  }

  it.skipIf(composes.length === 0)('is valid for every installed compose, with its rendered .env', async () => {
    const dir = await tenantDir(render(CASES[0]!));
    for (const c of composes) {
      const r = runCompose(c, dir, ['config', '--quiet']);
      expect(r.status, `${c.label}: ${r.stderr}`).toBe(0);
    }
  });

  it.skipIf(composes.length === 0)('takes the image tag from IMAGE_TAG in the environment, as a Quick Upgrade sets it', async () => {
    const dir = await tenantDir(render(CASES[1]!));
    for (const c of composes) {
      const r = runCompose(c, dir, ['config'], { IMAGE_TAG: '9.9.9' });
      expect(r.status, `${c.label}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('registry.example.com/drydock/app/api:9.9.9');
      expect(r.stdout).toContain('registry.example.com/drydock/app/nginx:9.9.9');
    }
  });

  it.skipIf(composes.length === 0)('fails for a registered tenant whose .env lacks a required variable, naming it', async () => {
    const dir = await tenantDir(render(CASES[2]!), { '.env': 'POSTGRES_PASSWORD=x\nAPI_SECRET=y\nSMTP_FROM=a@b.example\n' });
    for (const c of composes) {
      const r = runCompose(c, dir, ['config', '--quiet']);
      expect(r.status, c.label).not.toBe(0);
      expect(r.stderr, c.label).toContain('SMTP_HOST must be set in .env');
    }
  });
});
