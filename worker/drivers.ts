/**
 * Execution drivers for instances. Local instances run the tenant logic
 * in-process against this host's Docker engine; remote instances will reach
 * the same logic through their agent.
 */
import Docker from 'dockerode';
import { createTenantDriver, detectComposeVariant } from '../agent/tenant.js';
import type { ComposeVariant } from '../core/compose.js';
import { TenantError, type ExecutionDriver } from '../core/driver.js';

export interface DriverTarget {
  slug: string;
  composeProjectName: string;
  composeDir: string;
}

export type DriverFor = (target: DriverTarget) => ExecutionDriver;

export async function createDriverFactory(opts: { docker?: Docker; compose?: ComposeVariant; log?: (m: string) => void } = {}): Promise<DriverFor> {
  const log = opts.log ?? (() => {});
  const docker = opts.docker ?? new Docker();
  const compose = opts.compose ?? (await detectComposeVariant().catch((err: Error) => (log(`warning: ${err.message}`), undefined)));
  if (compose) log(`compose: ${compose === 'v2' ? 'docker compose (v2)' : 'docker-compose (v1)'}`);
  return (target) => {
    if (!compose) throw new TenantError('compose-missing', 'Docker Compose is not installed on the control-plane host');
    return createTenantDriver({ docker, compose }, { projectName: target.composeProjectName, dir: target.composeDir });
  };
}
