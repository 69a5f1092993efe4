/**
 * Notifications end to end: the real control plane (API, worker, Temporal dev
 * server, PostgreSQL), a real Docker Compose tenant, and a real HTTP receiver
 * on loopback that refuses the first requests on each path. Every event must
 * arrive once it accepts, once, in order, signed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../core/notifications.js';
import { buildAndPushImage, registryAddress } from './harness/images.js';
import { APP_SERVICES, createTenant, type Tenant } from './harness/tenant.js';
import { startTestControlPlane, uniqueName, waitFor, waitForUpgradeEnd, waitForUpgradeStatus, type TestControlPlane } from './support.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** Answers 503 to the first `refuse` requests of each path, then 200; keeps every request. */
async function startReceiver(refuse: number): Promise<{ server: Server; url: string; received: Received[]; accepted(path: string): Received[] }> {
  const received: Received[] = [];
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const n = (seen.get(path) ?? 0) + 1;
      seen.set(path, n);
      const answered = n <= refuse ? 503 : 200;
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered });
      res.writeHead(answered).end(answered === 200 ? 'ok' : 'down for maintenance');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, received, accepted: (p) => received.filter((r) => r.path === p && r.answered === 200) };
}

describe('notifications delivered durably to a real receiver', () => {
  let cp: TestControlPlane;
  let tenant: Tenant;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let instanceId: string;
  let tag: string;
  const logs: string[] = [];
  const secret = `whsec-${uniqueName('')}${uniqueName('')}`;
  // A Slack webhook URL's path is its credential: it must never be answered or logged either.
  const slackPath = `/services/T0${uniqueName('')}/B0${uniqueName('')}/${uniqueName('slacktoken')}`;
  const endpoints: Record<string, string> = {};

  beforeAll(async () => {
    const appRepo = `${registryAddress()}/drydock/notify-app`;
    tag = uniqueName('t');
    const infraImage = `${registryAddress()}/drydock/notify-infra:${uniqueName('i')}`;
    [cp, receiver] = await Promise.all([
      startTestControlPlane({ log: (m) => void logs.push(m) }),
      startReceiver(2),
      buildAndPushImage(`${appRepo}:${tag}`, 'notify one'),
      buildAndPushImage(infraImage, 'infra'),
    ]);
    tenant = await createTenant({ project: uniqueName('notify'), imageTag: tag, appImage: appRepo, infraImage });
    await tenant.up();
    const created = await cp.api('POST', '/api/instances', {
      slug: tenant.project,
      name: 'Notified tenant',
      composeDir: tenant.dir,
      composeProjectName: tenant.project,
      imageTag: tag,
    });
    expect(created.status).toBe(201);
    instanceId = created.body.id;
    expect((await cp.api('PATCH', `/api/instances/${instanceId}`, { labels: ['eu', 'canary'] })).status).toBe(200);
  });

  afterAll(async () => {
    // Deleted endpoints end their delivery workflows on the shared Temporal server.
    for (const id of Object.values(endpoints)) await cp?.api('DELETE', `/api/notifications/endpoints/${id}`);
    await tenant?.down();
    await cp?.stop();
    await new Promise((r) => receiver?.server.close(r));
  });

  it('lets an admin add endpoints, answering neither the secret nor the URL, and refuses bad ones naming the field', async () => {
    const upgradeEvents = ['upgrade.parked', 'upgrade.failed', 'upgrade.succeeded', 'upgrade.rolled-back', 'rollout.finished'];
    const noSecret = await cp.api('POST', '/api/notifications/endpoints', { name: 'no secret', kind: 'webhook', url: `${receiver.url}/x`, events: upgradeEvents });
    expect(noSecret.status).toBe(400);
    expect(noSecret.body.error).toMatch(/secret/);
    const badUrl = await cp.api('POST', '/api/notifications/endpoints', { name: 'bad', kind: 'webhook', url: 'file:///etc/passwd', secret, events: upgradeEvents });
    expect(badUrl.status).toBe(400);
    expect(badUrl.body.error).toMatch(/url/);
    const badEvent = await cp.api('POST', '/api/notifications/endpoints', { name: 'bad', kind: 'webhook', url: `${receiver.url}/x`, secret, events: ['upgrade.exploded'] });
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.error).toMatch(/events/);

    const eu = await cp.api('POST', '/api/notifications/endpoints', { name: 'eu ops', kind: 'webhook', url: `${receiver.url}/hook-eu`, secret, events: upgradeEvents, labels: ['eu'] });
    expect(eu.status).toBe(201);
    expect(eu.body).toMatchObject({ kind: 'webhook', urlOrigin: receiver.url, secret: 'set', labels: ['eu'], createdBy: cp.operator.email });
    endpoints.eu = eu.body.id;
    const us = await cp.api('POST', '/api/notifications/endpoints', { name: 'us ops', kind: 'webhook', url: `${receiver.url}/hook-us`, secret, events: upgradeEvents, labels: ['us'] });
    expect(us.status).toBe(201);
    endpoints.us = us.body.id;
    const slack = await cp.api('POST', '/api/notifications/endpoints', { name: 'slack', kind: 'slack', url: `${receiver.url}${slackPath}`, events: ['upgrade.parked'] });
    expect(slack.status).toBe(201);
    expect(slack.body).toMatchObject({ kind: 'slack', secret: 'unset', urlOrigin: receiver.url });
    endpoints.slack = slack.body.id;

    const listed = await cp.api('GET', '/api/notifications/endpoints');
    expect(listed.body.map((e: { id: string }) => e.id)).toEqual([endpoints.eu, endpoints.us, endpoints.slack]);
    for (const answer of [eu, us, slack, listed, await cp.api('GET', `/api/notifications/endpoints/${endpoints.eu}`)]) {
      expect(JSON.stringify(answer.body)).not.toContain(secret);
      expect(JSON.stringify(answer.body)).not.toContain(slackPath);
    }
  });

  it('refuses every notification route to an operator who is not an admin', async () => {
    const op = await cp.createOperator(undefined, undefined, 'operator');
    const as = (method: string, path: string, body?: unknown) =>
      cp.request(method, path, { headers: { authorization: `Bearer ${op.token}` }, ...(body ? { body } : {}) });
    expect((await as('GET', '/api/notifications/endpoints')).status).toBe(403);
    expect((await as('GET', `/api/notifications/endpoints/${endpoints.eu}/deliveries`)).status).toBe(403);
    const add = await as('POST', '/api/notifications/endpoints', { name: 'mine', kind: 'slack', url: 'https://hooks.example.com/x', events: ['upgrade.parked'] });
    expect(add.status).toBe(403);
    expect(add.body.error).toMatch(/needs the admin role/);
    expect((await as('DELETE', `/api/notifications/endpoints/${endpoints.eu}`)).status).toBe(403);
    expect((await cp.anon('GET', '/api/notifications/endpoints')).status).toBe(401);
  });

  it('delivers a parked, a failed and a succeeded upgrade and a finished rollout once each, in order, signed, after the receiver refused the first tries', async () => {
    // A core service the compose file lacks: the preflight fails for good and the upgrade parks.
    expect((await cp.api('PATCH', `/api/instances/${instanceId}`, { coreServices: [...APP_SERVICES, 'ghost'] })).status).toBe(200);
    const parkedStart = await cp.api('POST', `/api/instances/${instanceId}/upgrade-images`, { imageTag: tag });
    expect(parkedStart.status).toBe(202);
    const parked = await waitForUpgradeEnd(cp, parkedStart.body.upgradeId);
    expect(parked.status).toBe('needs-attention');
    expect((await cp.api('POST', `/api/upgrades/${parkedStart.body.upgradeId}/abort`)).status).toBe(202);
    await waitForUpgradeStatus(cp, parkedStart.body.upgradeId, ['failed']);

    expect((await cp.api('PATCH', `/api/instances/${instanceId}`, { coreServices: [...APP_SERVICES] })).status).toBe(200);
    const rollout = await cp.api('POST', '/api/rollouts', { mode: 'image-only', imageTag: tag, target: { instanceIds: [instanceId] }, waves: [1] });
    expect(rollout.status).toBe(202);
    const rolloutId = rollout.body.rolloutId as string;

    const eu = await waitFor('four events accepted at /hook-eu', async () => (receiver.accepted('/hook-eu').length >= 4 ? receiver.accepted('/hook-eu') : undefined), 200_000, 250);
    const bodies = eu.map((r) => JSON.parse(r.body));
    expect(bodies.map((b) => b.type)).toEqual(['upgrade.parked', 'upgrade.failed', 'upgrade.succeeded', 'rollout.finished']);
    // Once each: no event id accepted twice, ids increasing (the order they happened).
    const ids = bodies.map((b) => Number(b.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    // The receiver was down for the first two tries of this path: the first event was refused twice, then accepted.
    const euAll = receiver.received.filter((r) => r.path === '/hook-eu');
    expect(euAll.slice(0, 2).map((r) => r.answered)).toEqual([503, 503]);
    expect(JSON.parse(euAll[0]!.body).type).toBe('upgrade.parked');

    const now = Math.floor(Date.now() / 1000);
    for (const r of eu) {
      expect(r.headers['content-type']).toBe('application/json');
      const ts = String(r.headers['x-drydock-timestamp']);
      const sig = String(r.headers['x-drydock-signature']);
      expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(verifySignature(secret, ts, r.body, sig, now, 600)).toBe(true);
      // A signature does not survive a changed body or another secret.
      expect(verifySignature(secret, ts, r.body.replace('"id":"', '"id":"9'), sig, now, 600)).toBe(false);
      expect(verifySignature(`${secret}x`, ts, r.body, sig, now, 600)).toBe(false);
      expect(r.body).not.toContain(secret);
    }
    const [park, failed, succeeded, finished] = bodies;
    // Kept for people to read (git ignores artifacts/): the parked upgrade's request as the receiver got it.
    const dir = path.join(import.meta.dirname, '..', 'artifacts', 'notifications');
    await mkdir(dir, { recursive: true });
    const h = eu[0]!.headers;
    const head = ['content-type', 'x-drydock-event', 'x-drydock-delivery', 'x-drydock-timestamp', 'x-drydock-signature'].map((k) => `${k}: ${String(h[k])}`);
    await writeFile(path.join(dir, 'upgrade-parked.http'), `POST /hook-eu\n${head.join('\n')}\n\n${JSON.stringify(park, null, 2)}\n`);
    expect(park).toMatchObject({
      instance: { id: instanceId, slug: tenant.project, labels: ['eu', 'canary'] },
      details: { upgradeId: parkedStart.body.upgradeId, step: 'preflight', mode: 'image-only', imageTag: tag },
      links: { ui: `${cp.url}/instances/${instanceId}` },
    });
    expect(park.details.error).toMatch(/ghost/);
    expect(park.summary).toMatch(/parked at preflight/);
    expect(park.links.temporal).toContain(`/workflows/${encodeURIComponent(parkedStart.body.workflowId)}/`);
    expect(failed.details).toMatchObject({ upgradeId: parkedStart.body.upgradeId, status: 'failed' });
    expect(failed.details.error).toMatch(/aborted/);
    expect(succeeded.details).toMatchObject({ status: 'succeeded', requestedBy: `rollout ${rolloutId} by ${cp.operator.email}` });
    expect(finished).toMatchObject({ type: 'rollout.finished', details: { rolloutId, status: 'succeeded', updated: 1, failed: 0 }, links: { ui: `${cp.url}/rollouts/${rolloutId}` } });

    // The label filter: the "us" endpoint gets the rollout (no single instance), none of the eu instance's upgrades.
    const us = await waitFor('the rollout at /hook-us', async () => (receiver.accepted('/hook-us').length >= 1 ? receiver.accepted('/hook-us') : undefined), 60_000, 250);
    expect(us.map((r) => JSON.parse(r.body).type)).toEqual(['rollout.finished']);

    // Slack's format: text and blocks, the step and the error, the links.
    const [slackMsg] = await waitFor('the parked upgrade at the Slack URL', async () => (receiver.accepted(slackPath).length >= 1 ? receiver.accepted(slackPath) : undefined), 60_000, 250);
    const slack = JSON.parse(slackMsg!.body);
    expect(slack.text).toMatch(new RegExp(`${tenant.project} to ${tag} parked at preflight`));
    expect(slack.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: `*${slack.text}*` } });
    expect(slack.blocks[1].text.text).toContain('*step*: preflight');
    expect(slack.blocks[2].elements[0].text).toContain(`<${cp.url}/instances/${instanceId}|Open in drydock>`);
    expect(slackMsg!.headers['x-drydock-signature']).toBeUndefined();

    // The deliveries as the UI shows them: attempts, the last error of the refused tries, when delivered.
    const deliveries = await cp.api('GET', `/api/notifications/endpoints/${endpoints.eu}/deliveries`);
    expect(deliveries.status).toBe(200);
    const byType = Object.fromEntries(deliveries.body.map((d: { eventType: string }) => [d.eventType, d]));
    expect(byType['upgrade.parked']).toMatchObject({ status: 'delivered', attempts: 3, responseStatus: 200, lastError: null, instanceSlug: tenant.project });
    expect(byType['upgrade.parked'].deliveredAt).toBeTruthy();
    expect(byType['upgrade.succeeded']).toMatchObject({ status: 'delivered', attempts: 1 });
  }, 300_000);

  it('sends a test event to one endpoint, and records what it failed with while the receiver refused it', async () => {
    const sent = await cp.api('POST', `/api/notifications/endpoints/${endpoints.us}/test`);
    expect(sent.status).toBe(202);
    const got = await waitFor('the test event at /hook-us', async () => receiver.accepted('/hook-us').find((r) => JSON.parse(r.body).type === 'test'), 60_000, 250);
    expect(JSON.parse(got.body).summary).toMatch(/test notification for us ops/);
    // The refused tries of /hook-us were recorded on its first delivery: HTTP 503, the origin only.
    const deliveries = (await cp.api('GET', `/api/notifications/endpoints/${endpoints.us}/deliveries`)).body as { eventType: string; attempts: number }[];
    expect(deliveries.map((d) => d.eventType)).toEqual(['test', 'rollout.finished']);
    expect(deliveries[1]!.attempts).toBe(3);
  });

  it('keeps the secret and the Slack URL out of the audit log and the control plane log', async () => {
    const audit = await cp.api('GET', '/api/audit?action=notification.*');
    expect(audit.body.entries.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['notification.create', 'notification.test']));
    const created = audit.body.entries.find((e: { action: string; targetId: string }) => e.action === 'notification.create' && e.targetId === endpoints.eu);
    expect(created.after).toMatchObject({ secret: 'set', urlOrigin: receiver.url, labels: ['eu'] });
    const changed = await cp.api('PATCH', `/api/notifications/endpoints/${endpoints.eu}`, { secret: `${secret}-rotated`, name: 'eu ops (rotated)' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ name: 'eu ops (rotated)', secret: 'set' });
    const all = JSON.stringify((await cp.api('GET', '/api/audit?action=notification.*')).body);
    expect(all).toContain('"secret":"changed"');
    for (const hidden of [secret, slackPath]) {
      expect(all).not.toContain(hidden);
      expect(logs.join('\n')).not.toContain(hidden);
    }
  });
});
