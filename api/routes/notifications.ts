/**
 * Notification endpoints (`/api/notifications/endpoints`, admins only by the
 * role table): list, add, change, delete, send a test event, and each
 * endpoint's recent deliveries. The URL and the signing secret are sealed
 * before they are stored and never answered: an endpoint shows where it
 * points (the URL's origin) and whether its secret is set. Each change is
 * written with its audit entry in one transaction.
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { badRequest, notFound } from '../../core/errors.js';
import { urlOrigin } from '../../core/notifications.js';
import { createNotificationRepo, type EndpointChange, type EndpointRecord } from '../../prisma/notification-repo.js';
import type { Notifier } from '../../platform/notifier.js';
import { changeAudited, type AuditLog } from '../audit.js';
import { createEndpointBody, idParam, patchEndpointBody } from '../schemas.js';

export interface NotificationsRouterDeps {
  notifier: Notifier;
  audit: AuditLog;
  log?: (m: string) => void;
}

/** What the audit log records of an endpoint: never the URL's path or the secret. */
const settings = (e: EndpointRecord) => ({ name: e.name, kind: e.kind, urlOrigin: e.urlOrigin, secret: e.secret, events: e.events, labels: e.labels });

export function createNotificationsRouter(deps: NotificationsRouterDeps): Router {
  const router = Router();
  const { notifier } = deps;
  const log = deps.log ?? (() => {});

  /** Starts (or wakes) the endpoint's delivery; a failure here is caught up at the next start or event. */
  const started = (e: EndpointRecord) =>
    notifier.endpointChanged(e).catch((err: Error) => log(`notifications: the delivery of ${e.name} did not start: ${err.message}`));

  router.get('/notifications/endpoints', async (_req, res) => {
    res.json(await notifier.repo.listEndpoints());
  });

  router.get('/notifications/endpoints/:id', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const e = await notifier.repo.getEndpoint(id);
    if (!e) throw notFound(`no notification endpoint with id ${id}`);
    res.json(e);
  });

  router.post('/notifications/endpoints', async (req, res) => {
    const body = createEndpointBody.parse(req.body ?? {});
    const id = randomUUID();
    const created = await changeAudited(deps.audit, req, res, async (tx) => {
      const e = await createNotificationRepo(tx).createEndpoint({
        id,
        name: body.name,
        kind: body.kind,
        urlSealed: notifier.sealUrl(id, body.url),
        urlOrigin: urlOrigin(body.url),
        secretSealed: body.secret ? notifier.sealSecret(id, body.secret) : null,
        events: body.events,
        labels: body.labels ?? [],
        createdBy: req.operator!.email,
      });
      return { result: e, entry: { outcome: 'accepted', targetId: e.id, after: settings(e) } };
    });
    await started(created);
    log(`notification endpoint ${created.name} (${created.kind}, ${created.urlOrigin}) added by ${req.operator!.email}`);
    res.status(201).json(created);
  });

  router.patch('/notifications/endpoints/:id', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const body = patchEndpointBody.parse(req.body ?? {});
    const changed = await changeAudited<EndpointRecord | 'slack-secret' | undefined>(deps.audit, req, res, async (tx) => {
      const repo = createNotificationRepo(tx);
      const current = await repo.getEndpoint(id);
      if (!current) return { result: undefined, entry: { outcome: 'refused', reason: 'no such notification endpoint' } };
      if (body.secret && current.kind === 'slack') {
        return { result: 'slack-secret' as const, entry: { outcome: 'refused', reason: 'a Slack webhook is not signed', before: settings(current) } };
      }
      const change: EndpointChange = {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.url !== undefined ? { urlSealed: notifier.sealUrl(id, body.url), urlOrigin: urlOrigin(body.url) } : {}),
        ...(body.secret !== undefined ? { secretSealed: notifier.sealSecret(id, body.secret) } : {}),
        ...(body.events !== undefined ? { events: body.events } : {}),
        ...(body.labels !== undefined ? { labels: body.labels } : {}),
      };
      const r = (await repo.updateEndpoint(id, change))!;
      // A changed URL or secret is recorded as changed, never as its value.
      const after = { ...settings(r.after), ...(body.url !== undefined ? { url: 'changed' } : {}), ...(body.secret !== undefined ? { secret: 'changed' } : {}) };
      return { result: r.after, entry: { outcome: 'accepted', before: settings(r.before), after } };
    });
    if (!changed) throw notFound(`no notification endpoint with id ${id}`);
    if (changed === 'slack-secret') throw badRequest('secret: a Slack webhook is not signed: leave it empty');
    await started(changed);
    res.json(changed);
  });

  router.delete('/notifications/endpoints/:id', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const deleted = await changeAudited<EndpointRecord | undefined>(deps.audit, req, res, async (tx) => {
      const e = await createNotificationRepo(tx).deleteEndpoint(id);
      return e
        ? { result: e, entry: { outcome: 'accepted', before: settings(e) } }
        : { result: undefined, entry: { outcome: 'refused', reason: 'no such notification endpoint' } };
    });
    if (!deleted) throw notFound(`no notification endpoint with id ${id}`);
    // Its delivery workflow finds the endpoint gone and ends.
    await notifier.wake(id).catch(() => undefined);
    log(`notification endpoint ${deleted.name} deleted by ${req.operator!.email}`);
    res.status(204).end();
  });

  router.get('/notifications/endpoints/:id/deliveries', async (req, res) => {
    const { id } = idParam.parse(req.params);
    if (!(await notifier.repo.getEndpoint(id))) throw notFound(`no notification endpoint with id ${id}`);
    res.json(await notifier.repo.recentDeliveries(id));
  });

  /** A test event to this endpoint only, delivered like any other (its row shows how it went). */
  router.post('/notifications/endpoints/:id/test', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const e = await notifier.repo.getEndpoint(id);
    if (!e) throw notFound(`no notification endpoint with id ${id}`);
    const recorded = await notifier.emit({
      key: `test:${id}:${randomUUID()}`,
      type: 'test',
      onlyEndpointId: id,
      summary: `drydock test notification for ${e.name}, sent by ${req.operator!.email}`,
      details: { endpoint: e.name, sentBy: req.operator!.email },
      links: { ui: notifier.links.notifications() },
    });
    res.status(202).json({ eventId: recorded?.eventId ?? null });
  });

  return router;
}
