/**
 * Agent notifications with a real agent process: its registration waits for
 * approval (one event), and once approved and then stopped, the agent watch
 * (a real Temporal workflow pinging over mTLS) reports it offline past the
 * threshold, once per outage.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../core/notifications.js';
import { spawnAgentProcess, type AgentProcess } from './harness/agent-process.js';
import { startTestControlPlane, uniqueName, waitFor, type TestControlPlane } from './support.js';

describe('agent notifications from a real agent process', () => {
  let cp: TestControlPlane;
  let agent: AgentProcess;
  let work: string;
  let server: Server;
  let endpointId: string;
  const bodies: { type: string; raw: string; ts: string; sig: string }[] = [];
  const secret = `agent-hook-${uniqueName('')}${uniqueName('')}`;
  const slug = uniqueName('agentnotify');

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        bodies.push({ type: JSON.parse(raw).type, raw, ts: String(req.headers['x-drydock-timestamp']), sig: String(req.headers['x-drydock-signature']) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    work = await mkdtemp(path.join(tmpdir(), 'drydock-agent-notify-'));
    // Pinged every second; offline after 3 s without an answer.
    cp = await startTestControlPlane({ caDir: path.join(work, 'ca'), notifications: { agentCheckIntervalMs: 1_000, agentOfflineAfterMs: 3_000 } });
    const created = await cp.api('POST', '/api/notifications/endpoints', {
      name: 'agents',
      kind: 'webhook',
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/agents`,
      secret,
      events: ['agent.awaiting-approval', 'agent.offline'],
    });
    expect(created.status).toBe(201);
    endpointId = created.body.id;
  });

  afterAll(async () => {
    await agent?.stop();
    if (endpointId) await cp?.api('DELETE', `/api/notifications/endpoints/${endpointId}`);
    await cp?.temporal.workflow.getHandle(`agent-watch-${cp.taskQueue}`).terminate('test over').catch(() => undefined);
    await cp?.stop();
    await new Promise((r) => server?.close(r));
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('tells the admins that a registered agent waits for approval', async () => {
    const invite = await cp.api('POST', '/api/agents/invites', { expiresInMinutes: 30, slug });
    expect(invite.status).toBe(201);
    agent = spawnAgentProcess([
      '--ccp-url', cp.url,
      '--insecure-http',
      '--invite-code', invite.body.code,
      '--slug', slug,
      '--dir', path.join(work, 'tenant'),
      '--listen', '127.0.0.1:0',
      '--state-dir', path.join(work, 'agent-state'),
      '--ca-fingerprint', invite.body.caFingerprint256,
      '--poll-ms', '100',
      '--backoff-ms', '100,200,400,1000',
    ]);
    const registrationId = (await agent.waitForLine(/registered \(registration ([0-9a-f-]{36})\)/))[1]!;
    const got = await waitFor('agent.awaiting-approval', async () => bodies.find((b) => b.type === 'agent.awaiting-approval'), 60_000);
    const event = JSON.parse(got.raw);
    expect(event.details).toMatchObject({ registrationId, slug });
    expect(event.links.ui).toBe(`${cp.url}/agents`);
    expect(verifySignature(secret, got.ts, got.raw, got.sig, Math.floor(Date.now() / 1000), 600)).toBe(true);

    const approved = await cp.api('POST', `/api/agents/registrations/${registrationId}/approve`, {});
    expect(approved.status).toBe(200);
    await agent.waitForLine(/approved; serving/);
  }, 120_000);

  it('reports the agent offline once it has not answered past the threshold, once per outage', async () => {
    // Answering: the watch records contact and stays quiet.
    await waitFor('a contact with the agent', async () => (await cp.db.prisma.agentContact.findFirst({ where: { lastError: null } })) ?? undefined, 30_000);
    expect(bodies.filter((b) => b.type === 'agent.offline')).toEqual([]);
    await agent.stop();
    const got = await waitFor('agent.offline', async () => bodies.find((b) => b.type === 'agent.offline'), 60_000);
    const event = JSON.parse(got.raw);
    expect(event.instance.slug).toBe(slug);
    expect(event.summary).toMatch(new RegExp(`${slug}: its agent has not been reached`));
    expect(event.details.error).toBeTruthy();
    // More checks of the same outage add nothing.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(bodies.filter((b) => b.type === 'agent.offline')).toHaveLength(1);
  }, 120_000);
});
