import { describe, expect, it } from 'vitest';
import type { ExecutionDriver } from '../core/driver.js';
import { DEFAULT_AGENT_MANAGED, guardArguments, isAllowedPath, parseManagedList } from './guard.js';

const driver = { listServices: async () => ['api', 'nginx'] } as unknown as ExecutionDriver;
const ctx = { managed: DEFAULT_AGENT_MANAGED, driver };

describe("the agent's own limits", () => {
  it('allows exact managed paths and whole managed folders, nothing else', () => {
    expect(isAllowedPath('docker-compose.yml', DEFAULT_AGENT_MANAGED)).toBe(true);
    expect(isAllowedPath('nginx/conf.d/default.conf', DEFAULT_AGENT_MANAGED)).toBe(true);
    expect(isAllowedPath('nginx/', DEFAULT_AGENT_MANAGED)).toBe(false);
    // The image pin (core/image-pin.ts) is managed; another compose file is not.
    expect(isAllowedPath('docker-compose.override.yml', DEFAULT_AGENT_MANAGED)).toBe(true);
    expect(isAllowedPath('docker-compose.prod.yml', DEFAULT_AGENT_MANAGED)).toBe(false);
    expect(isAllowedPath('nginxx/a', DEFAULT_AGENT_MANAGED)).toBe(false);
  });

  it('refuses to manage tenant content or escapes even when configured to', () => {
    expect(() => parseManagedList('docker-compose.yml,mkdocs/')).toThrow(/tenant-owned/);
    expect(() => parseManagedList('../etc/')).toThrow(/\.\./);
    expect(parseManagedList(' docker-compose.yml , extra/ ')).toEqual(['docker-compose.yml', 'extra/']);
  });

  it('refuses a write of a path the control plane did not list as managed', async () => {
    await expect(guardArguments('writeFiles', [['.env'], [{ path: 'docker-compose.yml', content: 'x' }]], ctx)).rejects.toMatchObject({ code: 'path-rejected' });
  });

  it('refuses traversal, absolute and unmanaged paths whatever the operation', async () => {
    for (const p of ['../x', '/etc/passwd', 'nginx/../../x', 'mkdocs/mkdocs.yml', 'random.txt']) {
      await expect(guardArguments('readFiles', [[p]], ctx), p).rejects.toMatchObject({ code: 'path-rejected' });
      await expect(guardArguments('snapshotFiles', [[p]], ctx), p).rejects.toMatchObject({ code: 'path-rejected' });
      // A checksum is an oracle for a file's content: only managed files get one.
      await expect(guardArguments('fileChecksums', [[p]], ctx), p).rejects.toMatchObject({ code: 'path-rejected' });
    }
  });

  it('looks up only image references, never option-like or malformed names', async () => {
    expect(await guardArguments('imageIds', [['127.0.0.1:5055/app/api:1.0.0']], ctx)).toEqual([['127.0.0.1:5055/app/api:1.0.0']]);
    for (const bad of ['--all', '../x', 'a b', 'API:1']) {
      await expect(guardArguments('imageIds', [[bad]], ctx), bad).rejects.toMatchObject({ code: 'agent-refused' });
    }
  });

  it('refuses services the compose file does not declare, and names outside the compose grammar', async () => {
    await expect(guardArguments('recreate', [['api', 'db'], {}], ctx)).rejects.toMatchObject({ code: 'unknown-service', message: expect.stringMatching(/db not in the compose file/) });
    await expect(guardArguments('pull', [['--help'], {}], ctx)).rejects.toMatchObject({ code: 'agent-refused' });
    expect(await guardArguments('pull', [[], { IMAGE_TAG: '1.2.3' }], ctx)).toEqual([[], { IMAGE_TAG: '1.2.3' }]);
  });

  it('refuses environment that steers compose itself and malformed image tags', async () => {
    for (const env of [{ DOCKER_HOST: 'x' }, { COMPOSE_FILE: 'x' }, { LD_PRELOAD: 'x' }, { PATH: '/tmp' }, { IMAGE_TAG: '$(id)' }]) {
      await expect(guardArguments('upAll', [env], ctx), JSON.stringify(env)).rejects.toMatchObject({ code: 'agent-refused' });
    }
  });

  it('pins running images only where it manages both the pin and the compose file, and only for service names', async () => {
    expect(await guardArguments('pinRunningImages', [null, { IMAGE_TAG: '1.2.3' }, false], ctx)).toEqual([null, { IMAGE_TAG: '1.2.3' }, false]);
    const noPin = { ...ctx, managed: ['docker-compose.yml', '.env'] };
    await expect(guardArguments('pinRunningImages', [['api'], {}, true], noPin)).rejects.toMatchObject({ code: 'path-rejected', message: expect.stringMatching(/docker-compose\.override\.yml.*outside this agent's managed list/) });
    const noCompose = { ...ctx, managed: ['docker-compose.override.yml'] };
    await expect(guardArguments('pinRunningImages', [['api'], {}, true], noCompose)).rejects.toMatchObject({ code: 'path-rejected' });
    await expect(guardArguments('pinRunningImages', [['--all'], {}, true], ctx)).rejects.toMatchObject({ code: 'agent-refused' });
    await expect(guardArguments('serviceStates', [{ DOCKER_HOST: 'tcp://evil' }], ctx)).rejects.toMatchObject({ code: 'agent-refused' });
  });

  it('covers only the tenant content folders with the content manifest', async () => {
    await expect(guardArguments('contentManifest', [['mkdocs', 'configs']], ctx)).resolves.toEqual([['mkdocs', 'configs']]);
    await expect(guardArguments('contentManifest', [['..']], ctx)).rejects.toMatchObject({ code: 'agent-refused' });
  });

  it.each([
    'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'DYLD_INSERT_LIBRARIES', 'GCONV_PATH', 'GLIBC_TUNABLES', 'MALLOC_CHECK_',
    'NODE_OPTIONS', 'NODE_PATH', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PYTHONWARNINGS', 'PERL5LIB', 'PERL5OPT', 'PERLLIB',
    'RUBYLIB', 'RUBYOPT', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'BASH_ENV', 'ENV', 'SHELLOPTS', 'PS4', 'OPENSSL_CONF', 'SSLKEYLOGFILE',
    'pythonpath', 'Ld_Preload',
  ])('refuses %s, which makes the loader or an interpreter run code of the caller’s choosing', async (name) => {
    await expect(guardArguments('upAll', [{ [name]: '/tmp/evil' }], ctx)).rejects.toMatchObject({
      code: 'agent-refused',
      message: expect.stringMatching(/steer compose itself/),
    });
  });

  it('still passes the variables a compose file is written with', async () => {
    const env = { IMAGE_TAG: '1.2.3', POSTGRES_DB: 'app', API_URL: 'https://x', LOG_LEVEL: 'info', NODE_ENV: 'production' };
    await expect(guardArguments('upAll', [env], ctx)).resolves.toEqual([env]);
  });
});
