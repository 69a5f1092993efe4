/**
 * The notification activities: recording events in the outbox where the
 * change is recorded (an upgrade's progress, a rollout's state), sending one
 * delivery (signed, retried by Temporal until the receiver takes it), and the
 * agent watch's round of pings. The bodies and the signature are core's.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  SIGNATURE_HEADER,
  signBody,
  slackBody,
  TIMESTAMP_HEADER,
  webhookBody,
} from '../core/notifications.js';
import type { ExecutionDriver } from '../core/driver.js';
import type { InstanceTarget, UpgradeStatus } from '../core/types.js';
import type { InstanceRepo, UpgradeProgress, UpgradeRecord, UpgradeRepo } from '../prisma/repositories.js';
import type { NewNotification, NotificationRepo, SealedEndpoint } from '../prisma/notification-repo.js';

export interface NotificationLinks {
  instance(instanceId: string): string | undefined;
  rollout(rolloutId: string): string | undefined;
  agents(): string | undefined;
  /** The workflow's history in the Temporal console. */
  workflow(workflowId: string, runId?: string | null): string | undefined;
}

export interface NotificationDeps {
  repo: Pick<NotificationRepo, 'pendingDeliveries' | 'deliveryToSend' | 'recordAttempt' | 'sealedEndpoint' | 'watchedAgents' | 'recordAgentCheck'>;
  /** Records the event in the outbox and wakes the delivery of every endpoint that wants it. */
  emit(n: NewNotification): Promise<unknown>;
  /** The endpoint's URL and signing secret, unsealed for the one request. */
  open(endpoint: SealedEndpoint): { url: string; secret: string | null };
  links: NotificationLinks;
  fetch?: typeof fetch;
}

interface Deps {
  instances: InstanceRepo;
  upgrades: UpgradeRepo;
  driverFor(target: InstanceTarget): ExecutionDriver;
  notifications?: NotificationDeps;
}

const UPGRADE_EVENTS: Partial<Record<UpgradeStatus, NewNotification['type']>> = {
  'needs-attention': 'upgrade.parked',
  failed: 'upgrade.failed',
  succeeded: 'upgrade.succeeded',
  'rolled-back': 'upgrade.rolled-back',
};

export interface RolloutNotice {
  rolloutId: string;
  event: 'paused' | 'awaiting-approval' | 'finished';
  /** Names this occurrence (e.g. the wave awaiting approval), so a retried write adds nothing. */
  key: string;
  status: string;
  wave: number;
  waves: number;
  counts: { updated: number; failed: number; skipped: number; pending: number };
  lastLog: string | null;
}

const SEND_TIMEOUT_MS = 15_000;
const AGENT_PINGS_AT_ONCE = 8;

export function createNotificationActivities(deps: Deps) {
  const n = deps.notifications;

  /** After an upgrade's progress is saved (`u`, its row as just saved): parked, failed, succeeded or rolled back go to the outbox. */
  async function upgradeChanged(u: UpgradeRecord, progress: UpgradeProgress): Promise<void> {
    const type = UPGRADE_EVENTS[progress.status];
    if (!n || !type) return;
    const upgradeId = u.id;
    const instance = await deps.instances.get(u.instanceId);
    const slug = instance?.slug ?? u.instanceId;
    const what = `${u.mode} upgrade of ${slug} to ${u.imageTag}`;
    const error = progress.error ?? null;
    const summary =
      type === 'upgrade.parked'
        ? `${what} parked at ${progress.currentStep}: ${firstLine(error)}`
        : type === 'upgrade.succeeded'
          ? `${what} succeeded`
          : type === 'upgrade.rolled-back'
            ? `${what} rolled back: ${firstLine(error)}`
            : `${what} failed: ${firstLine(error)}`;
    await n.emit({
      // A park is one per parked step (a retried step that parks again is a new event).
      key: type === 'upgrade.parked' ? `upgrade:${upgradeId}:parked:${progress.steps.length}` : `upgrade:${upgradeId}:${progress.status}`,
      type,
      instanceId: u.instanceId,
      ...(instance ? { instance: { id: instance.id, slug: instance.slug, labels: instance.labels } } : {}),
      summary,
      details: {
        upgradeId,
        mode: u.mode,
        imageTag: u.imageTag,
        status: progress.status,
        ...(type === 'upgrade.parked' ? { step: progress.currentStep } : {}),
        ...(error ? { error } : {}),
        requestedBy: u.requestedBy,
      },
      links: { ui: n.links.instance(u.instanceId), temporal: n.links.workflow(u.workflowId, u.runId) },
    });
  }

  const activities = {
    /** The endpoint's pending deliveries, oldest first; null once the endpoint is deleted. */
    async pendingNotifications(endpointId: string): Promise<string[] | null> {
      if (!n) return null;
      if (!(await n.repo.sealedEndpoint(endpointId))) return null;
      return n.repo.pendingDeliveries(endpointId);
    },

    /**
     * POSTs one event to its endpoint. Anything but a 2xx answer is recorded
     * on the delivery (attempts, last error) and thrown, so Temporal retries
     * it with backoff; the workflow sends nothing newer meanwhile.
     */
    async deliverNotification(deliveryId: string): Promise<'delivered' | 'skipped'> {
      if (!n) return 'skipped';
      const d = await n.repo.deliveryToSend(deliveryId);
      if (!d) return 'skipped'; // its endpoint was deleted
      if (d.status === 'delivered') return 'delivered';
      const { url, secret } = n.open(d.endpoint);
      const body = d.endpoint.kind === 'slack' ? slackBody(d.event) : webhookBody(d.event);
      const timestamp = Math.floor(Date.now() / 1000);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'drydock-notifications',
        [EVENT_HEADER]: d.event.type,
        [DELIVERY_HEADER]: deliveryId,
        [TIMESTAMP_HEADER]: String(timestamp),
        ...(secret ? { [SIGNATURE_HEADER]: signBody(secret, timestamp, body) } : {}),
      };
      let failure: { status: number | null; error: string };
      try {
        // Redirects are not followed: the endpoint is the URL an admin gave, not wherever it points.
        const res = await (n.fetch ?? fetch)(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) {
          await n.repo.recordAttempt(deliveryId, { delivered: true, responseStatus: res.status });
          return 'delivered';
        }
        failure = { status: res.status, error: `${d.endpoint.urlOrigin} answered HTTP ${res.status}` };
      } catch (err) {
        failure = { status: null, error: `${d.endpoint.urlOrigin} not reached: ${networkReason(err)}` };
      }
      await n.repo.recordAttempt(deliveryId, { delivered: false, responseStatus: failure.status, error: failure.error });
      throw ApplicationFailure.retryable(failure.error, 'notification-not-delivered');
    },

    /** A rollout paused over budget, waits for approval, or ended. */
    async notifyRollout(r: RolloutNotice): Promise<void> {
      if (!n) return;
      const { updated, failed, skipped } = r.counts;
      const summary =
        r.event === 'paused'
          ? `rollout ${r.rolloutId} paused: ${failed} failure(s) exceed the failure budget`
          : r.event === 'awaiting-approval'
            ? `rollout ${r.rolloutId}: wave ${r.wave} of ${r.waves} done, waiting for approval of the next wave`
            : `rollout ${r.rolloutId} ${r.status}: ${updated} updated, ${failed} failed, ${skipped} skipped`;
      const exec = Context.current().info.workflowExecution;
      await n.emit({
        key: `rollout:${r.rolloutId}:${r.key}`,
        type: `rollout.${r.event}`,
        summary,
        details: { rolloutId: r.rolloutId, status: r.status, wave: r.wave, waves: r.waves, ...r.counts, lastLog: r.lastLog },
        links: { ui: n.links.rollout(r.rolloutId), temporal: exec && n.links.workflow(exec.workflowId, exec.runId) },
      });
    },

    /**
     * Pings every approved agent and records who answered. One not reached
     * for `offlineAfterMs` is reported offline, once per outage (the key
     * names its last contact).
     */
    async checkAgents(offlineAfterMs: number): Promise<{ checked: number; offline: string[] }> {
      if (!n) return { checked: 0, offline: [] };
      const agents = await n.repo.watchedAgents();
      const offline: string[] = [];
      const ctx = Context.current();
      for (let i = 0; i < agents.length; i += AGENT_PINGS_AT_ONCE) {
        await Promise.all(
          agents.slice(i, i + AGENT_PINGS_AT_ONCE).map(async (a) => {
            const instance = await deps.instances.get(a.instanceId);
            if (!instance) return;
            let error: string | null = null;
            try {
              await deps
                .driverFor({
                  instanceId: instance.id,
                  slug: instance.slug,
                  composeProjectName: instance.composeProjectName,
                  composeDir: instance.composeDir,
                  coreServices: instance.coreServices,
                  isRemote: instance.isRemote,
                  agentUrl: instance.agentUrl,
                })
                .ping();
            } catch (err) {
              error = firstLine((err as Error).message);
            }
            const lastContact = await n.repo.recordAgentCheck(a.instanceId, error === null, error);
            const silentMs = Date.now() - lastContact.getTime();
            if (error === null || silentMs < offlineAfterMs) return;
            offline.push(instance.slug);
            await n.emit({
              key: `agent:${instance.id}:offline:${lastContact.getTime()}`,
              type: 'agent.offline',
              instanceId: instance.id,
              summary: `${instance.slug}: its agent has not been reached for ${Math.round(silentMs / 60_000)} min`,
              details: { lastContactAt: lastContact.toISOString(), error },
              links: { ui: n.links.instance(instance.id) },
            });
          }),
        );
        ctx.heartbeat(i);
      }
      return { checked: agents.length, offline };
    },
  };

  return { activities, upgradeChanged };
}

function firstLine(s: string | null | undefined): string {
  return (s ?? '').split('\n')[0]!.slice(0, 300);
}

/** fetch says "fetch failed"; the reason is in its cause (ECONNREFUSED, a timeout, …). */
function networkReason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${SEND_TIMEOUT_MS / 1000}s`;
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
