/**
 * SIMULATED COMPOSE, for the 1,000-tenant fleet benchmark only: no container
 * is pulled, created or started.
 *
 * - `createRecordingRunner` is a CommandRunner (tenant/run-command.ts) that
 *   records every compose command line and returns at once with exit 0.
 *   `config --services` answers with the services the tenant's compose file
 *   declares (read from the file on disk, which the release upgrade really
 *   rewrites), because the agent's guard and the activities need that list;
 *   `up -d` also updates the simulated engine below.
 * - `SimEngine` answers the few Docker engine calls the tenant driver makes
 *   (ping, info, listContainers, inspect, tag) from what the recorded `up`
 *   calls did, so verify sees running containers on the new tag.
 *
 * Everything else in the path is real: the agent process, mTLS, the agent's
 * guard and tenant lock, file reads, snapshots and atomic writes in the
 * tenant directories, the control plane, Temporal and the database.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError, type DockerEngine } from '../tenant/engine.js';
import type { CommandLine } from '../core/compose.js';
import type { CommandResult, CommandRunner } from '../tenant/run-command.js';

export const SIMULATED_LABEL = 'simulated compose (recording CommandRunner + simulated engine state; no container runs)';

interface SimContainer {
  id: string;
  project: string;
  service: string;
  imageRef: string;
}

/** The top-level service names of a compose file (two-space indented keys under `services:`). */
export function composeServices(text: string): string[] {
  const out: string[] = [];
  let inServices = false;
  for (const line of text.split('\n')) {
    if (/^services:\s*$/.test(line)) {
      inServices = true;
      continue;
    }
    if (inServices && /^\S/.test(line)) inServices = false;
    const m = inServices ? /^ {2}([A-Za-z0-9][A-Za-z0-9_.-]*):\s*$/.exec(line) : null;
    if (m) out.push(m[1]!);
  }
  return out;
}

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

/**
 * Indexed by project and by container id, as a real engine answers these
 * look-ups: a scan of every tenant's containers per call made the simulator's
 * own cost grow with the fleet and count as the agent's CPU.
 */
export class SimEngine {
  /** project -> service -> container */
  private readonly projects = new Map<string, Map<string, SimContainer>>();
  private readonly byId = new Map<string, SimContainer>();

  /** Containers of a project as `up -d` of these services with this tag would leave them. */
  up(project: string, services: string[], imageTag: string) {
    let containers = this.projects.get(project);
    if (!containers) this.projects.set(project, (containers = new Map()));
    for (const service of services) {
      const imageRef = `sim.invalid/${service}:${imageTag}`;
      const old = containers.get(service);
      if (old) this.byId.delete(old.id);
      const c = { id: sha(`${project}/${service}/${imageRef}`).slice(7), project, service, imageRef };
      containers.set(service, c);
      this.byId.set(c.id, c);
    }
  }

  count(): number {
    return this.byId.size;
  }

  /** The engine API the tenant driver calls, answered from this simulated state. */
  asEngine(): DockerEngine {
    return {
      ping: async () => undefined,
      info: async () => ({ DockerRootDir: '/' }),
      listContainers: async (label) => {
        const project = label.startsWith('com.docker.compose.project=') ? label.split('=')[1] : undefined;
        return [...(this.projects.get(project ?? '')?.values() ?? [])].map((c) => ({
          Id: c.id,
          Labels: { 'com.docker.compose.project': c.project, 'com.docker.compose.service': c.service, 'com.docker.compose.oneoff': 'False' },
        }));
      },
      inspectContainer: async (id) => {
        const c = this.byId.get(id);
        if (!c) throw new EngineError(`no such container ${id}`, 404);
        return { Image: sha(c.imageRef), Config: { Image: c.imageRef }, State: { Status: 'running' }, NetworkSettings: { Networks: {} } };
      },
      inspectImage: async (ref) => ({ Id: sha(ref) }),
      tagImage: async () => undefined,
    };
  }
}

export interface RecordedCall {
  /** The compose subcommand: config, pull, up, version, … */
  sub: string;
  project: string;
  args: string[];
}

export interface RecordingRunner {
  run: CommandRunner;
  calls: RecordedCall[];
  /** Calls by subcommand (`config --services` and `config --quiet` apart). */
  counts(): Record<string, number>;
}

/** Records compose command lines (v1 or v2 shape) and answers as described above. */
export function createRecordingRunner(engine: SimEngine, opts: { keepCalls?: boolean } = {}): RecordingRunner {
  const calls: RecordedCall[] = [];
  const counts: Record<string, number> = {};
  const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
  const run: CommandRunner = async (cmd: CommandLine) => {
    const args = cmd.file === 'docker' && cmd.args[0] === 'compose' ? cmd.args.slice(1) : cmd.args;
    const at = args.indexOf('--project-name');
    const project = at >= 0 ? args[at + 1]! : '';
    const rest = at >= 0 ? args.slice(at + 2) : args.filter((a) => a !== '--ansi' && a !== 'never');
    const sub = rest[0] ?? '';
    const key = sub === 'config' ? `config ${rest[1] ?? ''}`.trim() : sub;
    counts[key] = (counts[key] ?? 0) + 1;
    if (opts.keepCalls) calls.push({ sub: key, project, args: [...args] });
    const declared = async () => composeServices(await readFile(path.join(cmd.cwd ?? '.', 'docker-compose.yml'), 'utf8'));
    switch (key) {
      case 'version':
        return ok('docker-compose version 1.29.2 (simulated)\n');
      case 'config --services':
        return ok(`${(await declared()).join('\n')}\n`);
      case 'config --quiet':
      case 'pull':
        return ok();
      case 'up': {
        const services = rest.slice(1).filter((a) => !a.startsWith('-'));
        engine.up(project, services.length > 0 ? services : await declared(), cmd.env?.IMAGE_TAG ?? 'latest');
        return ok();
      }
      default:
        return { code: 1, stdout: '', stderr: `simulated compose: ${key} is not simulated` };
    }
  };
  return { run, calls, counts: () => ({ ...counts }) };
}
