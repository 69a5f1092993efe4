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
  const approve = (id: string, fingerprint: string) =>
    agents.approve(id, { decidedBy: 'test', certPem: 'cert', certSerial: fingerprint, certFingerprint: fingerprint, certNotAfter: new Date(Date.now() + 86_400_000), coreServices: ['api'] });

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
