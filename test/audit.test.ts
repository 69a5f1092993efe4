/**
 * The audit log on the real control plane and real PostgreSQL: rows cannot be
 * changed or removed even with SQL (a trigger), settings are recorded before
 * and after, upgrade actions name who did them (also in the instance's
 * history), and GET /api/audit filters, pages with a cursor and exports CSV
 * and NDJSON.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../api/audit.js';
import { sessionOf, startTestControlPlane, uniqueName, waitForUpgradeStatus, type TestControlPlane } from './support.js';

describe('the audit log', () => {
  let cp: TestControlPlane;
  let dir: string;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-audit-'));
  });
  afterAll(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('cannot be changed or deleted, not even with SQL', async () => {
    await createAuditLog(cp.db.prisma).write({ actorKind: 'system', actorName: 'test', action: 'test.append', outcome: 'accepted' });
    const client = new pg.Client({ connectionString: cp.db.url });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT id FROM "AuditEntry" WHERE action = 'test.append'`);
      expect(rows).toHaveLength(1);
      await expect(client.query(`UPDATE "AuditEntry" SET outcome = 'refused' WHERE id = $1`, [rows[0].id])).rejects.toThrow(/append-only: UPDATE/);
      await expect(client.query(`DELETE FROM "AuditEntry" WHERE id = $1`, [rows[0].id])).rejects.toThrow(/append-only: DELETE/);
      await expect(client.query(`TRUNCATE "AuditEntry"`)).rejects.toThrow(/append-only: TRUNCATE/);
      expect((await client.query(`SELECT outcome FROM "AuditEntry" WHERE id = $1`, [rows[0].id])).rows).toEqual([{ outcome: 'accepted' }]);
      // Prisma, as the product would use it, is refused the same way.
      await expect(cp.db.prisma.auditEntry.deleteMany({})).rejects.toThrow(/append-only/);
    } finally {
      await client.end();
    }
  });

  it('records an instance tag change with before and after, and who started and cancelled an upgrade', async () => {
    const inst = await cp.api('POST', '/api/instances', { slug: uniqueName('audit-'), name: 'Audit', composeDir: dir, imageTag: '1.0.0' });
    expect(inst.status).toBe(201);
    const other = await cp.createOperator(undefined, undefined, 'operator');
    const session = await sessionOf(cp, other);
    expect((await cp.request('PATCH', `/api/instances/${inst.body.id}`, { headers: session, body: { imageTag: '1.1.0' } })).status).toBe(200);

    const audit = createAuditLog(cp.db.prisma);
    const [tag] = (await audit.list({ targetKind: 'instance', targetId: inst.body.id, action: 'instance.update' })).entries;
    expect(tag).toMatchObject({
      actorKind: 'operator',
      actorName: other.email,
      outcome: 'accepted',
      clientAddress: expect.stringMatching(/127\.0\.0\.1/),
      before: { imageTag: '1.0.0', labels: [] },
      after: { imageTag: '1.1.0', labels: [] },
    });

    const started = await cp.api('POST', `/api/instances/${inst.body.id}/upgrade-images`, {});
    expect(started.status).toBe(202);
    expect((await cp.request('POST', `/api/upgrades/${started.body.upgradeId}/cancel`, { headers: session })).status).toBe(202);
    await waitForUpgradeStatus(cp, started.body.upgradeId, ['cancelled', 'failed']);
    // Nothing is parked: a retry is refused by the workflow's state, and recorded as refused with the reason.
    const refused = await cp.api('POST', `/api/upgrades/${started.body.upgradeId}/retry`);
    expect(refused.status).toBe(409);

    const { entries } = await audit.list({ targetKind: 'upgrade', targetId: started.body.upgradeId });
    expect(entries.map((e) => [e.action, e.outcome, e.actorName])).toEqual([
      ['upgrade.retry', 'refused', cp.operator.email],
      ['upgrade.cancel', 'accepted', other.email],
      ['upgrade.start', 'accepted', cp.operator.email],
    ]);
    expect(entries[0]!.reason).toMatch(/has ended/);
    expect(entries[2]).toMatchObject({ actorKind: 'token', tokenName: 'tests', after: { mode: 'image-only', imageTag: '1.1.0' } });

    const history = await cp.api('GET', `/api/instances/${inst.body.id}/upgrades`);
    expect(history.body[0].actions.map((a: { action: string; by: string }) => `${a.action} by ${a.by}`)).toEqual([
      `start by ${cp.operator.email}`,
      `cancel by ${other.email}`,
    ]);
  });

  it('filters by actor, action, target and time, pages with a cursor, and exports CSV and NDJSON', async () => {
    const audit = createAuditLog(cp.db.prisma);
    const actor = `${uniqueName('pager-')}@drydock.test`;
    for (let n = 0; n < 5; n++) {
      await audit.write({ actorKind: 'system', actorName: actor, action: n % 2 ? 'test.odd' : 'test.even', targetKind: 'instance', targetId: `t${n}`, outcome: 'accepted', reason: n === 4 ? '=HYPERLINK("x"), "quoted"' : null });
    }
    const page1 = await cp.api('GET', `/api/audit?actor=${encodeURIComponent(actor)}&limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.entries.map((e: { targetId: string }) => e.targetId)).toEqual(['t4', 't3']);
    const page2 = await cp.api('GET', `/api/audit?actor=${encodeURIComponent(actor)}&limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.entries.map((e: { targetId: string }) => e.targetId)).toEqual(['t2', 't1']);
    const page3 = await cp.api('GET', `/api/audit?actor=${encodeURIComponent(actor)}&limit=2&cursor=${page2.body.nextCursor}`);
    expect(page3.body).toMatchObject({ entries: [{ targetId: 't0' }], nextCursor: null });

    expect((await cp.api('GET', `/api/audit?actor=${encodeURIComponent(actor)}&action=test.odd`)).body.entries).toHaveLength(2);
    expect((await cp.api('GET', `/api/audit?actor=${encodeURIComponent(actor)}&action=test.*`)).body.entries).toHaveLength(5);
    expect((await cp.api('GET', `/api/audit?actor=${encodeURIComponent(actor)}&targetKind=instance&targetId=t3`)).body.entries).toHaveLength(1);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await cp.api('GET', `/api/audit?actor=${encodeURIComponent(actor)}&from=${future}`)).body.entries).toHaveLength(0);
    expect((await cp.api('GET', `/api/audit?actor=${encodeURIComponent(actor)}&to=${future}`)).body.entries).toHaveLength(5);
    const bad = await cp.api('GET', '/api/audit?from=yesterday');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/from/);

    const ndjson = await cp.api('GET', `/api/audit/export?format=ndjson&actor=${encodeURIComponent(actor)}`);
    expect(ndjson.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (ndjson.body as string).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.targetId)).toEqual(['t4', 't3', 't2', 't1', 't0']);

    const csv = await cp.api('GET', `/api/audit/export?format=csv&actor=${encodeURIComponent(actor)}`);
    expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="drydock-audit-.*\.csv"/);
    const rows = (csv.body as string).trim().split('\r\n');
    expect(rows[0]).toBe('id,at,actorKind,actorId,actorName,tokenId,tokenName,action,targetKind,targetId,clientAddress,outcome,reason,before,after');
    expect(rows).toHaveLength(6);
    // A formula is neutralised and quotes are escaped.
    expect(rows[1]).toContain(`"'=HYPERLINK(""x""), ""quoted"""`);
  });
});
