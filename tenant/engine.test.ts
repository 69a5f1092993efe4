import { describe, expect, it } from 'vitest';
import { createDockerEngine, EngineError, engineEndpoint } from './engine.js';

describe('the Docker Engine API client', () => {
  it('reads DOCKER_HOST: the default socket, a unix socket, plain TCP; TLS and other schemes are refused by name', () => {
    expect(engineEndpoint('')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(engineEndpoint('unix:///run/user/1000/docker.sock')).toEqual({ socketPath: '/run/user/1000/docker.sock' });
    expect(engineEndpoint('tcp://127.0.0.1:2375')).toEqual({ host: '127.0.0.1', port: 2375 });
    expect(() => engineEndpoint('ssh://me@host')).toThrow(/DOCKER_HOST=ssh:\/\/me@host is not supported/);
  });

  it('answers ping and info from the real engine, and a missing container as a 404 EngineError', async () => {
    const engine = createDockerEngine();
    await engine.ping();
    expect((await engine.info()).DockerRootDir).toMatch(/^\//);
    const err = await engine.inspectContainer('drydock-no-such-container').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ statusCode: 404, message: expect.stringMatching(/No such container/i) });
    expect(await engine.listContainers('com.docker.compose.project=drydock-no-such-project')).toEqual([]);
  });

  it('names the socket when no engine listens there', async () => {
    await expect(createDockerEngine({ dockerHost: 'unix:///nonexistent/docker.sock' }).ping()).rejects.toThrow(/nonexistent\/docker.sock/);
  });
});
