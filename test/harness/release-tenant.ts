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

/**
 * Pushes the infra image and each service at each tag, all at once; returns
 * image ids by tag and service. The marker, written into every image, keeps
 * one run's images apart from another's.
 */
export async function pushReleaseImages(defaults: RenderDefaults, builds: Record<string, readonly string[]>, marker = defaults.imagePrefix) {
  const ids: Record<string, Record<string, string>> = Object.fromEntries(Object.keys(builds).map((tag) => [tag, {}]));
  await Promise.all([
    buildAndPushImage(defaults.redisImage, `redis ${marker}`),
    ...Object.entries(builds).flatMap(([tag, services]) =>
      services.map(async (svc) => {
        const ref = `${defaults.registry}/${defaults.imagePrefix}/${svc}:${tag}`;
        ids[tag]![svc] = (await buildAndPushImage(ref, `${svc} ${tag} ${marker}`)).id;
      }),
    ),
  ]);
  return ids;
}

export interface ReleaseTenant {
  dir: string;
  slug: string;
  /** The tenant-side logic on this host, for checking containers. */
  driver: ExecutionDriver;
  /** `compose down -v`; then removes the directory unless the tenant was created with `keepDir`. */
  down(): Promise<void>;
}

export async function createReleaseTenant(opts: {
  slug: string;
  defaults: RenderDefaults;
  /** A release of test/fixtures/releases. */
  release: string;
  imageTag: string;
  /** The tenant's directory (created if missing); default: a fresh one under `parent`, or else the OS temp dir. */
  dir?: string;
  parent?: string;
  secrets?: { postgresPassword: string; apiSecret: string };
  /** down() leaves the directory, for a test that looks at it afterwards or removes its whole work dir itself. */
  keepDir?: boolean;
}): Promise<ReleaseTenant> {
  const dir = opts.dir ?? (await mkdtemp(path.join(opts.parent ?? os.tmpdir(), `drydock-${opts.slug}-`)));
  const secrets = opts.secrets ?? { postgresPassword: `pg-${opts.slug}`, apiSecret: `api-${opts.slug}` };
  await mkdir(path.join(dir, 'mkdocs/docs'), { recursive: true });
  await writeFile(path.join(dir, 'mkdocs/mkdocs.yml'), 'site_name: Tenant docs\n');
  await writeFile(path.join(dir, 'mkdocs/docs/index.md'), '# Welcome\n');
  await writeFile(path.join(dir, '.env'), `POSTGRES_PASSWORD=${secrets.postgresPassword}\nAPI_SECRET=${secrets.apiSecret}\n`);
  const driver = createTenantDriver({ compose: await detectComposeVariant() }, { projectName: opts.slug, dir });
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
      await composeDown(opts.slug, dir);
      if (!opts.keepDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `compose down -v --remove-orphans` of a project, for teardown: containers get one second to stop, and a failure is ignored. */
export async function composeDown(project: string, dir: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const [file, head] = (await detectComposeVariant()) === 'v2' ? ['docker', ['compose']] : ['docker-compose', []];
  await promisify(execFile)(file, [...head, '--project-name', project, 'down', '-v', '--remove-orphans', '-t', '1'], { cwd: dir, env: { ...process.env, ...env } }).catch(() => {});
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
