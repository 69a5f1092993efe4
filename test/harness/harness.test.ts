import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndPushImage, registryAddress, type BuiltImage } from './images.js';
import { APP_SERVICES, INFRA_SERVICES, UNCHECKED_SERVICES, createTenant, type Tenant } from './tenant.js';

const run = `${process.pid}-${Date.now().toString(36)}`;
const appImage = `${registryAddress()}/drydock/harness-app`;
const tag = `t-${run}`;

describe('the test harness', () => {
  let first: BuiltImage;
  let second: BuiltImage;
  let tenant: Tenant | undefined;

  beforeAll(async () => {
    first = await buildAndPushImage(`${appImage}:${tag}`, `build-1-${run}`);
    second = await buildAndPushImage(`${appImage}:${tag}`, `build-2-${run}`);
    const infra = await buildAndPushImage(`${registryAddress()}/drydock/harness-infra:${tag}`, `infra-${run}`);
    tenant = await createTenant({ project: `harness-${run}`, imageTag: tag, appImage, infraImage: infra.ref });
  }, 60_000);

  afterAll(async () => {
    await tenant?.down();
  }, 60_000);

  it('gives each build of one tag its own image and digest', () => {
    expect(second.id).not.toBe(first.id);
    expect(second.digest).not.toBe(first.digest);
    expect(second.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('brings a tenant up with every container running and healthchecked ones healthy', { timeout: 90_000 }, async () => {
    const started = performance.now();
    await tenant!.up();
    console.log(`tenant.up() took ${Math.round(performance.now() - started)} ms`);

    const containers = await tenant!.containers();
    expect(Object.keys(containers).sort()).toEqual([...APP_SERVICES, ...INFRA_SERVICES].sort());
    for (const [service, c] of Object.entries(containers)) {
      expect(c.state, service).toBe('running');
      const hasHealthcheck = service !== 'redis' && !(UNCHECKED_SERVICES as readonly string[]).includes(service);
      expect(c.health, service).toBe(hasHealthcheck ? 'healthy' : undefined);
    }
  });

  it('reports the image id of the build that was current at up', async () => {
    const containers = await tenant!.containers();
    for (const service of APP_SERVICES) expect(containers[service]?.imageId, service).toBe(second.id);
  });

  it('checksums tenant content by path relative to the tenant dir', async () => {
    const sums = await tenant!.checksums();
    expect(Object.keys(sums)).toEqual(['mkdocs/docs/guide/setup.md', 'mkdocs/docs/index.md', 'mkdocs/mkdocs.yml']);
  });
});
