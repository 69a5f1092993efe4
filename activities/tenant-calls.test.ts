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
import { FAKE_SERVICES, FakeTenant } from '../test/fast/fake-tenant.js';
import { createActivities, type ActivityDeps } from './index.js';

const FROM = '1.0.0';
const TO = '1.1.0';

/** What the remote driver makes of an older agent's 404 for an operation it does not know. */
const NO_SUCH_OPERATION = (op: string) => new TenantError('agent-refused', `the agent at https://t1.test:8443: no operation ${op}`);

function setup(opts: { isRegistered: boolean; refuse?: (paths: string[]) => boolean; olderAgent?: boolean }) {
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
  if (opts.olderAgent) {
    for (const op of ['serviceStates', 'pinRunningImages'] as const) {
      tenant[op] = async () => {
        tenant.calls.push(op);
        throw NO_SUCH_OPERATION(op);
      };
    }
  }
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
    instances: { get: async () => instance, setImageTag: async () => undefined },
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
  function releaseUpgrade(a: ReturnType<typeof setup>['activities'], target: InstanceTarget) {
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
    return steps;
  }

  async function callsByStep(tenant: FakeTenant, steps: Record<string, () => Promise<unknown>>) {
    const byStep: Record<string, string[]> = {};
    for (const [name, run] of Object.entries(steps)) {
      const before = tenant.calls.length;
      await run();
      byStep[name] = tenant.calls.slice(before);
    }
    return byStep;
  }

  /** The pin names every service's new image, with the version line of the compose file just written. */
  function expectPinOfRelease(tenant: FakeTenant) {
    const pin = tenant.files.get(PIN_PATH)!.content;
    const version = /^version:.*$/m.exec(tenant.files.get('docker-compose.yml')!.content)![0];
    expect(version).not.toBe("version: '3.8'");
    expect(pin).toContain(version);
    expect(pinEntries(pin).map((e) => e.imageRef.split(':').pop())).toEqual(Array(6).fill(TO));
  }

  it("an Upgrade to Release of a registered tenant makes 9 tenant calls: the write step reads nothing, the snapshot lists services with their containers, and the up step pins in one call", async () => {
    const { tenant, target, activities: a } = setup({ isRegistered: true });
    const byStep = await callsByStep(tenant, releaseUpgrade(a, target));
    expect(byStep).toEqual({
      plan: ['readFiles'],
      snapshot: ['snapshotFiles', 'serviceStates'],
      'persist-image-tag': [],
      write: ['writeFiles'],
      pull: ['snapshotFiles', `pull:${TO}`],
      up: [`upAll:${TO}`, 'pinRunningImages'],
      verify: ['containerStates'],
    });
    expect(Object.values(byStep).flat()).toHaveLength(9);
    expectPinOfRelease(tenant);
  });

  it('with an agent older than serviceStates and pinRunningImages, the same upgrade makes the calls they stand for after each refusal, and pins the same', async () => {
    const { tenant, target, activities: a } = setup({ isRegistered: true, olderAgent: true });
    const byStep = await callsByStep(tenant, releaseUpgrade(a, target));
    expect(byStep).toEqual({
      plan: ['readFiles'],
      snapshot: ['snapshotFiles', 'serviceStates', 'listServices', 'containerStates'],
      'persist-image-tag': [],
      write: ['writeFiles'],
      pull: ['snapshotFiles', `pull:${TO}`],
      up: [`upAll:${TO}`, 'pinRunningImages', 'listServices', 'containerStates', 'readFiles', 'writeFiles'],
      verify: ['containerStates'],
    });
    expectPinOfRelease(tenant);
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

  it("a Quick Upgrade's recreate step pins in one call and keeps the other services' pinned images", async () => {
    const { tenant, target, activities: a } = setup({ isRegistered: true });
    await a.startAllServices(target, FROM);
    const before = tenant.calls.length;
    await a.recreateServices(target, ['api', 'admin'], TO);
    expect(tenant.calls.slice(before)).toEqual([`recreate:${TO}`, 'pinRunningImages']);
    const tags = Object.fromEntries(pinEntries(tenant.files.get(PIN_PATH)!.content).map((e) => [e.service, e.imageRef.split(':').pop()]));
    expect(tags).toEqual({ admin: TO, api: TO, 'media-api': FROM, nginx: FROM, postgres: FROM, redis: FROM });
  });

  it('an older agent that also refuses the read of both files gets each read alone, so the pin still merges and keeps its version line as before', async () => {
    const { tenant, target, activities: a } = setup({ isRegistered: true, olderAgent: true, refuse: (paths) => paths.length > 1 });
    await a.startAllServices(target, FROM);
    const before = tenant.calls.length;
    await a.recreateServices(target, ['api'], TO);
    expect(tenant.calls.slice(before)).toEqual([`recreate:${TO}`, 'pinRunningImages', 'containerStates', 'readFiles', 'readFiles', 'readFiles', 'writeFiles']);
    const pin = tenant.files.get(PIN_PATH)!.content;
    expect(pin).toContain("version: '3.8'");
    const tags = Object.fromEntries(pinEntries(pin).map((e) => [e.service, e.imageRef.split(':').pop()]));
    expect(tags).toMatchObject({ api: TO, admin: FROM });
  });

  it('an agent that does not manage the pin refuses it in one call and step by step; the up step goes on without a pin and returns the services for verify', async () => {
    const { tenant, target, activities: a } = setup({ isRegistered: true, refuse: (paths) => paths.includes(PIN_PATH) });
    const notManaged = () => new TenantError('path-rejected', `path "${PIN_PATH}" is outside this agent's managed list`);
    tenant.pinRunningImages = async () => {
      tenant.calls.push('pinRunningImages');
      throw notManaged();
    };
    const writeFiles = tenant.writeFiles.bind(tenant);
    tenant.writeFiles = async (managed, files) => {
      if (!files.some((f) => f.path === PIN_PATH)) return writeFiles(managed, files);
      tenant.calls.push('writeFiles');
      throw notManaged();
    };
    expect(await a.startAllServices(target, TO)).toEqual(FAKE_SERVICES);
    expect(tenant.calls).toEqual([`upAll:${TO}`, 'pinRunningImages', 'listServices', 'containerStates', 'readFiles', 'writeFiles']);
    expect(tenant.files.has(PIN_PATH)).toBe(false);
  });
});
