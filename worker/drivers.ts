/**
 * Execution drivers for instances. Local instances run the tenant logic
 * in-process against this host's Docker engine; remote instances reach the
 * same logic through their agent, over mutual TLS (worker/remote-driver.ts).
 */
import { createDockerEngine, type DockerEngine } from '../agent/engine.js';
import { createTenantDriver, detectComposeVariant } from '../agent/tenant.js';
import type { ComposeVariant } from '../core/compose.js';
import type { CommandRunner } from '../agent/run-command.js';
import { TenantError, type ExecutionDriver } from '../core/driver.js';
import { createRemoteDriver, type ApprovedAgent, type RemoteCredentials } from './remote-driver.js';

export interface DriverTarget {
  slug: string;
  composeProjectName: string;
  composeDir: string;
  /** Driven through its agent. */
  isRemote?: boolean;
  agentUrl?: string | null;
}

export type DriverFor = (target: DriverTarget) => ExecutionDriver;

export interface RemoteDriverConfig {
  credentials: RemoteCredentials;
  /** The approved agent of a slug, or undefined when it has none (never approved, or revoked). */
  approvedAgent(slug: string): Promise<ApprovedAgent | undefined>;
  idleTimeoutMs?: number;
}

export async function createDriverFactory(
  opts: {
    engine?: DockerEngine;
    compose?: ComposeVariant;
    /** How local instances' compose commands run; default agent/run-command.ts (the benchmarks wrap it to time compose). */
    run?: CommandRunner;
    log?: (m: string) => void;
    remote?: RemoteDriverConfig;
  } = {},
): Promise<DriverFor> {
  const log = opts.log ?? (() => {});
  const engine = opts.engine ?? createDockerEngine();
  const compose = opts.compose ?? (await detectComposeVariant().catch((err: Error) => (log(`warning: ${err.message}`), undefined)));
  if (compose) log(`compose: ${compose === 'v2' ? 'docker compose (v2)' : 'docker-compose (v1)'}`);
  return (target) => {
    if (target.isRemote) return remoteDriver(target, opts.remote);
    if (!compose) throw new TenantError('compose-missing', 'Docker Compose is not installed on the control-plane host');
    return createTenantDriver({ engine, compose, run: opts.run }, { projectName: target.composeProjectName, dir: target.composeDir });
  };
}

function remoteDriver(target: DriverTarget, remote: RemoteDriverConfig | undefined): ExecutionDriver {
  const slug = target.slug;
  return createRemoteDriver({
    slug,
    credentials: remote?.credentials ?? { ca: '', cert: '', key: '' },
    idleTimeoutMs: remote?.idleTimeoutMs,
    // Looked up on every call, so a revocation stops even an upgrade already running.
    async resolve() {
      if (!remote) throw new TenantError('agent-not-approved', `${slug} is remote, but this process has no agent CA configured to reach its agent`);
      const agent = await remote.approvedAgent(slug);
      if (!agent) {
        throw new TenantError(
          'agent-not-approved',
          `${slug} has no approved agent (never approved, or revoked); the control plane will not call ${target.agentUrl ?? 'it'}`,
        );
      }
      return agent;
    },
  });
}
