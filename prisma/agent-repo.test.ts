/**
 * The agent repository's answer to "which agent may the control plane call
 * for this slug" (asked before every remote call), on the real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/support.js';
import { openDatabase, type Database } from './db.js';
import { createAgentRepo, type NewRegistration } from './repositories.js';

describe('approvedAgent', () => {
  let drop: () => Promise<void>;
  let db: Database;
  let agents: ReturnType<typeof createAgentRepo>;
  let n = 0;

  beforeAll(async () => {
    const t = await createTestDatabase();
    drop = t.drop;
    db = await openDatabase({ url: t.url });
    agents = createAgentRepo(db.prisma);
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  const registration = async (slug: string, agentUrl: string) => {
    const codeHash = `hash-${slug}-${n++}`;
    await agents.createInvite({ codeHash, expiresAt: new Date(Date.now() + 60_000) });
    const data: NewRegistration = { slug, name: slug, agentUrl, composeDir: `/srv/${slug}`, composeProjectName: slug, csrPem: 'csr', clientAddress: null };
    const r = await agents.register(codeHash, data);
    if (!('registration' in r)) throw new Error(`refused: ${r.refused}`);
    return r.registration.id;
  };
  const approve = async (id: string, fingerprint: string, confirmReplace = true) => {
    const a = await agents.approve(id, {
      decidedBy: 'test',
      certPem: 'cert',
      certSerial: fingerprint,
      certFingerprint: fingerprint,
      certNotAfter: new Date(Date.now() + 86_400_000),
      coreServices: ['api'],
      confirmReplace,
    });
    return a && 'instance' in a ? a : undefined;
  };

  it('is nothing until an operator approves, then the approved URL and certificate fingerprint', async () => {
    const id = await registration('acme', 'https://acme-host:7443');
    expect(await agents.approvedAgent('acme')).toBeUndefined();
    await approve(id, 'AA:01');
    expect(await agents.approvedAgent('acme')).toEqual({ agentUrl: 'https://acme-host:7443', fingerprint256: 'AA:01' });
    expect(await agents.approvedAgent('other')).toBeUndefined();
  });

  it('follows a new approval of the slug (the earlier one is superseded) and the instance’s own agent URL', async () => {
    const id = await registration('acme', 'https://acme-new:7443');
    const approved = await approve(id, 'AA:02');
    expect(await agents.approvedAgent('acme')).toEqual({ agentUrl: 'https://acme-new:7443', fingerprint256: 'AA:02' });
    await db.prisma.instance.update({ where: { id: approved!.instance.id }, data: { agentUrl: 'https://acme-moved:7443' } });
    expect(await agents.approvedAgent('acme')).toEqual({ agentUrl: 'https://acme-moved:7443', fingerprint256: 'AA:02' });
  });

  it('is nothing once revoked', async () => {
    const [current] = await db.prisma.agentRegistration.findMany({ where: { slug: 'acme', status: 'approved' } });
    await agents.revoke(current!.id, 'test', 'retired');
    expect(await agents.approvedAgent('acme')).toBeUndefined();
  });
});

describe('approvals racing on one slug', () => {
  let drop: () => Promise<void>;
  let db: Database;
  let agents: ReturnType<typeof createAgentRepo>;
  let n = 0;

  beforeAll(async () => {
    const t = await createTestDatabase();
    drop = t.drop;
    db = await openDatabase({ url: t.url });
    agents = createAgentRepo(db.prisma);
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  const registration = async (slug: string) => {
    const codeHash = `race-${slug}-${n++}`;
    await agents.createInvite({ codeHash, expiresAt: new Date(Date.now() + 60_000), slug });
    const r = await agents.register(codeHash, { slug, name: slug, agentUrl: `https://${slug}-${n}:7443`, composeDir: `/srv/${slug}`, composeProjectName: slug, csrPem: 'csr', clientAddress: null });
    if (!('registration' in r)) throw new Error(`refused: ${r.refused}`);
    return r.registration.id;
  };
  const approval = (fingerprint: string, confirmReplace: boolean) => ({
    decidedBy: 'test',
    certPem: 'cert',
    certSerial: fingerprint,
    certFingerprint: fingerprint,
    certNotAfter: new Date(Date.now() + 86_400_000),
    coreServices: ['api'],
    confirmReplace,
  });

  it('leaves exactly one approved agent when confirmed approvals of two registrations of a slug run at once', async () => {
    for (let round = 0; round < 8; round++) {
      const slug = `race-confirmed-${round}`;
      const [a, b] = [await registration(slug), await registration(slug)];
      const results = await Promise.allSettled([agents.approve(a, approval(`A${round}`, true)), agents.approve(b, approval(`B${round}`, true))]);
      expect(results.map((r) => r.status), slug).toEqual(['fulfilled', 'fulfilled']);
      const approved = await db.prisma.agentRegistration.findMany({ where: { slug, status: 'approved' } });
      expect(approved, slug).toHaveLength(1);
      const instance = await db.prisma.instance.findUniqueOrThrow({ where: { slug } });
      expect(instance.agentUrl, slug).toBe(approved[0]!.agentUrl);
    }
  });

  it('approves one and shows the other what it would replace when neither confirmed', async () => {
    const slug = 'race-unconfirmed';
    const [a, b] = [await registration(slug), await registration(slug)];
    const [ra, rb] = await Promise.all([agents.approve(a, approval('A', false)), agents.approve(b, approval('B', false))]);
    const won = [ra, rb].filter((r) => r && 'instance' in r);
    const shown = [ra, rb].filter((r) => r && 'replaces' in r);
    expect([won.length, shown.length]).toEqual([1, 1]);
    const winner = won[0] as { registration: { id: string; agentUrl: string } };
    expect((shown[0] as { replaces: { agent?: { id: string } } }).replaces.agent?.id).toBe(winner.registration.id);
    expect(await db.prisma.agentRegistration.count({ where: { slug, status: 'approved' } })).toBe(1);
  });
});
