import { createHash } from 'node:crypto';
import https from 'node:https';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantError, type ExecutionDriver } from '../core/driver.js';
import { COMPOSE_PATH, pinEntries, PIN_PATH, renderImagePin } from '../core/image-pin.js';
import { CONTROL_PLANE_CN, createCertificateAuthority, issueKeyAndCertificate, type CertificateAuthority } from '../core/pki.js';
import { createRemoteDriver, secureContextOf, type RemoteCredentials } from './remote.js';
import { DEFAULT_AGENT_MANAGED } from '../agent/guard.js';
import { createAgentServer, type AgentServer } from '../agent/server.js';
import { createTenantDriver } from '../tenant/tenant.js';
import { createDriverFactory } from './drivers.js';

/** The tenant driver on a temp dir, with compose stubbed where a test needs to hold it. */
function tenantWithStubs(dir: string, stubs: Partial<ExecutionDriver>): ExecutionDriver {
  const real = createTenantDriver({ compose: 'v1' }, { projectName: 'srvtest', dir });
  return Object.assign(Object.create(null), real, { listServices: async () => ['api', 'nginx'] }, stubs);
}

describe('the agent server and the remote driver, in one process over real mutual TLS', () => {
  const slug = 'srvtest';
  let ca: CertificateAuthority;
  let client: RemoteCredentials;
  let dir: string;
  let server: AgentServer;
  let url: string;
  let fingerprint: string;
  let agentCert: Awaited<ReturnType<typeof issueKeyAndCertificate>>;
  const calls: string[] = [];
  let pullSignal: AbortSignal | undefined;

  beforeAll(async () => {
    ca = await createCertificateAuthority();
    const cp = await issueKeyAndCertificate(ca, { commonName: CONTROL_PLANE_CN, usage: 'client' });
    client = { ca: ca.certPem, cert: cp.certPem, key: cp.keyPem };
    agentCert = await issueKeyAndCertificate(ca, { commonName: slug, dnsNames: [slug], usage: 'server' });
    fingerprint = agentCert.fingerprint256;
    dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-agentsrv-'));
    const driver = tenantWithStubs(dir, {
      // The images the containers run, as the engine would inspect them.
      async containerStates(services) {
        return services.map((service) => ({ service, containerId: `c-${service}`, imageId: `sha256:${'0'.repeat(64)}`, imageRef: `registry.test/app/${service}:2.0`, state: 'running' }));
      },
      async pull(services, _env, opts) {
        calls.push(`pull ${services.join(',')}`);
        pullSignal = opts?.signal;
        opts?.onProgress?.('Pulling api ... ');
        if (services.includes('nginx')) {
          // Holds on until the request goes away.
          await new Promise((_r, reject) => opts?.signal?.addEventListener('abort', () => reject(new TenantError('cancelled', 'compose pull was cancelled'))));
        }
        if (services.includes('api')) throw new TenantError('image-not-found', 'compose pull: image x:1 not found in its registry', 'manifest for x:1 not found');
      },
    });
    server = createAgentServer({ slug, dir, driver, managed: DEFAULT_AGENT_MANAGED, keepaliveMs: 50 });
    const { port } = await server.listen('127.0.0.1', 0);
    url = `https://127.0.0.1:${port}`;
    server.setCredentials({ key: agentCert.keyPem, cert: agentCert.certPem, ca: ca.certPem });
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const remote = (over: { agentUrl?: string; fingerprint256?: string; credentials?: RemoteCredentials } = {}) =>
    createRemoteDriver({
      slug,
      credentials: over.credentials ?? client,
      resolve: async () => ({ agentUrl: over.agentUrl ?? url, fingerprint256: over.fingerprint256 ?? fingerprint }),
      connectTimeoutMs: 2_000,
    });

  it('writes and reads managed files through the agent, atomically and idempotently', async () => {
    const d = remote();
    expect(await d.writeFiles(['docker-compose.yml'], [{ path: 'docker-compose.yml', content: 'services: {}\n' }])).toEqual({ written: ['docker-compose.yml'], unchanged: [] });
    expect(await d.writeFiles(['docker-compose.yml'], [{ path: 'docker-compose.yml', content: 'services: {}\n' }])).toEqual({ written: [], unchanged: ['docker-compose.yml'] });
    expect(await d.readFiles(['docker-compose.yml', '.env'])).toEqual({ 'docker-compose.yml': 'services: {}\n', '.env': null });
  });

  it('answers the checksums a drift check compares through the agent, and refuses one of a file outside its managed list', async () => {
    const d = remote();
    await d.writeFiles(['docker-compose.yml'], [{ path: 'docker-compose.yml', content: 'services: {}\n' }]);
    await writeFile(path.join(dir, 'secret.txt'), 'not managed\n');
    const sums = await d.fileChecksums(['docker-compose.yml', 'nginx/conf.d/default.conf']);
    expect(sums).toEqual({ 'docker-compose.yml': createHash('sha256').update('services: {}\n').digest('hex'), 'nginx/conf.d/default.conf': null });
    await expect(d.fileChecksums(['secret.txt'])).rejects.toMatchObject({ code: 'path-rejected' });
    await expect(d.fileChecksums(['../etc/passwd'])).rejects.toMatchObject({ code: 'path-rejected' });
  });

  it('makes the TLS context of a set of credentials once, not per call', async () => {
    expect(secureContextOf(client)).toBe(secureContextOf(client));
    expect(secureContextOf({ ...client })).not.toBe(secureContextOf(client));
  });

  it('keeps the connection to an approved agent alive across calls, and calls again after the agent closed it', async () => {
    let handshakes = 0;
    const count = () => handshakes++;
    const accepted: import('node:net').Socket[] = [];
    const keep = (sock: import('node:net').Socket) => accepted.push(sock);
    // Connections earlier tests left idle go first.
    server.server.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 50));
    server.server.on('secureConnection', count);
    server.server.on('secureConnection', keep);
    try {
      for (let i = 0; i < 5; i++) await remote().ping();
      expect(handshakes).toBe(1);
      // The agent drops the idle connection; the next call still goes through (on a new one).
      for (const sock of accepted) sock.destroy();
      await remote().ping();
      await remote().readFiles(['docker-compose.yml']);
      expect(handshakes).toBe(2);
      // A kept-alive connection that dies as the request arrives: the request never ran, so it goes again on a new one.
      let killNext = true;
      const kill = (req: import('node:http').IncomingMessage) => {
        if (killNext) {
          killNext = false;
          req.socket.destroy();
        }
      };
      server.server.prependListener('request', kill);
      try {
        expect(await remote().readFiles(['docker-compose.yml'])).toEqual({ 'docker-compose.yml': 'services: {}\n' });
      } finally {
        server.server.off('request', kill);
      }
      expect(killNext).toBe(false);
      expect(handshakes).toBe(3);
    } finally {
      server.server.off('secureConnection', count);
      server.server.off('secureConnection', keep);
    }
  });

  it('rebuilds the tenant error the agent reports, code and output included', async () => {
    const err = await remote().pull(['api'], { IMAGE_TAG: '1.0' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TenantError);
    expect(err).toMatchObject({ code: 'image-not-found', output: 'manifest for x:1 not found' });
  });

  it('streams compose output lines to onProgress', async () => {
    const lines: string[] = [];
    await remote().pull(['api'], {}, { onProgress: (l) => lines.push(l) }).catch(() => undefined);
    expect(lines).toContain('Pulling api ... ');
  });

  it('stops the running compose operation when the control plane goes away, and frees the tenant lock', async () => {
    const ac = new AbortController();
    const pending = remote().pull(['nginx'], {}, { signal: ac.signal });
    await expect.poll(() => pullSignal !== undefined && calls.includes('pull nginx')).toBe(true);
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
    await expect.poll(() => pullSignal?.aborted, { timeout: 2_000 }).toBe(true);
    // The lock is released: a mutating call goes through at once.
    expect(await remote().writeFiles(['drydock/VERSION'], [{ path: 'drydock/VERSION', content: '1\n' }])).toEqual({ written: ['drydock/VERSION'], unchanged: [] });
    expect(await readdir(dir)).not.toContain('.drydock.lock');
  });

  it('refuses a service that is not in the compose file before running compose', async () => {
    calls.length = 0;
    await expect(remote().recreate(['db'], {})).rejects.toMatchObject({ code: 'unknown-service', message: expect.stringMatching(/db not in the compose file/) });
    expect(calls).toEqual([]);
  });

  it('refuses environment variables that would steer compose itself', async () => {
    await expect(remote().upAll({ DOCKER_HOST: 'tcp://evil:2375' })).rejects.toMatchObject({ code: 'agent-refused' });
    await expect(remote().upAll({ IMAGE_TAG: '../../x' })).rejects.toMatchObject({ code: 'agent-refused' });
  });

  it('refuses a request body over the limit as agent-refused', async () => {
    await expect(remote().readFiles(['x'.repeat(70 * 1024)])).rejects.toMatchObject({ code: 'agent-refused', message: expect.stringMatching(/over 65536 bytes/) });
  });

  it("notes a contact whenever the agent answered, its own error too, and none when it was not reached (the metrics' last contact)", async () => {
    const contacts: string[] = [];
    let agentUrl = url;
    let approved = true;
    const driverFor = await createDriverFactory({
      compose: 'v1',
      remote: { credentials: client, approvedAgent: async () => (approved ? { agentUrl, fingerprint256: fingerprint } : undefined), onContact: (s) => contacts.push(s) },
    });
    const driver = () => driverFor({ slug, composeProjectName: slug, composeDir: '/srv', isRemote: true, agentUrl });
    await driver().ping();
    expect(contacts).toEqual([slug]);
    await expect(driver().pull(['api'], { IMAGE_TAG: '1.0' })).rejects.toMatchObject({ code: 'image-not-found' });
    expect(contacts).toEqual([slug, slug]);
    agentUrl = 'https://127.0.0.1:1';
    await expect(driver().ping()).rejects.toMatchObject({ code: 'agent-unreachable' });
    approved = false;
    await expect(driver().ping()).rejects.toMatchObject({ code: 'agent-not-approved' });
    expect(contacts).toEqual([slug, slug]);
  });

  it('reports an agent that does not answer as a retryable agent-unreachable naming its URL', async () => {
    const err = (await remote({ agentUrl: 'https://127.0.0.1:1' }).ping().catch((e: unknown) => e)) as TenantError;
    expect(err.code).toBe('agent-unreachable');
    expect(err.message).toContain('https://127.0.0.1:1');
  });

  it('will not talk to an agent whose certificate is not the one approved for the slug', async () => {
    const err = (await remote({ fingerprint256: 'AA:BB' }).ping().catch((e: unknown) => e)) as TenantError;
    expect(err.code).toBe('agent-unreachable');
    expect(err.message).toMatch(/not the one approved/);
  });

  it('refuses an agent certificate from the same CA used as a client', async () => {
    const other = await issueKeyAndCertificate(ca, { commonName: 'other', dnsNames: ['other'], usage: 'server' });
    const err = (await remote({ credentials: { ca: ca.certPem, cert: other.certPem, key: other.keyPem } }).ping().catch((e: unknown) => e)) as TenantError;
    expect(err.code).toBe('agent-unreachable');
  });

  it('fails every handshake until it has a certificate', async () => {
    const bare = createAgentServer({ slug, dir, driver: tenantWithStubs(dir, {}), managed: DEFAULT_AGENT_MANAGED });
    const { port } = await bare.listen('127.0.0.1', 0);
    try {
      await expect(remote({ agentUrl: `https://127.0.0.1:${port}` }).ping()).rejects.toMatchObject({ code: 'agent-unreachable' });
    } finally {
      await bare.close();
    }
  });

  it('one mutating operation at a time: a second write waits for a pull holding the lock', async () => {
    const ac = new AbortController();
    calls.length = 0;
    pullSignal = undefined;
    const pull = remote().pull(['nginx'], {}, { signal: ac.signal }).catch((e: TenantError) => e.code);
    await expect.poll(() => calls.includes('pull nginx')).toBe(true);
    let wrote = false;
    const write = remote().writeFiles(['drydock/VERSION'], [{ path: 'drydock/VERSION', content: '2\n' }]).then(() => (wrote = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(wrote).toBe(false);
    ac.abort();
    expect(await pull).toBe('cancelled');
    await write;
    expect(wrote).toBe(true);
  });

  // The containers' states are stubbed here (no containers run for this tenant); test/example-bundle.test.ts pins through a real agent on real Docker.
  it("pins the images the services run in one request, keeping the pin of the services not looked at and the compose file's version line (container states stubbed)", async () => {
    const d = remote();
    const oldPin = renderImagePin(null, [
      { service: 'api', imageRef: 'registry.test/app/api:1.0' },
      { service: 'worker', imageRef: 'registry.test/app/worker:1.0' },
    ]);
    await d.writeFiles([COMPOSE_PATH, PIN_PATH], [
      { path: COMPOSE_PATH, content: "version: '2.4'\nservices: {}\n" },
      { path: PIN_PATH, content: oldPin },
    ]);
    // A Quick Upgrade of api: merged into the pin.
    expect(await d.pinRunningImages(['api'], { IMAGE_TAG: '2.0' }, true)).toEqual(['api']);
    let pin = (await d.readFiles([PIN_PATH]))[PIN_PATH]!;
    expect(pin).toContain("version: '2.4'");
    expect(pinEntries(pin)).toEqual([
      { service: 'api', imageRef: 'registry.test/app/api:2.0' },
      { service: 'worker', imageRef: 'registry.test/app/worker:1.0' },
    ]);
    // A full up: every service the compose file declares, the rest of the old pin gone.
    expect(await d.pinRunningImages(null, { IMAGE_TAG: '2.0' }, false)).toEqual(['api', 'nginx']);
    pin = (await d.readFiles([PIN_PATH]))[PIN_PATH]!;
    expect(pinEntries(pin).map((e) => e.service)).toEqual(['api', 'nginx']);
    expect(await d.serviceStates({ IMAGE_TAG: '2.0' })).toMatchObject({
      services: ['api', 'nginx'],
      states: [{ service: 'api', imageRef: 'registry.test/app/api:2.0' }, { service: 'nginx', imageRef: 'registry.test/app/nginx:2.0' }],
    });
  });

  it('takes the 404 of an agent older than an operation as agent-refused, on which the control plane makes the older calls instead', async () => {
    // An agent from before serviceStates and pinRunningImages: it answers them as it answers any operation it does not know.
    const old = https.createServer({ key: agentCert.keyPem, cert: agentCert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const body = JSON.stringify({ code: 'not-found', message: `no operation ${req.url?.split('/').pop()}` });
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', r));
    try {
      const d = remote({ agentUrl: `https://127.0.0.1:${(old.address() as import('node:net').AddressInfo).port}` });
      await expect(d.serviceStates({})).rejects.toMatchObject({ code: 'agent-refused', message: expect.stringMatching(/no operation serviceStates/) });
      await expect(d.pinRunningImages(null, {}, false)).rejects.toMatchObject({ code: 'agent-refused', message: expect.stringMatching(/no operation pinRunningImages/) });
    } finally {
      old.closeAllConnections();
      await new Promise((r) => old.close(r));
    }
  });
});
