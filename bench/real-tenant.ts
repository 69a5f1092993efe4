/**
 * Real Docker Compose tenants for the benchmarks that run real upgrades
 * (overhead, agent memory): the Docker engine and the loopback registry
 * (scripts/infra.sh, as the tests start them), the test stack's images for
 * several release tags, and a tenant as release N left it.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { renderRelease } from '../core/release-plan.js';
import { createTenantDriver, detectComposeVariant } from '../tenant/tenant.js';
import type { RenderDefaults } from '../core/render.js';
import { buildAndPushImage, registryAddress } from '../test/harness/images.js';
import { releaseDefaultsForPrefix } from '../test/harness/release-tenant.js';
import { createPlanner } from '../worker/planner.js';
import { REPO_ROOT } from '../platform/temporal-server.js';

const run = promisify(execFile);

export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'releases');
export const RELEASE_SERVICES = ['api', 'admin', 'media-api', 'nginx', 'search'] as const;

/** A benchmark that cannot run here; bench/run.ts prints the reason and goes on with the others. */
export class BenchSkipped extends Error {}

export async function ensureDockerAndRegistry(): Promise<void> {
  try {
    await run('bash', [path.join(REPO_ROOT, 'scripts/infra.sh')], { timeout: 600_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new BenchSkipped(`needs the Docker engine and the loopback registry, which scripts/infra.sh could not start: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' ')}`);
  }
}

export interface ReleaseStack {
  prefix: string;
  defaults: RenderDefaults;
  /** Image ids by tag and service. */
  images: Record<string, Record<string, string>>;
}

/** The release test stack's images (five app services and redis) for each tag, pushed to the loopback registry. */
export async function buildReleaseStack(name: string, tags: string[]): Promise<ReleaseStack> {
  const prefix = `drydock-bench-${name}`;
  const defaults = releaseDefaultsForPrefix(prefix);
  await buildAndPushImage(defaults.redisImage, 'redis');
  const images: Record<string, Record<string, string>> = {};
  for (const tag of tags) {
    images[tag] = {};
    for (const svc of RELEASE_SERVICES) {
      images[tag]![svc] = (await buildAndPushImage(`${registryAddress()}/${prefix}/${svc}:${tag}`, `${svc} ${tag} ${name}`)).id;
    }
  }
  return { prefix, defaults, images };
}

export interface ReleaseTenant {
  slug: string;
  dir: string;
  down(): Promise<void>;
}

/** A tenant as release N (fixtures/releases/n) at `tag` left it, up on the Docker engine. */
export async function createReleaseTenant(stack: ReleaseStack, slug: string, tag: string, root = os.tmpdir()): Promise<ReleaseTenant> {
  const dir = await mkdtemp(path.join(root, `drydock-bench-${slug}-`));
  await mkdir(path.join(dir, 'mkdocs/docs'), { recursive: true });
  await writeFile(path.join(dir, 'mkdocs/mkdocs.yml'), 'site_name: Benchmark tenant\n');
  await writeFile(path.join(dir, 'mkdocs/docs/index.md'), '# Benchmark\n');
  await writeFile(path.join(dir, '.env'), `POSTGRES_PASSWORD=pg-${slug}\nAPI_SECRET=api-${slug}\n`);
  const compose = await detectComposeVariant();
  const driver = createTenantDriver({ compose }, { projectName: slug, dir });
  const { rendered } = await renderRelease(createPlanner(stack.defaults, path.join(FIXTURES, 'n')), driver, { slug, name: slug, composeProjectName: slug, isRegistered: false }, tag);
  await driver.writeFiles(rendered.map((f) => f.path), rendered);
  await driver.upAll({ IMAGE_TAG: tag });
  return {
    slug,
    dir,
    async down() {
      const [file, head] = compose === 'v2' ? ['docker', ['compose']] : ['docker-compose', []];
      await run(file, [...head, '--project-name', slug, 'down', '-v', '--remove-orphans', '-t', '1'], { cwd: dir }).catch(() => undefined);
    },
  };
}

export interface UpgradeStep {
  name: string;
  status: string;
  startedAt: string;
  finishedAt?: string;
}

export interface ComposeCall {
  /** Epoch ms, sub-millisecond. */
  start: number;
  ms: number;
  cwd?: string;
  what: string;
}

export interface StepBreakdown {
  name: string;
  ms: number;
  composeMs: number;
}

/** Each step's duration and the compose time that ran inside it. */
export function breakdown(steps: UpgradeStep[], calls: ComposeCall[]): StepBreakdown[] {
  return steps.map((s) => {
    const from = Date.parse(s.startedAt);
    const to = s.finishedAt ? Date.parse(s.finishedAt) : from;
    // Step times come from workflow time (millisecond precision): a call belongs to the step it starts in.
    const inside = calls.filter((c) => c.start >= from - 1 && c.start <= to + 1);
    return { name: s.name, ms: to - from, composeMs: inside.reduce((a, c) => a + c.ms, 0) };
  });
}
