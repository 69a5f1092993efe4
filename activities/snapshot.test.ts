/**
 * The snapshot step with fake repositories and a fake tenant driver (no
 * tenant, Temporal or database needed for what is checked here: which files
 * are read, and that only a reference comes back).
 */
import { PIN_PATH } from '../core/image-pin.js';
import { describe, expect, it } from 'vitest';
import type { ExecutionDriver } from '../core/driver.js';
import type { InstanceTarget, TenantSnapshot } from '../core/types.js';
import type { InstanceRecord } from '../prisma/repositories.js';
import { createActivities, type ActivityDeps } from './index.js';

const ENV = 'POSTGRES_PASSWORD=pg-secret-Zx81\n';
const target: InstanceTarget = { instanceId: 'i1', slug: 't', composeProjectName: 't', composeDir: '/x', coreServices: ['api'], isRemote: false, agentUrl: null };

function setup(isRegistered: boolean) {
  const read: string[][] = [];
  const saved: TenantSnapshot['files'][] = [];
  const driver = {
    async snapshotFiles(paths: string[]) {
      read.push(paths);
      return Object.fromEntries(paths.map((p) => [p, { content: p === '.env' ? ENV : `content of ${p}`, mode: 0o644 }]));
    },
    async serviceStates() {
      return { services: ['api'], states: [{ service: 'api', containerId: 'c', imageId: 'sha256:1', imageRef: 'reg/api:1.0.0', state: 'running' }] };
    },
  } as unknown as ExecutionDriver;
  const deps = {
    instances: { get: async () => ({ id: 'i1', imageTag: '1.0.0', isRegistered }) as InstanceRecord },
    planner: { defaults: { imageTag: 'latest' }, templates: async () => ({ manifest: [{ path: 'docker-compose.yml' }, { path: '.env' }] }) },
    snapshots: {
      save: async (_upgradeId: string, files: TenantSnapshot['files']) => (saved.push(files), 'ref-1'),
      load: async () => undefined,
    },
    driverFor: () => driver,
  } as unknown as ActivityDeps;
  return { activities: createActivities(deps), read, saved };
}

describe('the sealed snapshot', () => {
  it('returns a reference, never the files, and hands the files (.env included) to the sealed store', async () => {
    const { activities, saved } = setup(false);
    const snapshot = await activities.snapshotTenantSealed(target, 'u1');
    expect(snapshot).toEqual({ filesRef: 'ref-1', images: [{ service: 'api', imageRef: 'reg/api:1.0.0', imageId: 'sha256:1' }], previousImageTag: '1.0.0', runningImageTag: '1.0.0' });
    expect(JSON.stringify(snapshot)).not.toContain('pg-secret');
    expect(saved[0]!['.env']!.content).toBe(ENV);
  });

  it("never reads a registered tenant's .env: drydock does not write it, so a rollback has nothing there to restore", async () => {
    const { activities, read, saved } = setup(true);
    await activities.snapshotTenantSealed(target, 'u1');
    // The managed compose file and the image pin; never the tenant's .env.
    expect(read).toEqual([['docker-compose.yml', PIN_PATH]]);
    expect(Object.keys(saved[0]!)).toEqual(['docker-compose.yml', PIN_PATH]);
  });

  it('says so when the sealed snapshot is gone before a rollback', async () => {
    const { activities } = setup(false);
    await expect(activities.restoreSealedTenantFiles(target, 'gone')).rejects.toThrow(/snapshot gone is gone from the database/);
  });
});
