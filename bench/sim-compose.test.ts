/**
 * The fleet benchmark's simulated engine answers as the tenant driver
 * expects a real one to: a project's containers only, each inspectable by
 * id, and an `up` on a new tag replacing them.
 */
import { describe, expect, it } from 'vitest';
import { SimEngine } from './sim-compose.js';

describe("the fleet benchmark's simulated engine", () => {
  it("lists a project's containers only, and an up on a new tag replaces them under new ids", async () => {
    const sim = new SimEngine();
    sim.up('a', ['api', 'db'], '1.0.0');
    sim.up('b', ['api'], '1.0.0');
    const engine = sim.asEngine();
    const before = await engine.listContainers('com.docker.compose.project=a');
    expect(before.map((c) => c.Labels['com.docker.compose.service'])).toEqual(['api', 'db']);

    sim.up('a', ['api'], '1.1.0');
    const after = await engine.listContainers('com.docker.compose.project=a');
    expect(after).toHaveLength(2);
    const api = after.find((c) => c.Labels['com.docker.compose.service'] === 'api')!;
    expect(api.Id).not.toBe(before.find((c) => c.Labels['com.docker.compose.service'] === 'api')!.Id);
    expect((await engine.inspectContainer(api.Id)).Config.Image).toBe('sim.invalid/api:1.1.0');
    await expect(engine.inspectContainer(before[0]!.Id)).rejects.toThrow(/no such container/);
    expect(await engine.listContainers('com.docker.compose.project=c')).toEqual([]);
    expect(sim.count()).toBe(3);
  });
});
