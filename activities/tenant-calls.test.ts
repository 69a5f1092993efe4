/**
 * Which calls each upgrade step makes to the tenant, in order: every one is
 * a request to the agent (and a look-up of its approval) for a remote
 * instance, so they are counted here. The tenant is faked in memory
 * (test/fast/fake-tenant.ts) and the repositories are stubs: only the
 * activities' conversation with the tenant is under test; the real agent's
 * answers are the agent and upgrade tests' job.
 */
import { describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { PIN_PATH, pinEntries } from '../core/image-pin.js';
import { TenantError } from '../core/driver.js';
import { targetOf, type InstanceTarget } from '../core/types.js';
import type { InstanceRecord } from '../prisma/repositories.js';
import { createPlanner, renderDefaultsFromEnv } from '../worker/planner.js';
import { FakeTenant } from '../test/fast/fake-tenant.js';
import { createActivities, type ActivityDeps } from './index.js';

const FROM = '1.0.0';
const TO = '1.1.0';

function setup(opts: { isRegistered: boolean; refuse?: (paths: string[]) => boolean }) {
  const tenant = new FakeTenant('t1', FROM);
  tenant.files.set('docker-compose.yml', { content: "version: '3.8'\nservices: {}\n", mode: 0o644 });
  tenant.files.set('.env', { content: 'POSTGRES_PASSWORD=pw-Zq8\nAPI_SECRET=api-Zq8\n', mode: 0o600 });
  const readFiles = tenant.readFiles.bind(tenant);
  // An agent refuses a whole read when one of its paths is not managed there.
  tenant.readFiles = async (paths: string[]) => {
    if (opts.refuse?.(paths)) {
      tenant.calls.push('readFiles');
      throw new TenantError('path-rejected', `${paths.join(', ')}: not managed here`);
    }
    return readFiles(paths);
  };
  const instance: InstanceRecord = {
    id: 'i1',
    slug: 't1',
    name: 'T1',
    isRemote: opts.isRegistered,
    isRegistered: opts.isRegistered,
    imageTag: FROM,
    composeProjectName: 't1',
    composeDir: '/srv/t1',
    coreServices: ['api', 'admin'],
    agentUrl: null,
    labels: [],
    releaseVersion: null,
    values: {},
    secretsSet: [],
    createdAt: new Date(),
    updatedAt: new Date(),
  };
  const deps = {
    instances: { get: async () => instance, update: async () => instance },
    upgrades: {},
    snapshots: { save: async () => 'ref-1', load: async () => undefined },
    drift: {},
    driverFor: () => tenant,
    planner: createPlanner({ ...renderDefaultsFromEnv({}), imageTag: 'latest' }),
    verifyPollMs: 1,
  } as unknown as ActivityDeps;
  const target: InstanceTarget = targetOf(instance);
  // Each activity as the worker runs it: in an activity context (heartbeats, cancellation).
  const activities = createActivities(deps);
  const a = Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [name, (...args: unknown[]) => new MockActivityEnvironment().run(fn as (...x: unknown[]) => Promise<unknown>, ...args)]),
  ) as typeof activities;
  return { tenant, target, activities: a };
}

describe('the calls each upgrade step makes to the tenant (tenant faked in memory)', () => {
  it("an Upgrade to Release of a registered tenant makes 13 tenant calls, the write step reading nothing (its render uses no file of the tenant's)", async () => {
    const { tenant, target, activities: a } = setup({ isRegistered: true });
    const steps: Record<string, () => Promise<unknown>> = {};
    let plan!: { renderHash: string };
    let services!: string[];
    steps.plan = async () => (plan = await a.planReleaseUpgrade(target, TO));
    steps.snapshot = () => a.snapshotTenantSealed(target, 'u1');
    steps['persist-image-tag'] = () => a.persistInstanceImageTag(target.instanceId, TO);
    steps.write = () => a.writeReleaseFiles(target, TO, plan.renderHash);
    steps.pull = () => a.pullImages(target, [], TO);
    steps.up = async () => (services = await a.startAllServices(target, TO));
    steps.verify = () => a.verifyServices(target, services, 5_000);
    const byStep: Record<string, string[]> = {};
    for (const [name, run] of Object.entries(steps)) {
      const before = tenant.calls.length;
      await run();
      byStep[name] = tenant.calls.slice(before);
    }
    expect(byStep).toEqual({
      plan: ['readFiles'],
      snapshot: ['snapshotFiles', 'listServices', 'containerStates'],
      'persist-image-tag': [],
      write: ['writeFiles'],
      pull: ['snapshotFiles', `pull:${TO}`],
      up: [`upAll:${TO}`, 'listServices', 'containerStates', 'readFiles', 'writeFiles'],
      verify: ['containerStates'],
    });
    expect(Object.values(byStep).flat()).toHaveLength(13);
    // The pin names every service's new image, with the version line of the compose file just written.
    const pin = tenant.files.get(PIN_PATH)!.content;
    const version = /^version:.*$/m.exec(tenant.files.get('docker-compose.yml')!.content)![0];
    expect(version).not.toBe("version: '3.8'");
    expect(pin).toContain(version);
    expect(pinEntries(pin).map((e) => e.imageRef.split(':').pop())).toEqual(Array(6).fill(TO));
  });

  it("a created tenant's write step reads its .env alone, for the secrets the render needs", async () => {
    const { tenant, target, activities: a } = setup({ isRegistered: false });
    const read: string[][] = [];
    const readFiles = tenant.readFiles.bind(tenant);
    tenant.readFiles = async (paths) => (read.push(paths), readFiles(paths));
    const plan = await a.planReleaseUpgrade(target, TO);
    read.length = 0;
    const written = await a.writeReleaseFiles(target, TO, plan.renderHash);
    expect(read).toEqual([['.env']]);
    expect(written.written).toContain('.env');
    expect(tenant.files.get('.env')!.content).toContain('POSTGRES_PASSWORD=pw-Zq8');
  });

  it("a Quick Upgrade's recreate step reads the pin and the compose file in one call and keeps the other services' pinned images", async () => {
    const { tenant, target, activities: a } = setup({ isRegistered: true });
    await a.startAllServices(target, FROM);
    const before = tenant.calls.length;
    await a.recreateServices(target, ['api', 'admin'], TO);
    expect(tenant.calls.slice(before)).toEqual([`recreate:${TO}`, 'containerStates', 'readFiles', 'writeFiles']);
    const tags = Object.fromEntries(pinEntries(tenant.files.get(PIN_PATH)!.content).map((e) => [e.service, e.imageRef.split(':').pop()]));
    expect(tags).toEqual({ admin: TO, api: TO, 'media-api': FROM, nginx: FROM, postgres: FROM, redis: FROM });
  });

  it('an agent that refuses the read of both files gets each read alone, so the pin still merges and keeps its version line as before', async () => {
    const { tenant, target, activities: a } = setup({ isRegistered: true, refuse: (paths) => paths.length > 1 });
    await a.startAllServices(target, FROM);
    const before = tenant.calls.length;
    await a.recreateServices(target, ['api'], TO);
    expect(tenant.calls.slice(before)).toEqual([`recreate:${TO}`, 'containerStates', 'readFiles', 'readFiles', 'readFiles', 'writeFiles']);
    const pin = tenant.files.get(PIN_PATH)!.content;
    expect(pin).toContain("version: '3.8'");
    const tags = Object.fromEntries(pinEntries(pin).map((e) => [e.service, e.imageRef.split(':').pop()]));
    expect(tags).toMatchObject({ api: TO, admin: FROM });
  });
});
