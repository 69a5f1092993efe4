/**
 * The outbox write every finished upgrade makes (emit), on the real
 * PostgreSQL: an event nobody wants is one INSERT and a retried write of it
 * adds nothing; an event an endpoint wants is written with its delivery, also
 * exactly once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/support.js';
import { openDatabase, type Database } from './db.js';
import { createNotificationRepo } from './notification-repo.js';
import { createInstanceRepo } from './repositories.js';

describe('recording a notification event', () => {
  let drop: () => Promise<void>;
  let db: Database;
  let repo: ReturnType<typeof createNotificationRepo>;
  let instance: { id: string; slug: string; labels: string[] };

  beforeAll(async () => {
    const t = await createTestDatabase();
    drop = t.drop;
    db = await openDatabase({ url: t.url });
    repo = createNotificationRepo(db.prisma);
    const created = await createInstanceRepo(db.prisma).create({
      slug: 'outbox', name: 'Outbox', composeProjectName: 'outbox', composeDir: '/srv/outbox', coreServices: ['api'], labels: ['eu'],
    });
    instance = { id: created!.id, slug: created!.slug, labels: created!.labels };
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  const rows = async (key: string) => {
    const events = await db.prisma.notificationEvent.findMany({ where: { key }, include: { deliveries: true } });
    return events.map((e) => ({ slug: e.instanceSlug, labels: e.labels, deliveries: e.deliveries.map((d) => d.endpointId) }));
  };

  it('records an event no endpoint wants once, with the instance it names, however often it is written', async () => {
    const key = `upgrade:${randomUUID()}:succeeded`;
    const event = { key, type: 'upgrade.succeeded' as const, summary: 'succeeded', instanceId: instance.id };
    const first = await repo.emit({ ...event, instance });
    // A retried activity writes it again; the caller that did not pass the instance has it read.
    const again = await repo.emit(event);
    expect(again).toEqual(first);
    expect(first.endpointIds).toEqual([]);
    expect(await rows(key)).toEqual([{ slug: 'outbox', labels: ['eu'], deliveries: [] }]);
  });

  it('writes every field of the event as Prisma reads it back: labels, details, links, and the time in UTC', async () => {
    const key = `upgrade:${randomUUID()}:failed`;
    const labels = ['eu', 'tier "gold", west', '{braces}'];
    const details = { upgradeId: 'u1', error: 'pull failed: "x"\nnext line', nested: { n: 1 } };
    const links = { ui: 'http://ui/instances/1', temporal: 'http://temporal/namespaces/default/workflows/w/r' };
    const before = Date.now();
    const { eventId } = await repo.emit({ key, type: 'upgrade.failed', summary: 'failed: ünïcode', instanceId: instance.id, instance: { ...instance, labels }, details, links });
    const row = await db.prisma.notificationEvent.findUniqueOrThrow({ where: { key } });
    expect(row).toMatchObject({ id: BigInt(eventId), type: 'upgrade.failed', instanceId: instance.id, instanceSlug: 'outbox', labels, summary: 'failed: ünïcode', details, links });
    expect(row.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(row.createdAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('records an event an endpoint wants with its delivery, once, and answers that endpoint on a retry', async () => {
    const endpoint = await repo.createEndpoint({
      id: randomUUID(), name: 'eu parks', kind: 'webhook', urlSealed: 'sealed', urlOrigin: 'https://hooks.example', secretSealed: null,
      events: ['upgrade.parked'], labels: ['eu'],
    });
    const key = `upgrade:${randomUUID()}:parked:1`;
    const event = { key, type: 'upgrade.parked' as const, summary: 'parked', instanceId: instance.id, instance };
    const first = await repo.emit(event);
    expect(first.endpointIds).toEqual([endpoint.id]);
    expect(await repo.emit(event)).toEqual(first);
    expect(await rows(key)).toEqual([{ slug: 'outbox', labels: ['eu'], deliveries: [endpoint.id] }]);

    // The same endpoint does not want another type: back to the one-INSERT path.
    const other = `upgrade:${randomUUID()}:succeeded`;
    expect((await repo.emit({ ...event, key: other, type: 'upgrade.succeeded' })).endpointIds).toEqual([]);
    expect(await rows(other)).toEqual([{ slug: 'outbox', labels: ['eu'], deliveries: [] }]);
  });
});
