/**
 * A tenant as a release left it: the release's templates (test/fixtures/
 * releases/<name>) rendered into a fresh directory with the tenant's own
 * secrets and content, brought up on the Docker engine; plus the images of
 * every service of those releases in the local registry.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { renderRelease } from '../../core/release-plan.js';
import { createTenantDriver, detectComposeVariant } from '../../tenant/tenant.js';
import type { ExecutionDriver } from '../../core/driver.js';
import type { RenderDefaults } from '../../core/render.js';
import { createPlanner, renderDefaultsFromEnv } from '../../worker/planner.js';
import { buildAndPushImage, registryAddress } from './images.js';

export const RELEASES = path.join(import.meta.dirname, '..', 'fixtures', 'releases');
export const RELEASE_SERVICES = ['api', 'admin', 'media-api', 'nginx', 'search'];

/** Render defaults pointing at the local registry, under an image prefix of the slug's own. */
export function releaseDefaults(slug: string): RenderDefaults {
  return releaseDefaultsForPrefix(`drydock-${slug}`);
}

/** Render defaults whose images all live under `<loopback registry>/<prefix>/`. */
export function releaseDefaultsForPrefix(prefix: string): RenderDefaults {
  return {
    ...renderDefaultsFromEnv({}),
    imageTag: 'latest',
    registry: registryAddress(),
    imagePrefix: prefix,
    redisImage: `${registryAddress()}/${prefix}/redis:stable`,
  };
}

/** Pushes the infra image and each service at each tag; returns image ids by tag and service. */
export async function pushReleaseImages(defaults: RenderDefaults, builds: Record<string, string[]>) {
  await buildAndPushImage(defaults.redisImage, 'redis');
  const ids: Record<string, Record<string, string>> = {};
  for (const [tag, services] of Object.entries(builds)) {
    ids[tag] = {};
    for (const svc of services) {
      const ref = `${defaults.registry}/${defaults.imagePrefix}/${svc}:${tag}`;
      ids[tag]![svc] = (await buildAndPushImage(ref, `${svc} ${tag} ${defaults.imagePrefix}`)).id;
    }
  }
  return ids;
}

export interface ReleaseTenant {
  dir: string;
  slug: string;
  /** The tenant-side logic on this host, for checking containers. */
  driver: ExecutionDriver;
  down(): Promise<void>;
}

export async function createReleaseTenant(opts: {
  slug: string;
  defaults: RenderDefaults;
  release: string;
  imageTag: string;
  dir?: string;
  secrets?: { postgresPassword: string; apiSecret: string };
}): Promise<ReleaseTenant> {
  const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'drydock-tenant-')));
  const secrets = opts.secrets ?? { postgresPassword: `pg-${opts.slug}`, apiSecret: `api-${opts.slug}` };
  await mkdir(path.join(dir, 'mkdocs/docs'), { recursive: true });
  await writeFile(path.join(dir, 'mkdocs/mkdocs.yml'), 'site_name: Tenant docs\n');
  await writeFile(path.join(dir, 'mkdocs/docs/index.md'), '# Welcome\n');
  await writeFile(path.join(dir, '.env'), `POSTGRES_PASSWORD=${secrets.postgresPassword}\nAPI_SECRET=${secrets.apiSecret}\n`);
  const variant = await detectComposeVariant();
  const driver = createTenantDriver({ compose: variant }, { projectName: opts.slug, dir });
  const instance = { slug: opts.slug, name: `Tenant ${opts.slug}`, composeProjectName: opts.slug, isRegistered: false };
  const planner = createPlanner(opts.defaults, path.join(RELEASES, opts.release));
  const { rendered } = await renderRelease(planner, driver, instance, opts.imageTag);
  await driver.writeFiles(rendered.map((f) => f.path), rendered);
  await driver.upAll({ IMAGE_TAG: opts.imageTag });
  return {
    dir,
    slug: opts.slug,
    driver,
    async down() {
      const [file, head] = variant === 'v2' ? ['docker', ['compose']] : ['docker-compose', []];
      await promisify(execFile)(file, [...head, '--project-name', opts.slug, 'down', '-v', '--remove-orphans'], { cwd: dir }).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** sha256 of every file under root (or of the given paths; null where absent), by relative path. */
export async function checksums(root: string, paths?: string[]): Promise<Record<string, string | null>> {
  const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const out: Record<string, string | null> = {};
  if (paths) {
    for (const p of paths) out[p] = await readFile(path.join(root, p)).then(hash, () => null);
    return out;
  }
  async function walk(rel: string) {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const p = path.posix.join(rel, e.name);
      if (e.isDirectory()) await walk(p);
      else out[p] = hash(await readFile(path.join(root, p)));
    }
  }
  await walk('');
  return out;
}

/** sha256 of every file under root by relative path, symlinks recorded as such (never followed). */
export async function treeChecksums(root: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const p = path.posix.join(rel, e.name);
    if (e.isDirectory()) Object.assign(out, await treeChecksums(root, p));
    else if (e.isSymbolicLink()) out[p] = 'symlink';
    else out[p] = createHash('sha256').update(await readFile(path.join(root, p))).digest('hex');
  }
  return out;
}
