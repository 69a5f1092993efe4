// A tenant: a Compose project in a fresh temp dir, with app services on the
// tenant's image tag, one infra service, and tenant-owned content that an
// upgrade must leave alone.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

const run = promisify(execFile);
const docker = new Docker();

export interface TenantOptions {
  /** Parent for the tenant's temp dir; defaults to the OS temp dir. */
  root?: string;
  /** Compose project name: lowercase letters, digits, `-` and `_` (what Compose v1 keeps as-is). */
  project: string;
  imageTag: string;
  /** Repository without tag, e.g. `127.0.0.1:5055/drydock/app`. */
  appImage: string;
  /** Full ref for the infra (redis) service. */
  infraImage: string;
}

export interface ContainerInfo {
  id: string;
  /** `sha256:…` of the image the container was created from. */
  imageId: string;
  /** Docker state: `running`, `exited`, … */
  state: string;
  /** `starting` | `healthy` | `unhealthy`; absent when the service has no healthcheck. */
  health?: string;
  startedAt: string;
}

export interface Tenant {
  dir: string;
  project: string;
  /** `up -d`, then waits (max 60s) until every container runs and every healthcheck passes. */
  up(): Promise<void>;
  /** `down -v --remove-orphans`, then removes the dir. */
  down(): Promise<void>;
  /** This project's containers by service name. */
  containers(): Promise<Record<string, ContainerInfo>>;
  /** sha256 of every file under `sub`, keyed by path relative to the tenant dir (`/`-separated). */
  checksums(sub?: string): Promise<Record<string, string>>;
}

export const APP_SERVICES = ['api', 'admin', 'media-api', 'nginx'] as const;
export const INFRA_SERVICES = ['redis'] as const;
/** App services without a healthcheck. */
export const UNCHECKED_SERVICES = ['media-api'] as const;

const UP_TIMEOUT_MS = 60_000;

// busybox as PID 1 ignores SIGTERM, so without `init: true` every stop waits
// out Docker's 10s timeout (20s for `down`, which stops nginx before its deps).
const HTTPD = '["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]';
const HEALTHCHECK = `    healthcheck:
      test: ["CMD", "/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 2s
      retries: 3
      start_period: 1s
`;

function appService(name: string, extra = ''): string {
  return `  ${name}:
    image: \${APP_IMAGE}:\${IMAGE_TAG}
    command: ${HTTPD}
    init: true
${extra}`;
}

const COMPOSE_FILE = `version: '2.4'
services:
${appService('api', HEALTHCHECK)}${appService('admin', HEALTHCHECK)}${appService('media-api')}${appService(
  'nginx',
  `    depends_on:
      - api
      - admin
${HEALTHCHECK}`,
)}  redis:
    image: \${INFRA_IMAGE}
    command: ["/bin/sleep", "100000"]
    init: true
`;

const CONTENT: Record<string, string> = {
  'mkdocs/mkdocs.yml': 'site_name: Tenant Docs\nnav:\n  - Home: index.md\n  - Setup: guide/setup.md\n',
  'mkdocs/docs/index.md': '# Welcome\n\nTenant-written documentation.\n',
  'mkdocs/docs/guide/setup.md': '# Setup\n\n1. Log in.\n2. Configure the media bucket.\n',
  'configs/custom.conf': '# tenant overrides\nclient_max_body_size 64m;\n',
  'scripts/backup.sh': '#!/bin/sh\nset -eu\ntar -czf "/backups/$(date +%F).tgz" /data\n',
};

export async function createTenant(opts: TenantOptions): Promise<Tenant> {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(opts.project)) throw new Error(`invalid project name: ${opts.project}`);
  const dir = await mkdtemp(join(opts.root ?? tmpdir(), `drydock-tenant-${opts.project}-`));

  const files: Record<string, string> = {
    ...CONTENT,
    'docker-compose.yml': COMPOSE_FILE,
    '.env': `APP_IMAGE=${opts.appImage}\nIMAGE_TAG=${opts.imageTag}\nINFRA_IMAGE=${opts.infraImage}\n`,
  };
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }

  const project = opts.project;
  const composeRun = (...args: string[]) => compose(dir, ['-p', project, ...args]);

  const containers = async (): Promise<Record<string, ContainerInfo>> => {
    const listed = await docker.listContainers({
      all: true,
      filters: { label: [`com.docker.compose.project=${project}`, 'com.docker.compose.oneoff=False'] },
    });
    const result: Record<string, ContainerInfo> = {};
    for (const c of listed) {
      const service = c.Labels['com.docker.compose.service'];
      if (!service) continue;
      const info = await docker.getContainer(c.Id).inspect();
      result[service] = {
        id: info.Id,
        imageId: info.Image,
        state: info.State.Status,
        ...(info.State.Health ? { health: info.State.Health.Status } : {}),
        startedAt: info.State.StartedAt,
      };
    }
    return result;
  };

  return {
    dir,
    project,
    containers,
    async up() {
      await composeRun('up', '-d');
      const deadline = Date.now() + UP_TIMEOUT_MS;
      for (;;) {
        const all = Object.entries(await containers());
        const ready = all.length > 0 && all.every(([, c]) => c.state === 'running' && (c.health ?? 'healthy') === 'healthy');
        if (ready) return;
        if (Date.now() > deadline) {
          const summary = all.map(([s, c]) => `${s}=${c.state}/${c.health ?? '-'}`).join(' ');
          throw new Error(`${project}: not healthy after ${UP_TIMEOUT_MS / 1000}s: ${summary}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async down() {
      try {
        await composeRun('down', '-v', '--remove-orphans');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async checksums(sub = 'mkdocs') {
      const sums: Record<string, string> = {};
      for (const file of await walk(join(dir, sub))) {
        const key = relative(dir, file).split(sep).join('/');
        sums[key] = createHash('sha256').update(await readFile(file)).digest('hex');
      }
      return sums;
    },
  };
}

async function walk(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? walk(join(path, e.name)) : Promise.resolve([join(path, e.name)]))),
  );
  return nested.flat().sort();
}

// Compose v2 (`docker compose`) if the plugin exists, else v1 (`docker-compose`).
let composeCli: Promise<string[]> | undefined;
function composeCommand(): Promise<string[]> {
  composeCli ??= run('docker', ['compose', 'version']).then(
    () => ['docker', 'compose'],
    () => ['docker-compose'],
  );
  return composeCli;
}

async function compose(cwd: string, args: string[]): Promise<void> {
  const [cmd, ...pre] = await composeCommand();
  try {
    await run(cmd!, [...pre, ...args], { cwd });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${cmd} ${[...pre, ...args].join(' ')} failed: ${err.stderr || err.message}`);
  }
}
