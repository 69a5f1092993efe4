/**
 * Trust from the first packet, on real processes and real certificates: the
 * control plane serves HTTPS itself (DRYDOCK_TLS_CERT/KEY's option, an
 * openssl certificate), and a real agent (`node --import tsx agent/main.ts`)
 * registers with nothing but its invite code.
 *
 * The man in the middle is a real HTTPS proxy between them holding a
 * certificate the agent's system trusts (NODE_EXTRA_CA_CERTS: a TLS-
 * inspecting proxy, or a mis-issued certificate), so TLS alone does not stop
 * it. It reads the agent's CSR on the way in and, when the operator approves,
 * swaps `caCertificate` (and the certificate) in the poll answer for its own
 * CA's, which would let it call the agent as "the control plane". The agent
 * refuses: the invite code carries the real CA's fingerprint. Nothing is
 * written on the tenant, and the attacker's call finds no agent to talk to.
 * The same proxy over plain http, to an agent started with --insecure-http,
 * is refused the same way: the pin, not the transport, is what decides.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caFingerprintOfInvite } from '../core/invite-code.js';
import { CONTROL_PLANE_CN, createCertificateAuthority, issueCertificate, issueKeyAndCertificate, parseCsr, type CertificateAuthority } from '../core/pki.js';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { callAgent } from './harness/agent-call.js';
import { treeChecksums } from './harness/release-tenant.js';
import { startTestControlPlane, uniqueName, waitFor, type TestControlPlane } from './support.js';

/** A self-signed server certificate for 127.0.0.1 made by openssl: what an operator would give DRYDOCK_TLS_CERT/KEY. */
async function opensslCertificate(dir: string, name: string): Promise<{ certFile: string; keyFile: string; cert: string }> {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { certFile, keyFile, cert: await readFile(certFile, 'utf8') };
}

interface Answer {
  status: number;
  body: any;
}

/** An HTTPS request trusting exactly `ca`. */
function request(url: string, method: string, body: unknown, ca: string, headers: Record<string, string> = {}): Promise<Answer & { raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const req = https.request(url, { method, ca, agent: false, headers: { ...(text !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch {
          parsed = raw.toString('utf8');
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, raw });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(text);
  });
}

interface AgentProcess {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

function spawnAgent(args: string[], env: Record<string, string>): AgentProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', ...args], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  const lines: string[] = [];
  const collect = (d: Buffer) => lines.push(...d.toString('utf8').split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    lines,
    exited,
    waitForLine: (re, timeoutMs = 60_000) =>
      waitFor(`agent output matching ${re}`, async () => lines.map((l) => re.exec(l)).find(Boolean) ?? undefined, timeoutMs, 50).catch((err: Error) => {
        throw new Error(`${err.message}\nagent output:\n${lines.join('\n')}`);
      }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(-child.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    },
  };
}

describe('an agent trusts the right control plane from its first packet', () => {
  let work: string;
  let cp: TestControlPlane;
  let ccpTls: { certFile: string; keyFile: string; cert: string };
  let api: (method: string, p: string, body?: unknown) => Promise<Answer>;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-mitm-'));
    ccpTls = await opensslCertificate(work, 'control-plane');
    cp = await startTestControlPlane({ runWorker: false, caDir: path.join(work, 'ca'), tls: { certFile: ccpTls.certFile, keyFile: ccpTls.keyFile } });
    api = (method, p, body) => request(`${cp.url}${p}`, method, body, ccpTls.cert, { authorization: `Bearer ${cp.operator.token}` });
  });

  afterAll(async () => {
    for (const a of agents) await a.stop();
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** A tenant directory with managed files in it, to prove nothing is written there. */
  async function tenantDir(slug: string): Promise<string> {
    const dir = path.join(work, `tenant-${slug}`);
    await mkdir(path.join(dir, 'nginx'), { recursive: true });
    await writeFile(path.join(dir, 'docker-compose.yml'), 'services:\n  api:\n    image: "app:${IMAGE_TAG}"\n');
    await writeFile(path.join(dir, '.env'), 'IMAGE_TAG=1.0.0\n');
    return dir;
  }

  const agentArgs = (ccpUrl: string, slug: string, code: string, dir: string) => [
    '--ccp-url', ccpUrl, '--invite-code', code, '--slug', slug, '--dir', dir,
    '--listen', '127.0.0.1:0', '--state-dir', path.join(work, `state-${slug}`), '--poll-ms', '100', '--backoff-ms', '100,200,400',
  ];

  async function approvePending(slug: string, agent: AgentProcess) {
    const registrationId = (await agent.waitForLine(/registered \(registration ([0-9a-f-]{36})\)/))[1]!;
    const pending = await api('GET', '/api/agents/registrations?status=pending');
    expect(pending.body.map((r: { id: string }) => r.id)).toContain(registrationId);
    const approved = await api('POST', `/api/agents/registrations/${registrationId}/approve`, {});
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    return registrationId;
  }

  it('serves HTTPS itself with DRYDOCK_TLS_CERT/KEY, and an agent registers over it with only its invite code', async () => {
    expect(cp.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const slug = uniqueName('tls');
    const invite = await api('POST', '/api/agents/invites', { slug });
    expect(invite.status).toBe(201);
    expect(caFingerprintOfInvite(invite.body.code)).toBe(invite.body.caFingerprint256);
    const dir = await tenantDir(slug);
    // The control plane's certificate is a private one: the agent host trusts it the way Node does, NODE_EXTRA_CA_CERTS.
    const agent = spawnAgent(agentArgs(cp.url, slug, invite.body.code, dir), { NODE_EXTRA_CA_CERTS: ccpTls.certFile });
    agents.push(agent);
    // What the agent logs of its key is what the operator sees before approving.
    const logged = (await agent.waitForLine(/registering with key ([0-9A-F:]{95})/))[1];
    const registrationId = await approvePending(slug, agent);
    expect((await api('GET', `/api/agents/registrations/${registrationId}`)).body.keyFingerprint256).toBe(logged);
    await agent.waitForLine(/approved; serving/);
    const state = await readdir(path.join(work, `state-${slug}`));
    expect(state.sort()).toEqual(['ca.pem', 'cert.pem', 'key.pem', 'key.pub']);
    expect(await readFile(path.join(work, `state-${slug}`, 'ca.pem'), 'utf8')).toBe(await readFile(path.join(work, 'ca', 'ca.crt'), 'utf8'));
    await agent.stop();
  });

  it.each([
    ['over HTTPS, with a certificate the agent trusts', 'https'],
    ['over plain http, to an agent started with --insecure-http', 'http'],
  ] as const)('refuses a man in the middle that swaps caCertificate in the poll answer %s, and writes nothing', async (_how, scheme) => {
    const mitmTls = await opensslCertificate(work, `mitm-${scheme}`);
    const attackerCa: CertificateAuthority = await createCertificateAuthority('totally the drydock agent CA');
    const attackerClient = await issueKeyAndCertificate(attackerCa, { commonName: CONTROL_PLANE_CN, usage: 'client' });
    let csr: string | undefined;
    let swapped = 0;
    // The proxy: terminates the agent's TLS with a certificate the agent trusts, forwards to the real control plane.
    const relay: http.RequestListener = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (req.url === '/api/agents/register') csr = (JSON.parse(body) as { csr: string }).csr;
        const answer = await request(`${cp.url}${req.url}`, req.method!, body || undefined, ccpTls.cert);
        let out = answer.raw;
        if (req.url === '/api/agents/poll' && answer.body?.status === 'approved' && csr) {
          const { commonName, publicKey } = await parseCsr(csr);
          const forged = await issueCertificate(attackerCa, publicKey, { commonName: commonName!, dnsNames: [commonName!], usage: 'server' });
          out = Buffer.from(JSON.stringify({ ...answer.body, certificate: forged.certPem, caCertificate: attackerCa.certPem }));
          swapped++;
        }
        res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': out.length });
        res.end(out);
      });
    };
    const proxy = scheme === 'https' ? https.createServer({ cert: mitmTls.cert, key: await readFile(mitmTls.keyFile, 'utf8') }, relay) : http.createServer(relay);
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const proxyUrl = `${scheme}://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const slug = uniqueName('mitm');
      const invite = await api('POST', '/api/agents/invites', { slug });
      const dir = await tenantDir(slug);
      const before = await treeChecksums(dir);
      // The agent trusts the proxy's certificate: the attacker holds one the agent's system accepts.
      const agent = spawnAgent([...agentArgs(proxyUrl, slug, invite.body.code, dir), ...(scheme === 'http' ? ['--insecure-http'] : [])], {
        NODE_EXTRA_CA_CERTS: mitmTls.certFile,
      });
      agents.push(agent);
      const agentUrl = (await agent.waitForLine(/advertised as (https:\/\/127\.0\.0\.1:\d+)/))[1]!;
      await approvePending(slug, agent);

      const code = await Promise.race([agent.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 60_000))]);
      expect(swapped).toBeGreaterThan(0);
      expect(code, agent.lines.join('\n')).toBe(2);
      expect(agent.lines.join('\n')).toMatch(/the certificate handed over is not acceptable: the CA's fingerprint is .*, not the pinned .*nothing was saved/);
      // Nothing written: no certificate or CA in the agent's state, the tenant's files as they were.
      expect((await readdir(path.join(work, `state-${slug}`))).sort()).toEqual(['key.pem', 'key.pub', 'registration.json']);
      expect(await treeChecksums(dir)).toEqual(before);
      // The attacker's next step, writing its own compose file as "the control plane", finds no agent serving.
      const attack = await callAgent(agentUrl, slug, 'writeFiles', [['docker-compose.yml'], [{ path: 'docker-compose.yml', content: 'services:\n  pwn:\n    image: evil\n' }]], {
        ca: attackerCa.certPem,
        cert: attackerClient.certPem,
        key: attackerClient.keyPem,
      }).then(
        (r) => `answered HTTP ${r.status}: ${r.body}`,
        (e: Error) => e.message,
      );
      expect(attack).toMatch(/ECONNREFUSED|socket hang up|ECONNRESET/);
      expect(await treeChecksums(dir)).toEqual(before);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});
