/**
 * The tenant-side logic, written once: the control plane's local driver calls
 * it in-process, the agent serves it over mTLS for remote tenants.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, statfs } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import {
  composeListServices,
  composePull,
  composeRecreate,
  composeUpAll,
  composeValidate,
  composeVersionCommand,
  type CommandLine,
  type ComposeProject,
  type ComposeVariant,
} from '../core/compose.js';
import { TenantError, type ExecutionDriver, type OperationOptions } from '../core/driver.js';
import { COMPOSE_PATH, nextImagePin, PIN_PATH } from '../core/image-pin.js';
import { parseImageRef } from '../core/image-ref.js';
import type { ContainerState, ContentManifest } from '../core/types.js';
import { checksumManagedFiles, PathRejected, readManagedFiles, restoreFiles, snapshotFiles, writeManagedFiles } from './files.js';
import { createDockerEngine, EngineError, type DockerEngine } from './engine.js';
import { runCommand, type CommandRunner } from './run-command.js';
import { tail } from '../core/errors.js';

export interface TenantDeps {
  /** The engine's API; this host's DOCKER_HOST (or its default socket) when absent. */
  engine?: DockerEngine;
  compose: ComposeVariant;
  run?: CommandRunner;
}

export interface TenantLocation {
  projectName: string;
  dir: string;
}

/** Finds which Compose is installed, preferring v2. */
export async function detectComposeVariant(run: CommandRunner = runCommand): Promise<ComposeVariant> {
  for (const variant of ['v2', 'v1'] as const) {
    try {
      const r = await run(composeVersionCommand(variant));
      if (r.code === 0) return variant;
    } catch {
      // not installed: try the next variant
    }
  }
  throw new TenantError(
    'compose-missing',
    'Docker Compose is not installed: neither `docker compose` (v2) nor `docker-compose` (v1) runs. Install one, e.g. `apt-get install docker-compose`.',
  );
}

const ENGINE_DOWN = /Cannot connect to the Docker daemon|Is the docker daemon running|Couldn't connect to Docker daemon|connection refused.*docker\.sock|Error while fetching server API version/i;
const IMAGE_MISSING = /manifest unknown|manifest for \S+ not found|not found: manifest|repository does not exist|pull access denied|No such image/i;
const NO_SUCH_SERVICE = /no such service: (\S+)/i;
/** v1, then v2. */
const NO_COMPOSE_FILE = /Can't find a suitable configuration file|no configuration file provided/i;

export function createTenantDriver(deps: TenantDeps, where: TenantLocation): ExecutionDriver {
  const run = deps.run ?? runCommand;
  const engine = deps.engine ?? createDockerEngine();
  const project: ComposeProject = { variant: deps.compose, projectName: where.projectName, dir: where.dir };

  async function compose(cmd: CommandLine, what: string, opts: OperationOptions = {}) {
    let result;
    try {
      result = await run(cmd, { signal: opts.signal, onLine: opts.onProgress });
    } catch (err) {
      throw new TenantError('compose-missing', `${what}: could not run ${cmd.file}: ${(err as Error).message}`);
    }
    if (opts.signal?.aborted) throw new TenantError('cancelled', `${what} was cancelled`, tail(result.stderr));
    if (result.code === 0) return result;
    const output = tail(`${result.stdout}\n${result.stderr}`);
    if (ENGINE_DOWN.test(output)) {
      throw new TenantError('engine-unreachable', `${what}: the Docker engine is unreachable`, output);
    }
    if (NO_COMPOSE_FILE.test(output)) {
      throw new TenantError('compose-failed', `${what}: there is no compose file (docker-compose.yml or compose.yaml) in ${where.dir}`, output);
    }
    const unknown = NO_SUCH_SERVICE.exec(output);
    if (unknown) throw new TenantError('unknown-service', `${what}: no such service ${unknown[1]} in the compose file`, output);
    throw new TenantError('compose-failed', `${what} failed (exit ${result.code}): ${lastLine(output)}`, output);
  }

  return {
    async ping() {
      try {
        await engine.ping();
      } catch (err) {
        throw new TenantError('engine-unreachable', `the Docker engine is unreachable: ${(err as Error).message}`);
      }
    },

    async listServices(env) {
      const r = await compose(composeListServices(project, env), 'compose config');
      return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    },

    contentManifest: (dirs) => contentManifest(where.dir, dirs),

    readFiles: (paths) => pathChecked(() => readManagedFiles(where.dir, paths)),

    fileChecksums: (paths) => pathChecked(() => checksumManagedFiles(where.dir, paths)),

    writeFiles: (managed, files) => pathChecked(() => writeManagedFiles(where.dir, managed, files)),

    async pull(services, env, opts) {
      try {
        await compose(composePull(project, services, env), 'compose pull', opts);
      } catch (err) {
        if (err instanceof TenantError && err.code === 'compose-failed' && IMAGE_MISSING.test(err.output ?? '')) {
          const image = missingImage(err.output ?? '');
          throw new TenantError('image-not-found', `compose pull: image ${image} not found in its registry`, err.output);
        }
        throw err;
      }
    },

    async recreate(services, env, opts) {
      await compose(composeRecreate(project, services, env), 'compose up', opts);
    },

    async upAll(env, removeOrphans, opts) {
      await compose(composeUpAll(project, env, removeOrphans ?? true), 'compose up', opts);
    },

    async validateCompose(env) {
      await compose(composeValidate(project, env), 'compose config');
    },

    async diskFree() {
      const info = await engine.info().catch((err: Error) => {
        throw new TenantError('engine-unreachable', `the Docker engine is unreachable: ${err.message}`);
      });
      const root: string = info.DockerRootDir ?? '/var/lib/docker';
      const st = await statfs(root);
      return { path: root, freeBytes: Number(st.bavail) * Number(st.bsize) };
    },

    snapshotFiles: (paths) => pathChecked(async () => (await snapshotFiles(where.dir, paths)).files),

    restoreFiles: (files) => pathChecked(async () => void (await restoreFiles(where.dir, { files }))),

    async imageIds(imageRefs) {
      const out: Record<string, string | null> = {};
      for (const ref of imageRefs) {
        out[ref] = await engine.inspectImage(ref).then(
          (info) => info.Id,
          (err: Error) => {
            if (err instanceof EngineError && err.statusCode === 404) return null;
            throw new TenantError('engine-unreachable', `the Docker engine is unreachable: ${err.message}`);
          },
        );
      }
      return out;
    },

    async tagImage(imageId, imageRef) {
      const { repo, tag } = parseImageRef(imageRef);
      await engine
        .tagImage(imageId, repo, tag)
        .catch((err: Error) => {
          if (err instanceof EngineError && err.statusCode === 404) throw new TenantError('image-not-found', `image ${imageId} is no longer on the tenant host, so ${imageRef} cannot point back at it`);
          throw new TenantError('engine-unreachable', `tagging ${imageRef}: ${err.message}`);
        });
    },

    async httpProbe(service, port, probePath) {
      const [state] = await this.containerStates([service]);
      if (!state?.containerId) throw new TenantError('compose-failed', `front-door probe: no ${service} container is running`);
      const info = await engine.inspectContainer(state.containerId);
      const address = Object.values(info.NetworkSettings.Networks ?? {}).map((n) => n.IPAddress).find(Boolean);
      if (!address) throw new TenantError('compose-failed', `front-door probe: ${service} has no network address`);
      return new Promise<number>((resolve, reject) => {
        const req = http.get({ host: address, port, path: probePath, timeout: 5_000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('timeout', () => req.destroy(new Error('no answer within 5s')));
        req.on('error', (err) => reject(new TenantError('compose-failed', `front-door probe of ${service} at ${address}:${port}${probePath}: ${err.message}`)));
      });
    },

    async serviceStates(env) {
      const services = await this.listServices(env);
      return { services, states: await this.containerStates(services) };
    },

    async pinRunningImages(services, env, merge) {
      const looked = services ?? (await this.listServices(env));
      const states = await this.containerStates(looked);
      const read = await pathChecked(() => readManagedFiles(where.dir, merge ? [PIN_PATH, COMPOSE_PATH] : [COMPOSE_PATH]));
      const pin = nextImagePin(states, read[PIN_PATH] ?? null, read[COMPOSE_PATH] ?? null);
      if (pin) await pathChecked(() => writeManagedFiles(where.dir, [PIN_PATH], [{ path: PIN_PATH, content: pin }]));
      return looked;
    },

    async containerStates(services) {
      const listed = await engine
        .listContainers(`com.docker.compose.project=${where.projectName}`)
        .catch((err: Error) => {
          throw new TenantError('engine-unreachable', `the Docker engine is unreachable: ${err.message}`);
        });
      // Inspected at once: the engine answers them side by side, so a stack waits about one inspect, not one per service.
      return Promise.all(
        services.map(async (service): Promise<ContainerState> => {
          const c = listed.find((x) => x.Labels['com.docker.compose.service'] === service && x.Labels['com.docker.compose.oneoff'] !== 'True');
          if (!c) return { service, containerId: '', imageId: '', state: 'missing' };
          const info = await engine.inspectContainer(c.Id);
          return {
            service,
            containerId: c.Id,
            imageId: info.Image,
            imageRef: info.Config.Image,
            state: info.State.Status,
            ...(info.State.Health ? { health: info.State.Health.Status } : {}),
          };
        }),
      );
    },
  };
}

async function pathChecked<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PathRejected) throw new TenantError('path-rejected', err.message);
    throw err;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

/** Names the image in a pull error, so the operator sees which one is missing. */
function missingImage(output: string): string {
  const m = /manifest for (\S+) not found/i.exec(output) ?? /(?:pull access denied for|Error response from daemon:.*?) (\S+:\S+)/i.exec(output)
    ?? /(\S+\/\S+:\S+)/.exec(output);
  return m?.[1]?.replace(/[,:]$/, '') ?? '(see output)';
}

/**
 * sha256 of every file under the given tenant directories, relative to the
 * tenant root. Symlinks are recorded by target, never followed out of the tree.
 */
export async function contentManifest(root: string, dirs: readonly string[]): Promise<ContentManifest> {
  const manifest: ContentManifest = {};
  async function walk(rel: string) {
    const abs = path.join(root, rel);
    let st;
    try {
      st = await lstat(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (st.isSymbolicLink()) manifest[rel] = `symlink:${await readlink(abs)}`;
    else if (st.isDirectory()) for (const e of (await readdir(abs)).sort()) await walk(path.join(rel, e));
    else if (st.isFile()) manifest[rel] = await sha256File(abs);
  }
  for (const d of dirs) await walk(d);
  return manifest;
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('error', reject).on('data', (c) => h.update(c)).on('end', () => resolve(h.digest('hex')));
  });
}
