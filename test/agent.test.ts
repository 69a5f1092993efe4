/**
 * The tenant agent end to end, on real processes and real certificates: a
 * real agent (`npx tsx agent/main.ts`) on loopback with its own tenant
 * directory registers with an invite code, is approved through the API, and
 * a Release Upgrade of its tenant runs through the remote driver on the real
 * Docker engine. Then what the agent refuses: foreign TLS peers, path
 * escapes sent straight to it; and what revocation stops.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionDriver } from '../core/driver.js';
import { CONTROL_PLANE_CN, createCertificateAuthority, issueKeyAndCertificate } from '../core/pki.js';
import { createPlanner } from '../worker/planner.js';
import { callAgent } from './harness/agent-call.js';
import { createReleaseTenant, pushReleaseImages, releaseDefaults, RELEASE_SERVICES, treeChecksums, type ReleaseTenant } from './harness/release-tenant.js';
import { startTestControlPlane, uniqueName, waitFor, waitForUpgradeEnd, waitForUpgradeStatus, type TestControlPlane } from './support.js';
import { spawnAgentProcess as spawnAgent, type AgentProcess } from './harness/agent-process.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'releases');
const N = '1.0.0';
const N1 = '1.1.0';

/**
 * The error code of a refused call: refused before it started (4xx), or by the
 * tenant's own disk checks once running (the final NDJSON line). Undefined when it succeeded.
 */
function refusal(res: { status: number; body: string }): string | undefined {
  if (res.status !== 200) return JSON.parse(res.body).code;
  const last = JSON.parse(res.body.trim().split('\n').at(-1)!);
  return last.error?.code;
}

describe('a remote tenant driven through a real agent process over mutual TLS', () => {
  let cp: TestControlPlane;
  let dir: string;
  let work: string;
  let caDir: string;
  let stateDir: string;
  let slug: string;
  let local: ExecutionDriver;
  let agent: AgentProcess;
  let inviteCode: string;
  let registrationId: string;
  let instanceId: string;
  let agentUrl: string;
  const images: Record<string, Record<string, string>> = {};
  let tenant: ReleaseTenant;

  beforeAll(async () => {
    slug = uniqueName('agt');
    const defaults = releaseDefaults(slug);
    Object.assign(images, await pushReleaseImages(defaults, { [N]: RELEASE_SERVICES, [N1]: RELEASE_SERVICES }));
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-agent-e2e-'));
    caDir = path.join(work, 'ca');
    stateDir = path.join(work, 'agent-state');
    cp = await startTestControlPlane({ planner: createPlanner(defaults, path.join(FIXTURES, 'n1')), caDir });

    // The tenant host as release N left it (set up locally: this is the tenant's own machine).
    tenant = await createReleaseTenant({
      slug, defaults, release: 'n', imageTag: N, dir: path.join(work, 'tenant'),
      secrets: { postgresPassword: 'pg-remote-1', apiSecret: 'api-remote-2' },
    });
    dir = tenant.dir;
    local = tenant.driver;
  });

  afterAll(async () => {
    await agent?.stop();
    await tenant?.down();
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('creates the control plane CA on first start, its key readable by the owner only', async () => {
    expect((await stat(path.join(caDir, 'ca.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(caDir, 'client.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(caDir)).mode & 0o777).toBe(0o700);
  });

  it('registers with an invite code and waits, pending, for an operator', async () => {
    const invite = await cp.api('POST', '/api/agents/invites', { expiresInMinutes: 30, slug, note: 'e2e' });
    expect(invite.status).toBe(201);
    inviteCode = invite.body.code;
    agent = spawnAgent([
      '--ccp-url', cp.url,
      '--insecure-http',
      '--invite-code', inviteCode,
      '--slug', slug,
      '--dir', dir,
      '--name', 'Remote tenant',
      '--listen', '127.0.0.1:0',
      '--state-dir', stateDir,
      '--ca-fingerprint', invite.body.caFingerprint256,
      '--poll-ms', '100',
      '--backoff-ms', '100,200,400,1000',
    ]);
    registrationId = (await agent.waitForLine(/registered \(registration ([0-9a-f-]{36})\)/))[1]!;
    agentUrl = (await agent.waitForLine(/advertised as (https:\/\/127\.0\.0\.1:\d+)/))[1]!;

    const pending = await cp.api('GET', '/api/agents/registrations?status=pending');
    expect(pending.body).toEqual([expect.objectContaining({ id: registrationId, slug, status: 'pending', agentUrl, composeDir: dir })]);
    expect(JSON.stringify(pending.body)).not.toMatch(/PRIVATE KEY/);
    // The key pair was made on the tenant host and stays there.
    expect((await stat(path.join(stateDir, 'key.pem'))).mode & 0o777).toBe(0o600);
    const invites = await cp.api('GET', '/api/agents/invites');
    expect(invites.body[0]).toMatchObject({ state: 'used' });
    expect(JSON.stringify(invites.body)).not.toContain(inviteCode);
  });

  it('on approval signs a certificate with the slug as identity and links a remote, registered instance', async () => {
    const approved = await cp.api('POST', `/api/agents/registrations/${registrationId}/approve`, {});
    expect(approved.status).toBe(200);
    expect(approved.body.registration).toMatchObject({ status: 'approved', decidedBy: expect.any(String) });
    expect(approved.body.instance).toMatchObject({ slug, name: 'Remote tenant', isRemote: true, isRegistered: true, agentUrl });
    instanceId = approved.body.instance.id;

    await agent.waitForLine(/approved; serving/);
    const cert = new X509Certificate(await readFile(path.join(stateDir, 'cert.pem'), 'utf8'));
    const ca = new X509Certificate(await readFile(path.join(caDir, 'ca.crt'), 'utf8'));
    expect(cert.subject).toBe(`CN=${slug}`);
    expect(cert.subjectAltName).toBe(`DNS:${slug}`);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect((await cp.api('POST', `/api/agents/registrations/${registrationId}/approve`, {})).status).toBe(409);
  });

  it('runs a Release Upgrade of the tenant through the agent: every service on N+1, tenant content untouched', async () => {
    const mkdocsBefore = Object.entries(await treeChecksums(dir)).filter(([p]) => p.startsWith('mkdocs/'));
    const preview = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release/preview`, { imageTag: N1 });
    expect(preview.status).toBe(200);
    const status = Object.fromEntries(preview.body.files.map((f: { path: string; status: string }) => [f.path, f.status]));
    // A registered tenant keeps its own .env: it is not in the render set.
    expect(status).toEqual({ 'docker-compose.yml': 'modified', 'nginx/conf.d/default.conf': 'modified', 'drydock/search.conf': 'created' });

    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release`, { imageTag: N1, planHash: preview.body.planHash });
    expect(started.status).toBe(202);
    const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(end.error).toBeNull();
    expect(end.status).toBe('succeeded');

    for (const s of await local.containerStates(['api', 'admin', 'media-api', 'nginx', 'search'])) {
      expect(s.state, s.service).toBe('running');
      expect(s.imageId, s.service).toBe(images[N1]![s.service]);
    }
    expect(Object.entries(await treeChecksums(dir)).filter(([p]) => p.startsWith('mkdocs/'))).toEqual(mkdocsBefore);
    expect(agent.lines.some((l) => /agent: pull done/.test(l))).toBe(true);
  });

  it('reports a stopped agent’s instance as offline once a rollout’s per-instance deadline passes, and its upgrade finishes when the agent is back', async () => {
    const agentArgs = agent.args;
    await agent.stop();
    const started = await cp.api('POST', '/api/rollouts', {
      mode: 'image-only', target: { instanceIds: [instanceId] }, waves: [1], perInstanceTimeout: '3s',
    });
    expect(started.status).toBe(202);
    const end = await waitFor('the rollout to end', async () => {
      const { body } = await cp.api('GET', `/api/rollouts/${started.body.rolloutId}`);
      return ['succeeded', 'failed', 'aborted'].includes(body.status) ? body : undefined;
    }, 60_000, 250);
    expect(end.status).toBe('failed');
    expect(end.instances).toEqual([
      expect.objectContaining({ instanceId, status: 'failed', reason: expect.stringMatching(/^offline: its agent gave no result within 3s/) }),
    ]);
    // Over its failure budget with nothing left to start, it ends failed rather than pausing.
    expect(end.log.join('\n')).not.toMatch(/paused/);
    // The rollout stopped waiting; the instance's own upgrade did not stop retrying.
    const upgradeId = end.instances[0].upgradeId;
    expect((await cp.api('GET', `/api/upgrades/${upgradeId}`)).body.status).toBe('running');

    // Back on the same address, with the state it kept: no new invite, no new approval.
    const port = new URL(agentUrl).port;
    agent = spawnAgent(agentArgs.map((a) => (a === '127.0.0.1:0' ? `127.0.0.1:${port}` : a)));
    await agent.waitForLine(/approved; serving/);
    let upgrade = await waitForUpgradeEnd(cp, upgradeId);
    if (upgrade.status === 'needs-attention') {
      // The agent came back after the step's retry budget (a slow start on a loaded machine): an operator retries.
      expect(upgrade.error).toMatch(/unreachable/);
      expect((await cp.api('POST', `/api/upgrades/${upgradeId}/retry`)).status).toBe(202);
      upgrade = await waitForUpgradeStatus(cp, upgradeId, ['succeeded', 'failed']);
    }
    expect(upgrade.status).toBe('succeeded');
  });

  describe('what the agent refuses', () => {
    let caPem: string;
    let client: { cert: string; key: string; ca: string };

    beforeAll(async () => {
      caPem = await readFile(path.join(caDir, 'ca.crt'), 'utf8');
      client = { cert: await readFile(path.join(caDir, 'client.crt'), 'utf8'), key: await readFile(path.join(caDir, 'client.key'), 'utf8'), ca: caPem };
    });

    it('answers the control plane’s own client certificate', async () => {
      const res = await callAgent(agentUrl, slug, 'ping', [], client);
      expect(res.status).toBe(200);
      expect(res.body).toContain('"done":true');
    });

    it('refuses at the TLS handshake a peer with no client certificate, a self-signed one, one from another CA, or an expired one', async () => {
      const selfSigned = await createCertificateAuthority(CONTROL_PLANE_CN);
      const otherCa = await createCertificateAuthority('someone else');
      const fromOther = await issueKeyAndCertificate(otherCa, { commonName: CONTROL_PLANE_CN, usage: 'client' });
      const ours = { certPem: caPem, keyPem: await readFile(path.join(caDir, 'ca.key'), 'utf8') };
      const day = 86_400_000;
      const expired = await issueKeyAndCertificate(ours, {
        commonName: CONTROL_PLANE_CN,
        usage: 'client',
        notBefore: new Date(Date.now() - 3 * day),
        notAfter: new Date(Date.now() - day),
      });
      const peers = {
        'no certificate': { ca: caPem },
        'self-signed': { ca: caPem, cert: selfSigned.certPem, key: selfSigned.keyPem },
        'another CA': { ca: caPem, cert: fromOther.certPem, key: fromOther.keyPem },
        expired: { ca: caPem, cert: expired.certPem, key: expired.keyPem },
      };
      const before = agent.lines.filter((l) => /agent: ping done/.test(l)).length;
      for (const [what, tls] of Object.entries(peers)) {
        const err = await callAgent(agentUrl, slug, 'ping', [], tls).then(
          (r) => new Error(`${what}: answered HTTP ${r.status}`),
          (e: Error) => e,
        );
        expect(err.message, what).toMatch(/alert|certificate|socket hang up|ECONNRESET|EPIPE/i);
      }
      expect(agent.lines.filter((l) => /agent: ping done/.test(l)).length).toBe(before);
    });

    it('refuses path escapes sent straight to it, bypassing the control plane, and writes nothing', async () => {
      const outside = path.join(work, 'outside');
      await mkdir(outside, { recursive: true });
      await mkdir(path.join(dir, 'drydock'), { recursive: true });
      await symlink(outside, path.join(dir, 'drydock', 'escape'));
      const before = await treeChecksums(dir);
      const attempts = ['../outside/pwned', '/etc/drydock-pwned', 'drydock/../../outside/pwned', 'drydock/escape/pwned', 'mkdocs/mkdocs.yml', 'not-managed.txt', 'nginx\\..\\..\\pwned', '.drydock.lock'];
      for (const p of attempts) {
        const write = await callAgent(agentUrl, slug, 'writeFiles', [[p], [{ path: p, content: 'pwned\n' }]], client);
        expect(refusal(write), p).toMatch(/path-rejected|agent-refused/);
        const restore = await callAgent(agentUrl, slug, 'restoreFiles', [{ [p]: { content: Buffer.from('pwned').toString('base64'), mode: 0o644 } }], client);
        expect(refusal(restore), p).toMatch(/path-rejected|agent-refused/);
        const read = await callAgent(agentUrl, slug, 'readFiles', [[p]], client);
        expect(refusal(read), p).toMatch(/path-rejected|agent-refused/);
      }
      // A batch with one bad path writes none of it.
      const batch = await callAgent(agentUrl, slug, 'writeFiles', [['drydock/ok.txt', 'drydock/escape/pwned'], [{ path: 'drydock/ok.txt', content: 'ok\n' }, { path: 'drydock/escape/pwned', content: 'x\n' }]], client);
      expect(refusal(batch)).toBe('path-rejected');
      expect(await treeChecksums(dir)).toEqual(before);
      expect(await readdir(outside)).toEqual([]);
      await expect(stat('/etc/drydock-pwned')).rejects.toThrow(/ENOENT/);
    });

    it('refuses a service the compose file does not declare, and environment that steers compose', async () => {
      const pull = await callAgent(agentUrl, slug, 'pull', [['api', 'evil'], { IMAGE_TAG: N1 }], client);
      expect(pull.status).toBe(400);
      expect(JSON.parse(pull.body)).toMatchObject({ code: 'unknown-service' });
      const up = await callAgent(agentUrl, slug, 'upAll', [{ DOCKER_HOST: 'tcp://203.0.113.1:2375' }], client);
      expect(up.status).toBe(400);
    });
  });

  it('once revoked, the agent is no longer called, and its poll is refused', async () => {
    const revoked = await cp.api('POST', `/api/agents/registrations/${registrationId}/revoke`, { reason: 'host retired' });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ status: 'revoked', revokedBy: expect.any(String), reason: 'host retired' });
    expect((await cp.api('GET', `/api/instances/${instanceId}`)).body).toMatchObject({ isRemote: true, agentUrl: null });

    const calls = agent.lines.filter((l) => /agent: \w+ done/.test(l)).length;
    const preview = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release/preview`, { imageTag: N1 });
    expect(preview.status).toBeGreaterThanOrEqual(400);
    expect(preview.body.error).toMatch(/no approved agent/);
    const started = await cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, {});
    expect(started.status).toBe(202);
    const end = await waitForUpgradeEnd(cp, started.body.upgradeId);
    expect(['failed', 'needs-attention']).toContain(end.status);
    expect(end.error).toMatch(/no approved agent/);
    expect(agent.lines.filter((l) => /agent: \w+ done/.test(l)).length).toBe(calls);

    const poll = await cp.api('POST', '/api/agents/poll', { registrationId, slug });
    expect(poll.status).toBe(403);
    expect(poll.body).toMatchObject({ status: 'revoked' });
  });
});
