/**
 * Local compose runs get a clean environment: real commands run through the
 * local execution driver (the control plane's own path for local instances)
 * and through real docker-compose, with the control plane's secrets in this
 * process's environment.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDriverFactory } from '../transports/drivers.js';
import { childEnvironment, runCommand } from './run-command.js';

const SECRETS = {
  DRYDOCK_ADMIN_PASSWORD: 'admin-pw-Qx81-never-in-a-child',
  DATABASE_URL: 'postgresql://drydock:db-pw-Lm20@db/drydock',
  DRYDOCK_SECRET_KEY: 'k1:c2VjcmV0LWtleS1ieXRlcy1uZXZlci1pbi1hLWNoaWxk',
};

describe('the environment of local compose runs', () => {
  let work: string;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-child-env-'));
    for (const [k, v] of Object.entries({ ...SECRETS, PATH: process.env.PATH })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(work, { recursive: true, force: true });
  });

  it("keeps the control plane's secrets out of a compose run through the local driver, and passes the run's own variables", async () => {
    // A `docker-compose` first on PATH that records the environment it was started with.
    const bin = path.join(work, 'bin');
    const dump = path.join(work, 'env.txt');
    await mkdir(bin);
    await writeFile(path.join(bin, 'docker-compose'), `#!/bin/sh\nenv > '${dump}'\necho api\n`);
    await chmod(path.join(bin, 'docker-compose'), 0o755);
    process.env.PATH = `${bin}:${saved.PATH}`;
    try {
      const driverFor = await createDriverFactory({ compose: 'v1' });
      const driver = driverFor({ slug: 'envtest', composeProjectName: 'envtest', composeDir: work });
      expect(await driver.listServices({ IMAGE_TAG: '1.2.3' })).toEqual(['api']);
    } finally {
      process.env.PATH = saved.PATH;
    }
    const env = await readFile(dump, 'utf8');
    for (const [name, value] of Object.entries(SECRETS)) {
      expect(env, name).not.toContain(value);
      expect(env, name).not.toMatch(new RegExp(`^${name}=`, 'm'));
    }
    expect(env).toMatch(/^IMAGE_TAG=1\.2\.3$/m);
    expect(env).toMatch(new RegExp(`^PATH=${bin}:`, 'm'));
  });

  it('gives real docker-compose nothing of them to interpolate into a compose file', async () => {
    const dir = path.join(work, 'tenant');
    await mkdir(dir);
    await writeFile(
      path.join(dir, 'docker-compose.yml'),
      'version: "3"\nservices:\n  api:\n    image: "busybox:${IMAGE_TAG}"\n    environment:\n      LEAK: "${DRYDOCK_ADMIN_PASSWORD:-nothing-leaked}"\n',
    );
    const res = await runCommand({ file: 'docker-compose', args: ['-f', path.join(dir, 'docker-compose.yml'), 'config'], cwd: dir, env: { IMAGE_TAG: '1.2.3' } });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('nothing-leaked');
    expect(res.stdout).toContain('busybox:1.2.3');
    expect(res.stdout).not.toContain(SECRETS.DRYDOCK_ADMIN_PASSWORD);
  });

  it('inherits only what finding programs and the Docker engine need', () => {
    expect(childEnvironment({ PATH: '/bin', DOCKER_HOST: 'unix:///run/docker.sock', DRYDOCK_ADMIN_PASSWORD: 'x', NODE_OPTIONS: '--require evil' }, { IMAGE_TAG: '1' })).toEqual({
      PATH: '/bin',
      DOCKER_HOST: 'unix:///run/docker.sock',
      IMAGE_TAG: '1',
    });
  });
});
