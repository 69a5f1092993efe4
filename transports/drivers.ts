/**
 * Execution drivers for instances. Local instances run the tenant logic
 * in-process against this host's Docker engine; remote instances reach the
 * same logic through their agent, over mutual TLS (transports/remote.ts).
 */
import { createDockerEngine, type DockerEngine } from '../tenant/engine.js';
import { createTenantDriver, detectComposeVariant } from '../tenant/tenant.js';
import type { ComposeVariant } from '../core/compose.js';
import type { CommandRunner } from '../tenant/run-command.js';
import { TenantError, type ExecutionDriver } from '../core/driver.js';
import { createRemoteDriver, type ApprovedAgent, type RemoteCredentials } from './remote.js';
import { AGENT_OPERATIONS, type AgentOperation } from '../core/agent-protocol.js';
import { withTenantLock } from '../tenant/lock.js';

/** As the agent's default (--lock-stale-ms): a holder that died is taken over after this long. */
export const LOCAL_LOCK_STALE_MS = 5 * 60 * 1000;

/**
 * The local driver takes the tenant lock the agent takes (`.drydock.lock` in
 * the compose directory) around every operation that changes the tenant, so
 * an agent serving the same directory and the control plane never change it
 * at once.
 */
export function lockedDriver(dir: string, driver: ExecutionDriver, staleMs = LOCAL_LOCK_STALE_MS): ExecutionDriver {
  const out = { ...driver } as Record<AgentOperation, (...args: unknown[]) => Promise<unknown>>;
  for (const op of Object.keys(AGENT_OPERATIONS) as AgentOperation[]) {
    if (!AGENT_OPERATIONS[op].mutates) continue;
    const inner = (driver[op] as (...args: unknown[]) => Promise<unknown>).bind(driver);
    out[op] = (...args: unknown[]) => {
      const opts = AGENT_OPERATIONS[op].long ? (args[AGENT_OPERATIONS[op].args] as { signal?: AbortSignal } | undefined) : undefined;
      return withTenantLock(dir, staleMs, () => inner(...args), { signal: opts?.signal }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' && !(err instanceof TenantError)) throw new TenantError('compose-missing', `the compose directory ${dir} does not exist`);
        throw err;
      });
    };
  }
  return out as unknown as ExecutionDriver;
}

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
  /** Told whenever an agent answered (a result or its own error), e.g. for the metrics' last contact. */
  onContact?: (slug: string) => void;
}

export async function createDriverFactory(
  opts: {
    engine?: DockerEngine;
    compose?: ComposeVariant;
    /** How local instances' compose commands run; default tenant/run-command.ts (the benchmarks wrap it to time compose). */
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
    return lockedDriver(target.composeDir, createTenantDriver({ engine, compose, run: opts.run }, { projectName: target.composeProjectName, dir: target.composeDir }));
  };
}

/** Failures that mean the agent was not reached: no contact to note. */
const NOT_REACHED = ['agent-unreachable', 'agent-not-approved', 'cancelled'];

function noticingContact(slug: string, driver: ExecutionDriver, onContact: (slug: string) => void): ExecutionDriver {
  const out = {} as Record<AgentOperation, (...args: unknown[]) => Promise<unknown>>;
  for (const op of Object.keys(AGENT_OPERATIONS) as AgentOperation[]) {
    const inner = (driver[op] as (...args: unknown[]) => Promise<unknown>).bind(driver);
    out[op] = (...args: unknown[]) =>
      inner(...args).then(
        (value) => (onContact(slug), value),
        (err: unknown) => {
          if (!(err instanceof TenantError && NOT_REACHED.includes(err.code))) onContact(slug);
          throw err;
        },
      );
  }
  return out as unknown as ExecutionDriver;
}

function remoteDriver(target: DriverTarget, remote: RemoteDriverConfig | undefined): ExecutionDriver {
  const slug = target.slug;
  const driver = createRemoteDriver({
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
  return remote?.onContact ? noticingContact(slug, driver, remote.onContact) : driver;
}
