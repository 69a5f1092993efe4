/**
 * `npm run demo`: something real to upgrade, next to a running `npm start`.
 *
 * Lays out a tenant of the example bundle (examples/notes: web, jobs and
 * gateway) on the local Docker engine, with images made here by `docker
 * import` and pushed to the loopback registry, publishes two releases of it
 * and registers it as an instance, so that Quick Upgrade, Upgrade to Release
 * (with a diff) and a rollback can be clicked through at once.
 *
 * It talks to the control plane's API (DRYDOCK_URL, default
 * http://127.0.0.1:3000) as an operator rather than writing into its
 * database: `npm start` keeps its embedded PGlite database open in its own
 * process (PGlite serves one process), and the API checks every bundle and
 * seals the demo's secret the way it does for any operator.
 *
 * Credentials: DRYDOCK_TOKEN (an API token), else DRYDOCK_ADMIN_EMAIL
 * (default admin@localhost) and DRYDOCK_ADMIN_PASSWORD, else the password
 * is asked for on the terminal. Safe to run again: what exists is kept.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { create as createTar } from 'tar';
import { createTenantDriver, detectComposeVariant } from '../tenant/tenant.js';
import { renderBundle } from '../core/release-render.js';
import { bundleFromFiles } from '../templates/load.js';
import { buildAndPushImage } from '../test/harness/images.js';
import { renderDefaultsFromEnv } from '../worker/planner.js';
import { REPO_ROOT } from '../platform/temporal-server.js';

const run = promisify(execFile);

export const DEMO_SERVICES = ['web', 'jobs', 'gateway'];
/** The tags pushed: the first release's, an image-only follow-up, the second release's, and one whose services never become healthy. */
export const DEMO_TAGS = { first: '1.0.0', quick: '1.0.1', second: '1.1.0', broken: '1.0.2-broken' } as const;
export const DEMO_RELEASES = { first: 'notes-demo-1.0.0', second: 'notes-demo-1.1.0' } as const;
const EXAMPLE = path.join(REPO_ROOT, 'examples', 'notes');

class DemoError extends Error {}

interface Config {
  url: string;
  registry: string;
  prefix: string;
  slug: string;
  dir: string;
}

function config(env: NodeJS.ProcessEnv): Config {
  const slug = env.DRYDOCK_DEMO_SLUG || 'notes-demo';
  return {
    url: (env.DRYDOCK_URL || 'http://127.0.0.1:3000').replace(/\/$/, ''),
    registry: env.DRYDOCK_DEMO_REGISTRY || `127.0.0.1:${env.DRYDOCK_TEST_REGISTRY_PORT || 5055}`,
    prefix: 'drydock-demo',
    slug,
    dir: path.resolve(env.DRYDOCK_DEMO_DIR || path.join(REPO_ROOT, '.data', 'demo', slug)),
  };
}

const say = (m: string) => console.log(`demo: ${m}`);

async function checkDocker(cfg: Config): Promise<void> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 20_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'the docker command is not installed' : (e.stderr || e.message).trim().split('\n')[0];
    throw new DemoError(
      `no Docker engine is reachable (${why}).\n` +
        '  The demo runs its tenant on the local Docker engine. Install and start one (Debian: apt-get install docker.io docker-compose,\n' +
        '  then start dockerd), or run `sudo bash scripts/infra.sh`, which starts the engine and the loopback registry the demo pushes to.',
    );
  }
  try {
    await fetch(`http://${cfg.registry}/v2/`, { signal: AbortSignal.timeout(5_000) });
  } catch {
    throw new DemoError(
      `no image registry answers on ${cfg.registry}.\n` +
        '  The demo pushes its images there. Start it with `sudo bash scripts/infra.sh` (a docker-registry on 127.0.0.1:5055),\n' +
        '  or point DRYDOCK_DEMO_REGISTRY at a registry the engine can push to without TLS.',
    );
  }
  try {
    await detectComposeVariant();
  } catch {
    throw new DemoError('Docker Compose is missing (neither `docker compose` nor `docker-compose` runs). Install docker-compose.');
  }
}

/** One API client, as an operator of the running control plane. */
async function connect(cfg: Config, env: NodeJS.ProcessEnv) {
  try {
    await fetch(`${cfg.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
  } catch {
    throw new DemoError(`no control plane answers at ${cfg.url}. Start it first with \`npm start\` (or set DRYDOCK_URL).`);
  }
  let headers: Record<string, string>;
  if (env.DRYDOCK_TOKEN) headers = { authorization: `Bearer ${env.DRYDOCK_TOKEN}` };
  else {
    const email = env.DRYDOCK_ADMIN_EMAIL || 'admin@localhost';
    let password = env.DRYDOCK_ADMIN_PASSWORD;
    if (!password) {
      if (!process.stdin.isTTY) throw new DemoError(`set DRYDOCK_TOKEN (an API token) or DRYDOCK_ADMIN_PASSWORD (the password of ${email}) to sign in to ${cfg.url}`);
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      password = await rl.question(`Password of ${email} (npm start printed it on its first run): `);
      rl.close();
    }
    const res = await fetch(`${cfg.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
    if (!res.ok) throw new DemoError(`signing in as ${email} failed: ${await errorOf(res)}`);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    headers = { cookie, 'x-drydock-request': 'ui' };
  }
  const call = async (method: string, p: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(`${cfg.url}${p}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': contentType }) },
      body: body === undefined ? undefined : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
    });
    return { status: res.status, ok: res.ok, res };
  };
  const me = await call('GET', '/api/auth/me');
  if (!me.ok) throw new DemoError(`the control plane at ${cfg.url} refused the credentials: ${await errorOf(me.res)}`);
  return call;
}

async function errorOf(res: Response): Promise<string> {
  const text = await res.text();
  try {
    return (JSON.parse(text) as { error?: string }).error ?? `${res.status}`;
  } catch {
    return `${res.status} ${text.slice(0, 200)}`;
  }
}

/** examples/notes/<version> with its images in the demo's registry, under a version of its own. */
export async function demoBundle(example: string, version: string, imageRepo: string): Promise<Record<string, string>> {
  const root = path.join(EXAMPLE, example);
  const files: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else files[p] = await readFile(path.join(root, p), 'utf8');
    }
  };
  await walk('');
  const release = JSON.parse(files['release.json']!) as Record<string, unknown>;
  release.name = 'notes-demo';
  release.version = version;
  release.notes = `${String(release.notes)} (The demo's copy: images from ${imageRepo}.)`;
  for (const [name, text] of Object.entries(files)) files[name] = text.replaceAll('<%= it.imageRepo %>', imageRepo);
  files['release.json'] = `${JSON.stringify(release, null, 2).replaceAll('<%= it.imageRepo %>', imageRepo)}\n`;
  return files;
}

async function tarGz(files: Record<string, string>, dir: string): Promise<Buffer> {
  const { writeFile, rm, mkdtemp } = await import('node:fs/promises');
  const tmp = await mkdtemp(path.join(dir, '.bundle-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(tmp, name)), { recursive: true });
      await writeFile(path.join(tmp, name), text);
    }
    const chunks: Buffer[] = [];
    const stream = createTar({ gzip: true, cwd: tmp, portable: true }, Object.keys(files));
    for await (const c of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Pushes each image the demo needs unless the registry has it already. */
async function pushImages(cfg: Config): Promise<void> {
  const jobs: { ref: string; marker: string; serves: boolean }[] = [];
  for (const tag of Object.values(DEMO_TAGS)) {
    for (const svc of DEMO_SERVICES) {
      const res = await fetch(`http://${cfg.registry}/v2/${cfg.prefix}/${svc}/manifests/${tag}`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      }).catch(() => undefined);
      if (res?.ok) continue;
      jobs.push({ ref: `${cfg.registry}/${cfg.prefix}/${svc}:${tag}`, marker: `notes ${svc} ${tag}`, serves: tag !== DEMO_TAGS.broken });
    }
  }
  if (jobs.length === 0) return say(`images: all ${DEMO_SERVICES.length * Object.keys(DEMO_TAGS).length} in ${cfg.registry}/${cfg.prefix} already`);
  say(`images: making ${jobs.length} with docker import and pushing them to ${cfg.registry}/${cfg.prefix} …`);
  for (let n = 0; n < jobs.length; n += 3) await Promise.all(jobs.slice(n, n + 3).map((j) => buildAndPushImage(j.ref, j.marker, { serves: j.serves })));
}

export async function runDemo(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const cfg = config(env);
  await checkDocker(cfg);
  const call = await connect(cfg, env);
  await pushImages(cfg);

  const imageRepo = `${cfg.registry}/${cfg.prefix}`;
  const first = await demoBundle('1.0.0', DEMO_RELEASES.first, imageRepo);
  const second = await demoBundle('1.1.0', DEMO_RELEASES.second, imageRepo);
  await mkdir(cfg.dir, { recursive: true });
  for (const files of [first, second]) {
    const version = (JSON.parse(files['release.json']!) as { version: string }).version;
    const r = await call('POST', '/api/releases', await tarGz(files, cfg.dir), 'application/gzip');
    if (r.status === 409) throw new DemoError(`release ${version} exists in the catalog with other content: ${await errorOf(r.res)}`);
    if (!r.ok) throw new DemoError(`publishing release ${version} failed: ${await errorOf(r.res)}`);
    say(`release ${version} ${r.status === 201 ? 'published' : 'was published already'}`);
  }

  const list = await call('GET', '/api/instances');
  const existing = ((await list.res.json()) as { id: string; slug: string }[]).find((i) => i.slug === cfg.slug);
  let id = existing?.id;
  if (existing) say(`instance ${cfg.slug} exists already: left as it is`);
  else {
    // The tenant as release 1 left it: files rendered with a secret of its own, its services up.
    const signingToken = randomBytes(18).toString('base64url');
    const values = { title: 'Notes demo' };
    const instance = { slug: cfg.slug, name: 'Notes demo', imageTag: DEMO_TAGS.first, composeProjectName: cfg.slug };
    const { rendered } = renderBundle(bundleFromFiles(first), instance, renderDefaultsFromEnv(env), { values, secrets: { signingToken } });
    const driver = createTenantDriver({ compose: await detectComposeVariant() }, { projectName: cfg.slug, dir: cfg.dir });
    await driver.writeFiles(rendered.map((f) => f.path), rendered);
    say(`tenant: files of ${DEMO_RELEASES.first} written to ${cfg.dir}; starting its services …`);
    await driver.upAll({ IMAGE_TAG: DEMO_TAGS.first });
    const created = await call('POST', '/api/instances', {
      slug: cfg.slug,
      name: instance.name,
      composeDir: cfg.dir,
      composeProjectName: cfg.slug,
      coreServices: DEMO_SERVICES,
      imageTag: DEMO_TAGS.first,
      release: DEMO_RELEASES.first,
      values,
      secrets: { signingToken },
    });
    if (!created.ok) throw new DemoError(`registering the instance failed: ${await errorOf(created.res)}`);
    id = ((await created.res.json()) as { id: string }).id;
    say(`instance ${cfg.slug} registered`);
  }

  console.log(`
Ready. Open ${cfg.url}/instances/${id} and click through:
  1. Quick Upgrade, tag ${DEMO_TAGS.quick}: new images only (web, jobs, gateway recreated, no file written).
  2. Releases: compare ${DEMO_RELEASES.first} with ${DEMO_RELEASES.second} (a new file app/conf.d/motd.txt, NOTES_QUEUE for jobs).
  3. Upgrade to Release, release ${DEMO_RELEASES.second}: Preview shows the diff; Apply writes exactly that.
  4. Upgrade to Release again, release ${DEMO_RELEASES.second} with tag ${DEMO_TAGS.broken}: those images never become healthy,
     so the upgrade parks at verify (after about three minutes); click Roll back.
Values and the secret are on the instance's Settings tab. Remove the demo: docker-compose -p ${cfg.slug} down (in ${cfg.dir}).`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runDemo().catch((err: unknown) => {
    if (err instanceof DemoError) console.error(`demo: ${err.message}`);
    else console.error(`demo: failed: ${(err as Error).message ?? String(err)}`);
    process.exit(1);
  });
}
