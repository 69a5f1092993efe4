/**
 * Notifications in the database: endpoints (URL and secret sealed by the
 * caller), the outbox of events with one delivery row per endpoint that wants
 * the event, and the agents' last contact. Ids of events and deliveries are
 * BIGSERIALs, answered as strings.
 */
import { endpointWants, type EndpointKind, type NotificationEvent, type NotificationEventType } from '../core/notifications.js';
import { nowIso, sqlOf, utcParam } from './db.js';
import type { PrismaClient } from './generated/client.js';

export interface EndpointRecord {
  id: string;
  name: string;
  kind: EndpointKind;
  urlOrigin: string;
  /** Whether a signing secret is set; the secret itself never leaves the repository unsealed. */
  secret: 'set' | 'unset';
  events: string[];
  labels: string[];
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SealedEndpoint {
  id: string;
  kind: EndpointKind;
  urlSealed: string;
  urlOrigin: string;
  secretSealed: string | null;
}

export interface NewEndpoint {
  id: string;
  name: string;
  kind: EndpointKind;
  urlSealed: string;
  urlOrigin: string;
  secretSealed: string | null;
  events: string[];
  labels: string[];
  createdBy?: string | null;
}

export type EndpointChange = Partial<Omit<NewEndpoint, 'id' | 'kind' | 'createdBy'>>;

/** An event to record; `key` names it once (a retried write of the same key adds nothing). */
export interface NewNotification {
  key: string;
  type: NotificationEventType | 'test';
  summary: string;
  instanceId?: string | null;
  /** The instance as the caller just read it (its slug and labels go into the event), so it is not read again. */
  instance?: { id: string; slug: string; labels: string[] };
  details?: Record<string, unknown>;
  links?: NotificationEvent['links'];
  /** Only to this endpoint (a test message), whatever it chose. */
  onlyEndpointId?: string;
}

export interface DeliveryRecord {
  id: string;
  eventId: string;
  eventType: string;
  summary: string;
  instanceSlug: string | null;
  status: 'pending' | 'delivered';
  attempts: number;
  lastError: string | null;
  responseStatus: number | null;
  lastAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

export interface DeliveryToSend {
  deliveryId: string;
  status: 'pending' | 'delivered';
  endpoint: SealedEndpoint;
  event: NotificationEvent;
}

const ENDPOINT_SELECT = {
  id: true,
  name: true,
  kind: true,
  urlOrigin: true,
  secretSealed: true,
  events: true,
  labels: true,
  createdBy: true,
  createdAt: true,
  updatedAt: true,
} as const;

function toEndpoint(row: { secretSealed: string | null; kind: string } & Omit<EndpointRecord, 'secret' | 'kind'>): EndpointRecord {
  const { secretSealed, ...rest } = row;
  return { ...rest, kind: rest.kind as EndpointKind, secret: secretSealed ? 'set' : 'unset' };
}

const MAX_ERROR = 1000;

/** What emit needs of an endpoint to decide whether it wants an event. */
type EndpointFilter = { id: string } & Parameters<typeof endpointWants>[0];

export function createNotificationRepo(prisma: PrismaClient) {
  const sql = sqlOf(prisma);
  // Inside a transaction's client there is no $transaction of its own.
  const atomically = <T>(fn: (tx: PrismaClient) => Promise<T>): Promise<T> =>
    typeof prisma.$transaction === 'function' ? prisma.$transaction((tx) => fn(tx as unknown as PrismaClient)) : fn(prisma);

  return {
    listEndpoints: async (): Promise<EndpointRecord[]> =>
      (await prisma.notificationEndpoint.findMany({ orderBy: { createdAt: 'asc' }, select: ENDPOINT_SELECT })).map(toEndpoint),

    getEndpoint: async (id: string): Promise<EndpointRecord | undefined> => {
      const row = await prisma.notificationEndpoint.findUnique({ where: { id }, select: ENDPOINT_SELECT });
      return row ? toEndpoint(row) : undefined;
    },

    sealedEndpoint: async (id: string): Promise<SealedEndpoint | undefined> =>
      (await prisma.notificationEndpoint.findUnique({ where: { id }, select: { id: true, kind: true, urlSealed: true, urlOrigin: true, secretSealed: true } })) as
        | SealedEndpoint
        | undefined ?? undefined,

    createEndpoint: async (e: NewEndpoint): Promise<EndpointRecord> =>
      toEndpoint(await prisma.notificationEndpoint.create({ data: { ...e, createdBy: e.createdBy ?? null }, select: ENDPOINT_SELECT })),

    async updateEndpoint(id: string, change: EndpointChange): Promise<{ before: EndpointRecord; after: EndpointRecord } | undefined> {
      const before = await prisma.notificationEndpoint.findUnique({ where: { id }, select: ENDPOINT_SELECT });
      if (!before) return undefined;
      const after = await prisma.notificationEndpoint.update({ where: { id }, data: change, select: ENDPOINT_SELECT });
      return { before: toEndpoint(before), after: toEndpoint(after) };
    },

    async deleteEndpoint(id: string): Promise<EndpointRecord | undefined> {
      const row = await prisma.notificationEndpoint.findUnique({ where: { id }, select: ENDPOINT_SELECT });
      if (!row) return undefined;
      await prisma.notificationEndpoint.delete({ where: { id } });
      return toEndpoint(row);
    },

    /**
     * Records the event once and a pending delivery for each endpoint that
     * wants it; returns those endpoints' ids (also when the event was recorded
     * by an earlier try, so the caller can wake their delivery again).
     */
    async emit(n: NewNotification): Promise<{ eventId: string; endpointIds: string[] }> {
      const instance =
        n.instance ?? (n.instanceId ? await prisma.instance.findUnique({ where: { id: n.instanceId }, select: { id: true, slug: true, labels: true } }) : null);
      const data = {
        key: n.key,
        type: n.type,
        instanceId: instance?.id ?? n.instanceId ?? null,
        instanceSlug: instance?.slug ?? null,
        labels: instance?.labels ?? [],
        summary: n.summary,
        details: (n.details ?? {}) as object,
        links: (n.links ?? {}) as object,
      };
      // Once per upgrade's end, like the INSERT below: plain SQL (see sqlOf).
      const endpoints = n.onlyEndpointId
        ? await sql<EndpointFilter>('SELECT id, events, labels FROM "NotificationEndpoint" WHERE id = $1', [n.onlyEndpointId])
        : await sql<EndpointFilter>('SELECT id, events, labels FROM "NotificationEndpoint"');
      const wanting = endpoints.filter((e) => n.onlyEndpointId || endpointWants(e, n.type, n.instanceId ? (instance?.labels ?? []) : null));
      const recordedBefore = async (db: PrismaClient) => {
        const existing = await db.notificationEvent.findUnique({ where: { key: n.key }, select: { id: true, deliveries: { select: { endpointId: true } } } });
        return existing ? { eventId: existing.id.toString(), endpointIds: existing.deliveries.map((d) => d.endpointId) } : undefined;
      };
      if (wanting.length === 0) {
        // No delivery to write with it: one INSERT, which a retried write (the same key) leaves as it was.
        const [created] = await sql<{ id: string }>(
          `INSERT INTO "NotificationEvent" (key, type, "instanceId", "instanceSlug", labels, summary, details, links, "createdAt")
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, ${utcParam(9)}) ON CONFLICT DO NOTHING RETURNING id`,
          [data.key, data.type, data.instanceId, data.instanceSlug, data.labels, data.summary, JSON.stringify(data.details), JSON.stringify(data.links), nowIso()],
        );
        if (created) return { eventId: String(created.id), endpointIds: [] };
        const before = await recordedBefore(prisma);
        if (before) return before;
        throw new Error(`the notification event ${n.key} was neither recorded nor found`);
      }
      // The event and its deliveries together, or neither.
      return atomically(async (tx) => {
        const before = await recordedBefore(tx);
        if (before) return before;
        const event = await tx.notificationEvent.create({ data, select: { id: true } });
        await tx.notificationDelivery.createMany({ data: wanting.map((e) => ({ endpointId: e.id, eventId: event.id })) });
        return { eventId: event.id.toString(), endpointIds: wanting.map((e) => e.id) };
      });
    },

    /** The endpoint's undelivered deliveries, oldest event first. */
    pendingDeliveries: async (endpointId: string, limit = 50): Promise<string[]> =>
      (
        await prisma.notificationDelivery.findMany({
          where: { endpointId, status: 'pending' },
          orderBy: { eventId: 'asc' },
          take: limit,
          select: { id: true },
        })
      ).map((d) => d.id.toString()),

    async deliveryToSend(deliveryId: string): Promise<DeliveryToSend | undefined> {
      const d = await prisma.notificationDelivery.findUnique({
        where: { id: BigInt(deliveryId) },
        include: { event: true, endpoint: { select: { id: true, kind: true, urlSealed: true, urlOrigin: true, secretSealed: true } } },
      });
      if (!d) return undefined;
      const e = d.event;
      return {
        deliveryId,
        status: d.status as DeliveryToSend['status'],
        endpoint: d.endpoint as SealedEndpoint,
        event: {
          id: e.id.toString(),
          type: e.type as NotificationEvent['type'],
          at: e.createdAt.toISOString(),
          summary: e.summary,
          instance: e.instanceId && e.instanceSlug ? { id: e.instanceId, slug: e.instanceSlug, labels: e.labels } : null,
          details: e.details as Record<string, unknown>,
          links: e.links as NotificationEvent['links'],
        },
      };
    },

    async recordAttempt(deliveryId: string, outcome: { delivered: boolean; responseStatus?: number | null; error?: string | null }): Promise<void> {
      const now = new Date();
      await prisma.notificationDelivery.update({
        where: { id: BigInt(deliveryId) },
        data: {
          attempts: { increment: 1 },
          lastAttemptAt: now,
          responseStatus: outcome.responseStatus ?? null,
          lastError: outcome.error ? outcome.error.slice(0, MAX_ERROR) : null,
          ...(outcome.delivered ? { status: 'delivered', deliveredAt: now } : {}),
        },
      });
    },

    recentDeliveries: async (endpointId: string, limit = 50): Promise<DeliveryRecord[]> =>
      (
        await prisma.notificationDelivery.findMany({
          where: { endpointId },
          orderBy: { eventId: 'desc' },
          take: limit,
          include: { event: { select: { type: true, summary: true, instanceSlug: true } } },
        })
      ).map((d) => ({
        id: d.id.toString(),
        eventId: d.eventId.toString(),
        eventType: d.event.type,
        summary: d.event.summary,
        instanceSlug: d.event.instanceSlug,
        status: d.status as DeliveryRecord['status'],
        attempts: d.attempts,
        lastError: d.lastError,
        responseStatus: d.responseStatus,
        lastAttemptAt: d.lastAttemptAt,
        deliveredAt: d.deliveredAt,
        createdAt: d.createdAt,
      })),

    /** Remote instances with an approved agent: what the agent watch checks. */
    watchedAgents: async (): Promise<{ instanceId: string; slug: string; lastContactAt: Date | null }[]> =>
      prisma.$queryRaw<{ instanceId: string; slug: string; lastContactAt: Date | null }[]>`
        SELECT i.id AS "instanceId", i.slug, c."lastContactAt"
        FROM "Instance" i
        JOIN "AgentRegistration" r ON r."instanceId" = i.id AND r.status = 'approved'
        LEFT JOIN "AgentContact" c ON c."instanceId" = i.id
        WHERE i."isRemote"
        ORDER BY i.slug`,

    /** A check's result; the first check counts as a contact, so an agent never reached is offline a threshold after it was first watched. */
    async recordAgentCheck(instanceId: string, ok: boolean, error: string | null, now = new Date()): Promise<Date> {
      const row = await prisma.agentContact.upsert({
        where: { instanceId },
        create: { instanceId, lastContactAt: now, lastCheckAt: now, lastError: ok ? null : error },
        update: { lastCheckAt: now, lastError: ok ? null : error, ...(ok ? { lastContactAt: now } : {}) },
      });
      return row.lastContactAt;
    },
  };
}

export type NotificationRepo = ReturnType<typeof createNotificationRepo>;
