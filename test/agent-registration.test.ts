/**
 * Registration and approval through the real API on a real database, with
 * real CSRs: invite codes (single use, expiry, hashed), the two rate limits,
 * reject, link an existing instance, and the remote driver's view of an
 * approved agent that does not answer; and the audit entry of each decision,
 * written in the decision's own transaction (issue 14).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CONTROL_PLANE_CN, createCsr, generateKeyPair, keyFingerprint256, sha256Hex } from '../core/pki.js';
import { caFingerprintOfInvite } from '../core/invite-code.js';
import pg from 'pg';
import { postFrom, startTestControlPlane, uniqueName, type TestControlPlane } from './support.js';

async function csrFor(slug: string) {
  return createCsr(slug, await generateKeyPair());
}

describe('agent registration and approval', () => {
  let cp: TestControlPlane;
  let caDir: string;

  beforeAll(async () => {
    // Polls per address: above what the per-registration test below sends from 127.0.0.1.
    caDir = await mkdtemp(path.join(os.tmpdir(), 'drydock-reg-ca-'));
    cp = await startTestControlPlane({ runWorker: false, caDir, agentRateLimits: { pollAddress: { max: 250, windowMs: 15 * 60_000 } } });
  });
  afterAll(async () => {
    await cp?.stop();
    if (caDir) await rm(caDir, { recursive: true, force: true });
  });

  // Any slug unless the test names one: each test registers slugs of its own making.
  const invite = async (body: object = {}) => {
    const res = await cp.api('POST', '/api/agents/invites', 'slug' in body ? body : { anySlug: true, ...body });
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
    // The slug has an instance: approval shows what it re-points, and needs confirming.
    const shown = await cp.api('POST', `/api/agents/registrations/${id}/approve`, {});
    expect(shown.status).toBe(409);
    const approved = (await cp.api('POST', `/api/agents/registrations/${id}/approve`, { confirmReplace: true })).body;
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
    const approved = await cp.api('POST', `/api/agents/registrations/${second}/approve`, { confirmReplace: true });
    expect(approved.body.instance.agentUrl).toBe('https://127.0.0.1:2');
    expect((await cp.api('GET', `/api/agents/registrations/${first}`)).body).toMatchObject({ status: 'revoked', reason: `superseded by registration ${second}` });
  });

  describe('trust and approval (issue 13)', () => {
    it('makes an invite for one slug unless any slug is asked for explicitly', async () => {
      const unbound = await cp.api('POST', '/api/agents/invites', {});
      expect(unbound.status).toBe(400);
      expect(JSON.stringify(unbound.body)).toMatch(/give the slug this invite is for, or anySlug: true/);
      expect((await cp.api('POST', '/api/agents/invites', { slug: 'both-ways', anySlug: true })).status).toBe(400);
      const bound = await cp.api('POST', '/api/agents/invites', { slug: 'one-slug' });
      expect([bound.status, bound.body.slug]).toEqual([201, 'one-slug']);
      const any = await cp.api('POST', '/api/agents/invites', { anySlug: true });
      expect([any.status, any.body.slug]).toEqual([201, null]);
    });

    it("puts the CA's fingerprint into the invite code, so the agent pins the CA from the code alone", async () => {
      const { body } = await cp.api('POST', '/api/agents/invites', { slug: uniqueName('fp') });
      const ca = await readFile(path.join(caDir, 'ca.crt'), 'utf8');
      expect(caFingerprintOfInvite(body.code)).toBe(new X509Certificate(ca).fingerprint256);
      expect(body.caFingerprint256).toBe(new X509Certificate(ca).fingerprint256);
    });

    it("never takes the control plane's own certificate name as a slug: not for an instance, an invite or a registration", async () => {
      expect((await cp.api('POST', '/api/instances', { slug: CONTROL_PLANE_CN, name: 'x', composeDir: '/srv/x' })).status).toBe(400);
      expect((await cp.api('POST', '/api/agents/invites', { slug: CONTROL_PLANE_CN })).status).toBe(400);
      const { code } = await invite();
      const reg = await register(code, CONTROL_PLANE_CN);
      expect(reg.status).toBe(400);
      expect(JSON.stringify(reg.body)).toContain(`not ${CONTROL_PLANE_CN}`);
      expect((await register(code, uniqueName('ok'))).status).toBe(201);
    });

    it('refuses control characters and line separators in instance and agent names at create', async () => {
      for (const name of ['two\nlines', 'esc\u001b[31mred', 'line\u2028sep', 'para\u2029sep', 'del\u007f', 'c1\u0085']) {
        const inst = await cp.api('POST', '/api/instances', { slug: uniqueName('nm'), name, composeDir: '/srv/nm' });
        expect(inst.status, JSON.stringify(name)).toBe(400);
        expect(JSON.stringify(inst.body)).toMatch(/control characters/);
        const { code } = await invite();
        const reg = await register(code, uniqueName('nm'), { name });
        expect(reg.status, JSON.stringify(name)).toBe(400);
      }
      const id = (await register((await invite()).code, uniqueName('nm'))).body.registrationId;
      const approve = await cp.api('POST', `/api/agents/registrations/${id}/approve`, { name: 'bad\u2028name' });
      expect(approve.status).toBe(400);
      expect((await cp.api('GET', `/api/agents/registrations/${id}`)).body.status).toBe('pending');
    });

    it('shows what approving would replace (old and new agent URL and key fingerprint) and changes nothing until confirmed', async () => {
      const slug = uniqueName('rep');
      const firstKeys = await generateKeyPair();
      const firstCsr = await createCsr(slug, firstKeys);
      const first = (await register((await invite()).code, slug, { csr: firstCsr, agentUrl: 'https://10.1.1.1:7443' })).body.registrationId;
      expect((await cp.api('POST', `/api/agents/registrations/${first}/approve`, {})).status).toBe(200);
      const secondCsr = await createCsr(slug, await generateKeyPair());
      const second = (await register((await invite()).code, slug, { csr: secondCsr, agentUrl: 'https://10.6.6.6:7443' })).body.registrationId;

      const shown = await cp.api('POST', `/api/agents/registrations/${second}/approve`, {});
      expect(shown.status).toBe(409);
      expect(shown.body.error).toMatch(/re-points the instance .* to https:\/\/10\.6\.6\.6:7443; confirm with confirmReplace: true/);
      const firstCert = (await cp.api('GET', `/api/agents/registrations/${first}`)).body;
      expect(shown.body.replaces).toEqual({
        slug,
        current: {
          instance: expect.objectContaining({ isRemote: true, agentUrl: 'https://10.1.1.1:7443' }),
          agent: { registrationId: first, agentUrl: 'https://10.1.1.1:7443', keyFingerprint256: keyFingerprint256(firstCsr), certFingerprint256: firstCert.certFingerprint },
        },
        replacement: { registrationId: second, agentUrl: 'https://10.6.6.6:7443', keyFingerprint256: keyFingerprint256(secondCsr) },
      });
      expect(keyFingerprint256(firstCsr)).not.toBe(keyFingerprint256(secondCsr));
      // The pending list shows the same key fingerprint, to compare with what the agent logged.
      expect((await cp.api('GET', `/api/agents/registrations/${second}`)).body.keyFingerprint256).toBe(keyFingerprint256(secondCsr));
      // Nothing moved: the instance still points at the first agent, which is still the approved one.
      expect((await cp.api('GET', `/api/agents/registrations/${first}`)).body.status).toBe('approved');
      expect((await cp.api('GET', `/api/agents/registrations/${second}`)).body.status).toBe('pending');
      const instances = (await cp.api('GET', '/api/instances')).body as { slug: string; agentUrl: string }[];
      expect(instances.find((i) => i.slug === slug)!.agentUrl).toBe('https://10.1.1.1:7443');

      const confirmed = await cp.api('POST', `/api/agents/registrations/${second}/approve`, { confirmReplace: true });
      expect(confirmed.status).toBe(200);
      expect(confirmed.body.instance.agentUrl).toBe('https://10.6.6.6:7443');
    });

    it('leaves exactly one approved agent when two approvals of one slug race, confirmed or not', async () => {
      for (const confirmReplace of [false, true]) {
        const slug = uniqueName('race');
        const ids = [
          (await register((await invite()).code, slug, { agentUrl: 'https://10.0.0.1:7443' })).body.registrationId,
          (await register((await invite()).code, slug, { agentUrl: 'https://10.0.0.2:7443' })).body.registrationId,
        ];
        const answers = await Promise.all(ids.map((id) => cp.api('POST', `/api/agents/registrations/${id}/approve`, { confirmReplace })));
        const statuses = answers.map((a) => a.status).sort();
        expect(statuses, `confirmReplace ${confirmReplace}`).toEqual(confirmReplace ? [200, 200] : [200, 409]);
        const approved = await cp.db.prisma.agentRegistration.findMany({ where: { slug, status: 'approved' } });
        expect(approved, `confirmReplace ${confirmReplace}`).toHaveLength(1);
        const instance = await cp.db.prisma.instance.findUniqueOrThrow({ where: { slug } });
        expect(instance.agentUrl).toBe(approved[0]!.agentUrl);
      }
    });

    it('limits polls per address too, whatever registration they name', async () => {
      const url = `${cp.url}/api/agents/poll`;
      for (let i = 1; i <= 250; i++) {
        const r = await postFrom('127.0.0.77', url, { registrationId: randomUUID(), slug: 'made-up' });
        if (r.status !== 404) throw new Error(`poll ${i} answered ${r.status}`);
      }
      const over = await postFrom('127.0.0.77', url, { registrationId: randomUUID(), slug: 'made-up' });
      expect(over.status).toBe(429);
      expect(over.body.error).toMatch(/polls from this address/);
      expect((await postFrom('127.0.0.78', url, { registrationId: randomUUID(), slug: 'made-up' })).status).toBe(404);
    });
  });

  describe('audit of agent decisions (issue 14)', () => {
    const entriesOf = (targetId: string) => cp.db.prisma.auditEntry.findMany({ where: { targetId }, orderBy: { id: 'asc' } });

    it('records invite, registration, approval (new, refused unconfirmed, confirmed replacement), rejection and revocation once each, with before and after', async () => {
      const slug = uniqueName('aud');
      // The harness's calls: its operator's API token.
      const harness = { actorKind: 'token', actorId: cp.operator.id, actorName: cp.operator.email, tokenName: 'tests', targetKind: 'agent' };

      const inv = await cp.api('POST', '/api/agents/invites', { slug, expiresInMinutes: 60 });
      expect(inv.status).toBe(201);
      const [invEntry, ...moreInv] = await entriesOf(inv.body.id);
      expect(moreInv).toEqual([]);
      expect(invEntry).toMatchObject({
        ...harness,
        action: 'invite.create',
        targetKind: 'invite',
        outcome: 'accepted',
        after: { slug, anySlug: false, expiresAt: new Date(inv.body.expiresAt).toISOString(), note: null, code: 'set' },
      });
      // The code itself is in no entry.
      const all = await cp.db.prisma.auditEntry.findMany();
      expect(JSON.stringify(all, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain(inv.body.code);

      const firstCsr = await csrFor(slug);
      const first = await register(inv.body.code, slug, { csr: firstCsr, agentUrl: 'https://10.2.2.1:7443' });
      expect(first.status).toBe(201);
      const firstId = first.body.registrationId as string;
      expect(await entriesOf(firstId)).toEqual([
        expect.objectContaining({
          actorKind: 'anonymous',
          action: 'agent.register',
          targetKind: 'agent',
          outcome: 'accepted',
          clientAddress: expect.stringMatching(/127\.0\.0\.\d+/),
          after: { slug, agentUrl: 'https://10.2.2.1:7443', composeDir: `/srv/${slug}`, composeProjectName: slug, status: 'pending', keyFingerprint256: keyFingerprint256(firstCsr) },
        }),
      ]);
      // A used code: refused with the reason, nothing registered.
      const reused = await register(inv.body.code, slug);
      expect(reused.status).toBe(403);
      const refusedRegs = (await cp.db.prisma.auditEntry.findMany({ where: { action: 'agent.register', outcome: 'refused' } })).filter((e) => (e.after as { slug?: string } | null)?.slug === slug);
      expect(refusedRegs).toEqual([expect.objectContaining({ actorKind: 'anonymous', reason: 'the invite code has been used already', targetId: null })]);

      // A new slug: nothing replaced.
      expect((await cp.api('POST', `/api/agents/registrations/${firstId}/approve`, {})).status).toBe(200);
      const firstCert = (await cp.db.prisma.agentRegistration.findUniqueOrThrow({ where: { id: firstId } })).certFingerprint!;
      const instance = await cp.db.prisma.instance.findUniqueOrThrow({ where: { slug } });
      const [approvedEntry, ...moreApproved] = (await entriesOf(firstId)).slice(1);
      expect(moreApproved).toEqual([]);
      expect(approvedEntry).toMatchObject({
        ...harness,
        action: 'agent.approve',
        outcome: 'accepted',
        before: { instance: null, agent: null, status: 'pending' },
        after: { registrationId: firstId, agentUrl: 'https://10.2.2.1:7443', keyFingerprint256: keyFingerprint256(firstCsr), certFingerprint256: firstCert, status: 'approved', instanceId: instance.id },
      });

      // A second agent for the slug: refused until confirmed, then the replaced URL and fingerprints before, the new ones after.
      const secondCsr = await csrFor(slug);
      const secondId = (await register((await invite({ slug })).code, slug, { csr: secondCsr, agentUrl: 'https://10.2.2.2:7443' })).body.registrationId as string;
      expect((await cp.api('POST', `/api/agents/registrations/${secondId}/approve`, {})).status).toBe(409);
      expect((await cp.api('POST', `/api/agents/registrations/${secondId}/approve`, { confirmReplace: true })).status).toBe(200);
      const secondCert = (await cp.db.prisma.agentRegistration.findUniqueOrThrow({ where: { id: secondId } })).certFingerprint!;
      const current = {
        instance: { id: instance.id, name: instance.name, isRemote: true, agentUrl: 'https://10.2.2.1:7443' },
        agent: { registrationId: firstId, agentUrl: 'https://10.2.2.1:7443', keyFingerprint256: keyFingerprint256(firstCsr), certFingerprint256: firstCert },
      };
      const replacement = { registrationId: secondId, agentUrl: 'https://10.2.2.2:7443', keyFingerprint256: keyFingerprint256(secondCsr) };
      const [, unconfirmed, confirmed, ...moreSecond] = await entriesOf(secondId);
      expect(moreSecond).toEqual([]);
      expect(unconfirmed).toMatchObject({ ...harness, action: 'agent.approve', outcome: 'refused', reason: expect.stringMatching(/confirm with confirmReplace: true/), before: current, after: replacement });
      expect(confirmed).toMatchObject({
        ...harness,
        action: 'agent.approve',
        outcome: 'accepted',
        reason: null,
        before: { ...current, status: 'pending' },
        after: { ...replacement, certFingerprint256: secondCert, status: 'approved', instanceId: instance.id },
      });
      expect(secondCert).not.toBe(firstCert);

      const thirdId = (await register((await invite({ slug })).code, slug)).body.registrationId as string;
      expect((await cp.api('POST', `/api/agents/registrations/${thirdId}/reject`, { reason: 'not ours' })).status).toBe(200);
      expect((await cp.api('POST', `/api/agents/registrations/${thirdId}/reject`, {})).status).toBe(409);
      const [, rejected, again, ...moreThird] = await entriesOf(thirdId);
      expect(moreThird).toEqual([]);
      expect(rejected).toMatchObject({ ...harness, action: 'agent.reject', outcome: 'accepted', before: { slug, status: 'pending' }, after: { slug, status: 'rejected', reason: 'not ours' } });
      expect(again).toMatchObject({ ...harness, action: 'agent.reject', outcome: 'refused', reason: `registration ${thirdId} is rejected, not pending`, before: { slug, status: 'rejected' } });

      expect((await cp.api('POST', `/api/agents/registrations/${secondId}/revoke`, { reason: 'host retired' })).status).toBe(200);
      const [revoked, ...moreRevoked] = (await entriesOf(secondId)).slice(3);
      expect(moreRevoked).toEqual([]);
      const agent = { slug, agentUrl: 'https://10.2.2.2:7443', certFingerprint256: secondCert };
      expect(revoked).toMatchObject({ ...harness, action: 'agent.revoke', outcome: 'accepted', before: { ...agent, status: 'approved' }, after: { ...agent, status: 'revoked', reason: 'host retired' } });

      const missing = randomUUID();
      expect((await cp.api('POST', `/api/agents/registrations/${missing}/revoke`, {})).status).toBe(404);
      expect(await entriesOf(missing)).toEqual([expect.objectContaining({ ...harness, action: 'agent.revoke', outcome: 'refused', reason: `no registration with id ${missing}` })]);
    });

    it('changes nothing when its audit entry cannot be written (a trigger added by the test refuses it inside the transaction)', async () => {
      const sql = new pg.Client({ connectionString: cp.db.url });
      await sql.connect();
      const failing = async (action: string | null) => {
        await sql.query('DELETE FROM audit_fail');
        if (action) await sql.query('INSERT INTO audit_fail VALUES ($1)', [action]);
      };
      try {
        await sql.query(`
          CREATE TABLE audit_fail (action text PRIMARY KEY);
          CREATE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF NEW.outcome = 'accepted' AND EXISTS (SELECT 1 FROM audit_fail WHERE action = NEW.action) THEN
              RAISE EXCEPTION 'test: the audit entry of % cannot be written', NEW.action;
            END IF;
            RETURN NEW;
          END $$;
          CREATE TRIGGER audit_fail BEFORE INSERT ON "AuditEntry" FOR EACH ROW EXECUTE FUNCTION audit_fail();`);
        const slug = uniqueName('atom');
        // Entries of this test only: other tests' refused invites come before.
        const since = (await cp.db.prisma.auditEntry.aggregate({ _max: { id: true } }))._max.id ?? 0n;
        const status = async (id: string) => (await cp.db.prisma.agentRegistration.findUniqueOrThrow({ where: { id } })).status;

        await failing('invite.create');
        expect((await cp.api('POST', '/api/agents/invites', { slug })).status).toBe(500);
        expect(await cp.db.prisma.agentInvite.count({ where: { slug } })).toBe(0);

        await failing('agent.register');
        const { id: inviteId, code } = await invite({ slug });
        expect((await register(code, slug)).status).toBe(500);
        expect(await cp.db.prisma.agentRegistration.count({ where: { slug } })).toBe(0);
        expect((await cp.db.prisma.agentInvite.findUniqueOrThrow({ where: { id: inviteId } })).usedAt).toBeNull();

        await failing('agent.approve');
        const firstId = (await register(code, slug, { agentUrl: 'https://10.3.3.1:7443' })).body.registrationId as string;
        expect((await cp.api('POST', `/api/agents/registrations/${firstId}/approve`, {})).status).toBe(500);
        expect(await status(firstId)).toBe('pending');
        expect(await cp.db.prisma.instance.count({ where: { slug } })).toBe(0);

        await failing(null);
        expect((await cp.api('POST', `/api/agents/registrations/${firstId}/approve`, {})).status).toBe(200);
        const secondId = (await register((await invite({ slug })).code, slug, { agentUrl: 'https://10.3.3.2:7443' })).body.registrationId as string;
        await failing('agent.approve');
        expect((await cp.api('POST', `/api/agents/registrations/${secondId}/approve`, { confirmReplace: true })).status).toBe(500);
        expect([await status(firstId), await status(secondId)]).toEqual(['approved', 'pending']);
        expect((await cp.db.prisma.instance.findUniqueOrThrow({ where: { slug } })).agentUrl).toBe('https://10.3.3.1:7443');

        await failing('agent.reject');
        expect((await cp.api('POST', `/api/agents/registrations/${secondId}/reject`, {})).status).toBe(500);
        expect(await status(secondId)).toBe('pending');

        await failing('agent.revoke');
        expect((await cp.api('POST', `/api/agents/registrations/${firstId}/revoke`, {})).status).toBe(500);
        expect(await status(firstId)).toBe('approved');
        expect((await cp.db.prisma.instance.findUniqueOrThrow({ where: { slug } })).agentUrl).toBe('https://10.3.3.1:7443');

        // None of the failed changes has an accepted entry; each failure is recorded as refused (by the request middleware).
        const entries = await cp.db.prisma.auditEntry.findMany({ where: { id: { gt: since }, OR: [{ targetId: { in: [firstId, secondId] } }, { action: 'invite.create', outcome: 'refused' }] }, orderBy: { id: 'asc' } });
        expect(entries.map((e) => [e.action, e.outcome, e.targetId === firstId ? 'first' : e.targetId === secondId ? 'second' : e.targetId])).toEqual([
          ['invite.create', 'refused', null],
          ['agent.register', 'accepted', 'first'],
          ['agent.approve', 'refused', 'first'],
          ['agent.approve', 'accepted', 'first'],
          ['agent.register', 'accepted', 'second'],
          ['agent.approve', 'refused', 'second'],
          ['agent.reject', 'refused', 'second'],
          ['agent.revoke', 'refused', 'first'],
        ]);
        expect(entries.filter((e) => e.outcome === 'refused').map((e) => e.reason)).toEqual(Array(5).fill('internal error; see the control-plane log'));
      } finally {
        await sql.query('DROP TRIGGER IF EXISTS audit_fail ON "AuditEntry"; DROP FUNCTION IF EXISTS audit_fail(); DROP TABLE IF EXISTS audit_fail');
        await sql.end();
      }
    });
  });
});
