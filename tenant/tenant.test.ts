import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createDockerEngine } from './engine.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantError } from '../core/driver.js';
import type { CommandRunner } from './run-command.js';
import { contentManifest, createTenantDriver, detectComposeVariant } from './tenant.js';
import { manifestChanges } from '../core/content-manifest.js';

describe('tenant content manifest', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'drydock-manifest-'));
    await mkdir(path.join(root, 'mkdocs/docs'), { recursive: true });
    await writeFile(path.join(root, 'mkdocs/mkdocs.yml'), 'site_name: x\n');
    await writeFile(path.join(root, 'mkdocs/docs/index.md'), '# hi\n');
    await symlink('/etc/passwd', path.join(root, 'mkdocs/escape'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('checksums every file under the content folders and records symlinks without following them', async () => {
    const m = await contentManifest(root, ['mkdocs', 'scripts']);
    expect(Object.keys(m).sort()).toEqual(['mkdocs/docs/index.md', 'mkdocs/escape', 'mkdocs/mkdocs.yml']);
    expect(m['mkdocs/escape']).toBe('symlink:/etc/passwd');
    expect(m['mkdocs/mkdocs.yml']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names every added, removed and changed path', () => {
    expect(manifestChanges({ a: '1', b: '2', c: '3' }, { a: '1', b: 'x', d: '4' })).toEqual(['b', 'c', 'd']);
  });
});

describe('the tenant driver when Docker is not there', () => {
  const deadEngine = createDockerEngine({ dockerHost: 'unix:///nonexistent/docker.sock' });

  it('names the Docker engine when it cannot be reached', async () => {
    const driver = createTenantDriver({ engine: deadEngine, compose: 'v1' }, { projectName: 'x', dir: os.tmpdir() });
    await expect(driver.ping()).rejects.toMatchObject({ code: 'engine-unreachable', message: expect.stringMatching(/Docker engine is unreachable/) });
  });

  it('classifies a compose pull against a stopped engine as engine-unreachable, with compose output attached', async () => {
    const variant = await detectComposeVariant();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-deadengine-'));
    await writeFile(path.join(dir, 'docker-compose.yml'), "version: '2.4'\nservices:\n  api:\n    image: 127.0.0.1:1/nothing:1\n");
    const driver = createTenantDriver({ engine: deadEngine, compose: variant }, { projectName: 'deadengine', dir });
    const err = await driver.pull(['api'], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }).catch((e: unknown) => e);
    await rm(dir, { recursive: true, force: true });
    expect(err).toBeInstanceOf(TenantError);
    expect((err as TenantError).code).toBe('engine-unreachable');
    expect((err as TenantError).output).toBeTruthy();
  });

  it('says how to install Compose when neither variant runs (runner stubbed to simulate a host without Compose)', async () => {
    const missing: CommandRunner = async () => {
      throw Object.assign(new Error('spawn docker ENOENT'), { code: 'ENOENT' });
    };
    await expect(detectComposeVariant(missing)).rejects.toMatchObject({ code: 'compose-missing', message: expect.stringMatching(/apt-get install docker-compose/) });
  });

  it('prefers Compose v2 when both answer (runner stubbed: this host has only v1)', async () => {
    const both: CommandRunner = async () => ({ code: 0, stdout: '', stderr: '' });
    expect(await detectComposeVariant(both)).toBe('v2');
  });
});

describe('the tenant driver on a directory without a compose file', () => {
  it('says there is no compose file and names the directory', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-nocompose-'));
    const driver = createTenantDriver({ compose: await detectComposeVariant() }, { projectName: 'nocompose', dir });
    const err = await driver.listServices().catch((e: unknown) => e);
    await rm(dir, { recursive: true, force: true });
    expect(err).toMatchObject({ code: 'compose-failed', message: `compose config: there is no compose file (docker-compose.yml or compose.yaml) in ${dir}` });
  });
});
