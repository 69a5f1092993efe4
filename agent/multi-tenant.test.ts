/**
 * The multi-tenant agent server (one process, one port, many tenant
 * directories), in one process over real mutual TLS: each tenant is served
 * only over its own certificate (picked by the TLS server name), to the
 * control plane only, with its own directory and its own lock; and the
 * `--tenants` command line.
 */
import https from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantError, type ExecutionDriver } from '../core/driver.js';
import { CONTROL_PLANE_CN, createCertificateAuthority, issueKeyAndCertificate, type CertificateAuthority } from '../core/pki.js';
import { createRemoteDriver, type RemoteCredentials } from '../transports/remote.js';
import { configFrom, multiConfigFrom, parseArgs } from './cli.js';
import { DEFAULT_AGENT_MANAGED } from './guard.js';
import { createMultiTenantAgentServer, type MultiTenantAgentServer } from './server.js';
import { createTenantDriver } from '../tenant/tenant.js';

function tenantDriver(dir: string, slug: string, stubs: Partial<ExecutionDriver> = {}): ExecutionDriver {
  const real = createTenantDriver({ compose: 'v1' }, { projectName: slug, dir });
  return Object.assign(Object.create(null), real, { listServices: async () => ['api', 'nginx'] }, stubs);
}

function rawCall(url: string, servername: string, pathname: string, tls: { cert?: string; key?: string; ca: string }) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const u = new URL(pathname, url);
    const body = JSON.stringify({ args: [] });
    const req = https.request(
      { hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, ...tls, servername, agent: false, checkServerIdentity: () => undefined },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('the multi-tenant agent server over real mutual TLS', () => {
  const slugs = ['alpha', 'beta', 'gamma'] as const;
  let ca: CertificateAuthority;
  let client: RemoteCredentials;
  let work: string;
  const dirs: Record<string, string> = {};
  const fingerprints: Record<string, string> = {};
  let server: MultiTenantAgentServer;
  let url: string;
  let releaseAlphaPull: (() => void) | undefined;

  beforeAll(async () => {
    ca = await createCertificateAuthority();
    const cp = await issueKeyAndCertificate(ca, { commonName: CONTROL_PLANE_CN, usage: 'client' });
    client = { ca: ca.certPem, cert: cp.certPem, key: cp.keyPem };
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-multi-'));
    server = createMultiTenantAgentServer({ managed: DEFAULT_AGENT_MANAGED, keepaliveMs: 50 });
    for (const slug of slugs) {
      dirs[slug] = await mkdtemp(path.join(work, `${slug}-`));
      await writeFile(path.join(dirs[slug]!, 'docker-compose.yml'), `# ${slug}\n`);
      const stubs: Partial<ExecutionDriver> =
        slug === 'alpha'
          ? { pull: () => new Promise<void>((resolve) => (releaseAlphaPull = resolve)) }
          : {};
      server.addTenant({ slug, dir: dirs[slug]!, driver: tenantDriver(dirs[slug]!, slug, stubs) });
    }
    const { port } = await server.listen('127.0.0.1', 0);
    url = `https://127.0.0.1:${port}`;
    // gamma is registered but not approved yet: no certificate.
    for (const slug of ['alpha', 'beta']) {
      const cert = await issueKeyAndCertificate(ca, { commonName: slug, dnsNames: [slug], usage: 'server' });
      fingerprints[slug] = cert.fingerprint256;
      server.setTenantCredentials(slug, { key: cert.keyPem, cert: cert.certPem, ca: ca.certPem });
    }
  });

  afterAll(async () => {
    releaseAlphaPull?.();
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const remote = (slug: string, fingerprint256 = fingerprints[slug], credentials = client) =>
    createRemoteDriver({ slug, credentials, resolve: async () => ({ agentUrl: url, fingerprint256 }), connectTimeoutMs: 2_000 });

  it('serves each tenant its own directory over its own certificate, on one port', async () => {
    expect(await remote('alpha').readFiles(['docker-compose.yml'])).toEqual({ 'docker-compose.yml': '# alpha\n' });
    expect(await remote('beta').readFiles(['docker-compose.yml'])).toEqual({ 'docker-compose.yml': '# beta\n' });
    await remote('beta').writeFiles(['drydock/VERSION'], [{ path: 'drydock/VERSION', content: 'b\n' }]);
    expect(await readFile(path.join(dirs.beta!, 'drydock/VERSION'), 'utf8')).toBe('b\n');
    await expect(readFile(path.join(dirs.alpha!, 'drydock/VERSION'), 'utf8')).rejects.toThrow(/ENOENT/);
    expect(server.serving().sort()).toEqual(['alpha', 'beta']);
  });

  it('presents the tenant’s own certificate: pinning one tenant’s fingerprint for another fails', async () => {
    const err = (await remote('beta', fingerprints.alpha).ping().catch((e: unknown) => e)) as TenantError;
    expect(err.code).toBe('agent-unreachable');
    expect(err.message).toMatch(/not the one approved for beta/);
  });

  it('fails the handshake of a tenant not approved yet, and of a server name it does not serve, while serving the others', async () => {
    await expect(remote('gamma', undefined).ping()).rejects.toMatchObject({ code: 'agent-unreachable' });
    await expect(rawCall(url, 'nobody', '/v1/nobody/ping', client)).rejects.toThrow();
    await expect(remote('alpha').ping()).resolves.toBeUndefined();
  });

  it('refuses a request for one tenant over another tenant’s connection', async () => {
    const res = await rawCall(url, 'alpha', '/v1/beta/readFiles', client);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'not-found', message: expect.stringMatching(/beta is served only over its own certificate/) });
    const unknown = await rawCall(url, 'alpha', '/v1/nobody/ping', client);
    expect(unknown.status).toBe(404);
    expect(unknown.body).not.toMatch(/beta|gamma/);
  });

  it('still takes only the control plane: no client certificate, or a tenant certificate as client, fails', async () => {
    await expect(rawCall(url, 'alpha', '/v1/alpha/ping', { ca: ca.certPem })).rejects.toThrow();
    const asClient = await issueKeyAndCertificate(ca, { commonName: 'beta', dnsNames: ['beta'], usage: 'server' });
    await expect(rawCall(url, 'alpha', '/v1/alpha/ping', { ca: ca.certPem, cert: asClient.certPem, key: asClient.keyPem })).rejects.toThrow();
  });

  it('locks each tenant on its own: a pull holding alpha does not hold a write to beta', async () => {
    const pull = remote('alpha').pull(['api'], {});
    await expect.poll(() => releaseAlphaPull !== undefined).toBe(true);
    await remote('beta').writeFiles(['drydock/VERSION'], [{ path: 'drydock/VERSION', content: 'b2\n' }]);
    let alphaWrote = false;
    const alphaWrite = remote('alpha')
      .writeFiles(['drydock/VERSION'], [{ path: 'drydock/VERSION', content: 'a\n' }])
      .then(() => (alphaWrote = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(alphaWrote).toBe(false);
    releaseAlphaPull!();
    await pull;
    await alphaWrite;
    expect(await readFile(path.join(dirs.alpha!, 'drydock/VERSION'), 'utf8')).toBe('a\n');
  });

  it('refuses to serve a slug twice, or credentials for a tenant it does not serve', () => {
    expect(() => server.addTenant({ slug: 'alpha', dir: dirs.alpha!, driver: tenantDriver(dirs.alpha!, 'alpha') })).toThrow(/already/);
    expect(() => server.setTenantCredentials('nobody', { key: '', cert: '', ca: '' })).toThrow(/does not serve nobody/);
  });
});

describe('the agent command line', () => {
  const base = ['--ccp-url', 'https://ccp.example', '--listen', '127.0.0.1:7443'];
  const file = (json: unknown) => () => JSON.stringify(json);

  it('reads --tenants as one entry per tenant directory, each with its own state directory under --state-dir', () => {
    const o = parseArgs([...base, '--tenants', 't.json', '--state-dir', '/var/lib/agent', '--poll-ms', '500'], {});
    const cfg = multiConfigFrom(o, file([{ slug: 'acme', dir: '/srv/acme', inviteCode: 'c1' }, { slug: 'beta', dir: '/srv/beta', project: 'b', name: 'Beta' }]));
    expect(cfg.tenants).toEqual([
      { slug: 'acme', dir: '/srv/acme', inviteCode: 'c1' },
      { slug: 'beta', dir: '/srv/beta', projectName: 'b', name: 'Beta' },
    ]);
    expect(cfg).toMatchObject({ ccpUrl: 'https://ccp.example', listenHost: '127.0.0.1', listenPort: 7443, stateDir: '/var/lib/agent', schedule: { normalMs: 500 } });
  });

  it('takes DRYDOCK_AGENT_TENANTS from the environment', () => {
    expect(parseArgs(base, { DRYDOCK_AGENT_TENANTS: '/etc/t.json' }).tenants).toBe('/etc/t.json');
  });

  it('refuses per-tenant options next to --tenants, duplicates, bad slugs, unknown keys and an empty list', () => {
    const o = parseArgs([...base, '--tenants', 't.json'], {});
    expect(() => multiConfigFrom({ ...o, slug: 'x' }, file([{ slug: 'a', dir: '/a' }]))).toThrow(/do not also give --slug/);
    expect(() => multiConfigFrom(o, file([{ slug: 'a', dir: '/a' }, { slug: 'a', dir: '/b' }]))).toThrow(/listed twice/);
    expect(() => multiConfigFrom(o, file([{ slug: 'Not_A_Label', dir: '/a' }]))).toThrow(/lowercase DNS label/);
    expect(() => multiConfigFrom(o, file([{ slug: 'a', dir: '/a', managed: 'x' }]))).toThrow(/unknown key managed/);
    expect(() => multiConfigFrom(o, file([]))).toThrow(/non-empty JSON array/);
    expect(() => multiConfigFrom(o, () => '{')).toThrow(/--tenants t.json/);
  });

  it('leaves the single-tenant command line as it was', () => {
    const cfg = configFrom(parseArgs([...base, '--slug', 'acme', '--dir', '/srv/acme', '--invite-code', 'c'], {}));
    expect(cfg).toMatchObject({ slug: 'acme', dir: '/srv/acme', inviteCode: 'c', listenPort: 7443 });
    expect(cfg.stateDir).toMatch(/\.drydock-agent\/acme$/);
    expect(() => configFrom(parseArgs(base, {}))).toThrow(/--slug/);
  });
});
