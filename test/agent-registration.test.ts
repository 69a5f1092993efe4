/**
 * Registration and approval through the real API on a real database, with
 * real CSRs: invite codes (single use, expiry, hashed), the two rate limits,
 * reject, link an existing instance, and the remote driver's view of an
 * approved agent that does not answer.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCsr, generateKeyPair, sha256Hex } from '../core/pki.js';
import { startTestControlPlane, uniqueName, type TestControlPlane } from './support.js';

async function csrFor(slug: string) {
  return createCsr(slug, await generateKeyPair());
}

/** A POST from a chosen loopback source address, so the per-address limit can be exercised. */
function postFrom(localAddress: string, url: string, body: unknown) {
  return new Promise<{ status: number; retryAfter?: string; body: any }>((resolve, reject) => {
    const text = JSON.stringify(body);
    const u = new URL(url);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } },
      (res) => {
        let data = '';
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body: JSON.parse(data) }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

describe('agent registration and approval', () => {
  let cp: TestControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane({ runWorker: false });
  });
  afterAll(() => cp?.stop());

  const invite = async (body: object = {}) => {
    const res = await cp.api('POST', '/api/agents/invites', body);
    expect(res.status).toBe(201);
    return res.body as { id: string; code: string; expiresAt: string };
  };
  // Each registration from its own loopback address: the per-address limit (10) is exercised on its own below.
  let source = 10;
  const register = async (code: string, slug: string, extra: object = {}) =>
    postFrom(`127.0.0.${source++}`, `${cp.url}/api/agents/register`, {
      inviteCode: code,
      slug,
      csr: await csrFor(slug),
      agentUrl: 'https://127.0.0.1:1',
      composeDir: `/srv/${slug}`,
      ...extra,
    });

  it('keeps only a hash of each invite code', async () => {
    const { id, code } = await invite({ note: 'hashed' });
    const row = await cp.db.prisma.agentInvite.findUniqueOrThrow({ where: { id } });
    expect(row.codeHash).toBe(sha256Hex(code));
    expect(JSON.stringify(row)).not.toContain(code);
  });

  it('refuses an invite code once it has been used', async () => {
    const { code } = await invite();
    expect((await register(code, uniqueName('used'))).status).toBe(201);
    const again = await register(code, uniqueName('used'));
    expect(again.status).toBe(403);
    expect(again.body.error).toMatch(/used already/);
  });

  it('refuses an expired invite code, an unknown one, and one made for another slug', async () => {
    const expired = await invite({ expiresInMinutes: 5 });
    await cp.db.prisma.agentInvite.update({ where: { id: expired.id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    expect((await register(expired.code, uniqueName('exp'))).body.error).toMatch(/expired/);
    expect((await register('no-such-code', uniqueName('unk'))).body.error).toMatch(/not valid/);
    const bound = await invite({ slug: 'only-this-one' });
    const other = await register(bound.code, uniqueName('oth'));
    expect(other.status).toBe(403);
    expect(other.body.error).toMatch(/another slug/);
    expect((await register(bound.code, 'only-this-one')).status).toBe(201);
  });

  it('refuses a CSR that does not name the slug, without using up the invite', async () => {
    const { code } = await invite();
    const slug = uniqueName('csr');
    const wrong = await cp.api('POST', '/api/agents/register', { inviteCode: code, slug, csr: await csrFor('someone-else'), agentUrl: 'https://10.0.0.1:7443', composeDir: '/srv/x' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatch(/names someone-else/);
    expect((await register(code, slug)).status).toBe(201);
  });

  it('gives the 11th registration from one address within 15 minutes a 429 with Retry-After, and not another address', async () => {
    const url = `${cp.url}/api/agents/register`;
    const body = { inviteCode: 'guess', slug: 'guessing', csr: await csrFor('guessing'), agentUrl: 'https://127.0.0.1:1', composeDir: '/srv/g' };
    for (let i = 1; i <= 10; i++) expect((await postFrom('127.0.0.5', url, body)).status, `attempt ${i}`).toBe(403);
    const eleventh = await postFrom('127.0.0.5', url, body);
    expect(eleventh.status).toBe(429);
    expect(Number(eleventh.retryAfter)).toBeGreaterThan(850);
    expect(Number(eleventh.retryAfter)).toBeLessThanOrEqual(900);
    expect((await postFrom('127.0.0.6', url, body)).status).toBe(403);
  });

  it("holds poll's limit per registration and not across registrations", async () => {
    const slugA = uniqueName('pa');
    const slugB = uniqueName('pb');
    const a = (await register((await invite()).code, slugA)).body.registrationId;
    const b = (await register((await invite()).code, slugB)).body.registrationId;
    for (let i = 1; i <= 180; i++) {
      const r = await cp.api('POST', '/api/agents/poll', { registrationId: a, slug: slugA });
      if (r.status !== 200) throw new Error(`poll ${i} answered ${r.status}`);
    }
    const res = await fetch(`${cp.url}/api/agents/poll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ registrationId: a, slug: slugA }) });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const other = await cp.api('POST', '/api/agents/poll', { registrationId: b, slug: slugB });
    expect([other.status, other.body]).toEqual([200, { status: 'pending' }]);
  });

  it('tells a rejected agent so when it polls, and a decided registration cannot be decided again', async () => {
    const slug = uniqueName('rej');
    const id = (await register((await invite()).code, slug)).body.registrationId;
    const rejected = await cp.api('POST', `/api/agents/registrations/${id}/reject`, { reason: 'unknown host' });
    expect(rejected.body).toMatchObject({ status: 'rejected', decidedBy: cp.operator.email, reason: 'unknown host' });
    expect((await cp.api('POST', '/api/agents/poll', { registrationId: id, slug })).body).toEqual({ status: 'rejected', reason: 'unknown host' });
    expect((await cp.api('POST', `/api/agents/registrations/${id}/approve`, {})).status).toBe(409);
    expect((await cp.api('POST', `/api/agents/registrations/${id}/revoke`, {})).status).toBe(409);
    expect((await cp.api('POST', '/api/agents/poll', { registrationId: id, slug: 'not-its-slug' })).status).toBe(404);
  });

  it('links an existing instance on approval, records who approved, and hands the agent its certificate', async () => {
    const slug = uniqueName('lnk');
    const created = await cp.api('POST', '/api/instances', { slug, name: 'Existing', composeDir: '/srv/existing' });
    const id = (await register((await invite()).code, slug, { composeProjectName: 'existing_proj' })).body.registrationId;
    const approved = (await cp.api('POST', `/api/agents/registrations/${id}/approve`, {})).body;
    expect(approved.registration).toMatchObject({ status: 'approved', instanceId: created.body.id, decidedAt: expect.any(String) });
    expect(approved.registration.decidedBy).toBe(cp.operator.email);
    expect(approved.instance).toMatchObject({ id: created.body.id, name: 'Existing', isRemote: true, isRegistered: true, agentUrl: 'https://127.0.0.1:1', composeProjectName: 'existing_proj' });
    const poll = await cp.api('POST', '/api/agents/poll', { registrationId: id, slug });
    expect(poll.body.status).toBe('approved');
    expect(poll.body.certificate).toMatch(/BEGIN CERTIFICATE/);
    expect(poll.body.caCertificate).toMatch(/BEGIN CERTIFICATE/);
  });

  it('names the agent URL when an approved agent does not answer', async () => {
    const slug = uniqueName('dwn');
    const id = (await register((await invite()).code, slug)).body.registrationId;
    const approved = await cp.api('POST', `/api/agents/registrations/${id}/approve`, {});
    const preview = await cp.api('POST', `/api/instances/${approved.body.instance.id}/upgrade-release/preview`, { imageTag: '1.0.0' });
    expect(preview.status).toBeGreaterThanOrEqual(400);
    expect(preview.body.error).toMatch(/the agent at https:\/\/127\.0\.0\.1:1 is unreachable/);
  });

  it('supersedes the earlier approved agent of a slug when a new registration of it is approved', async () => {
    const slug = uniqueName('sup');
    const first = (await register((await invite()).code, slug)).body.registrationId;
    await cp.api('POST', `/api/agents/registrations/${first}/approve`, {});
    const second = (await register((await invite()).code, slug, { agentUrl: 'https://127.0.0.1:2' })).body.registrationId;
    const approved = await cp.api('POST', `/api/agents/registrations/${second}/approve`, {});
    expect(approved.body.instance.agentUrl).toBe('https://127.0.0.1:2');
    expect((await cp.api('GET', `/api/agents/registrations/${first}`)).body).toMatchObject({ status: 'revoked', reason: `superseded by registration ${second}` });
  });
});
