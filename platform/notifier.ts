/**
 * The notifier: one object the API, the worker's activities and other
 * features (drift) use to record an event and get it delivered. `emit` writes
 * the event and its deliveries to the outbox, then wakes each endpoint's
 * delivery workflow (signalWithStart). A lost wake-up loses nothing: the
 * delivery workflow also looks at the outbox on a timer, and every start of
 * the control plane wakes every endpoint.
 */
import type { Client } from '@temporalio/client';
import type { Keyring } from '../core/keyring.js';
import type { PrismaClient } from '../prisma/generated/client.js';
import { createNotificationRepo, type NewNotification, type NotificationRepo, type SealedEndpoint } from '../prisma/notification-repo.js';
import type { NotificationDeps, NotificationLinks } from '../activities/notifications.js';
import type { DriftFoundEvent } from '../activities/index.js';
import {
  agentWatchWorkflowId,
  AGENT_WATCH_WORKFLOW_TYPE,
  NOTIFICATION_DELIVERY_WORKFLOW_TYPE,
  notificationsPendingSignal,
  notificationWorkflowId,
  TASK_QUEUE,
  temporalWorkflowUrl,
} from '../workflows/surface.js';

export interface NotifierSettings {
  /** Where drydock's web UI is reached, for links in events (DRYDOCK_PUBLIC_URL; else the control plane's own URL). */
  publicUrl?: string;
  temporalUiUrl?: string;
  /** The agent watch: how often agents are pinged, and after how long without an answer one is offline. */
  agentCheckIntervalMs: number;
  agentOfflineAfterMs: number;
}

export interface Notifier {
  repo: NotificationRepo;
  /** Settings read at each event: the control plane fills in its URL once it listens. */
  settings: NotifierSettings;
  links: NotificationLinks & { notifications(): string | undefined };
  /** Records an event (once per key) and wakes the endpoints that want it. A failed outbox write throws (an activity then retries); a failed wake-up is only logged. */
  emit(n: NewNotification): Promise<{ eventId: string; endpointIds: string[] } | undefined>;
  /** Starts or wakes the endpoint's delivery workflow. */
  wake(endpointId: string): Promise<void>;
  /** Wakes every endpoint's delivery, and starts the agent watch when an endpoint wants agent.offline. */
  resume(): Promise<void>;
  /** After an endpoint is added or changed: its delivery runs, and the agent watch when it wants agent.offline. */
  endpointChanged(e: { id: string; events: readonly string[] }): Promise<void>;
  sealUrl(endpointId: string, url: string): string;
  sealSecret(endpointId: string, secret: string): string;
  /** What the activities need. */
  activityDeps(): NotificationDeps;
}

export interface NotifierOptions {
  prisma: PrismaClient;
  keyring: Keyring;
  /** The Temporal client (made on first use by a standalone worker). */
  temporal: () => Promise<Client>;
  taskQueue?: string;
  settings?: Partial<NotifierSettings>;
  log?: (m: string) => void;
}

const aad = (endpointId: string, field: 'url' | 'secret') => `notification-endpoint:${endpointId}:${field}`;

/** DRYDOCK_PUBLIC_URL, DRYDOCK_AGENT_CHECK_SECONDS, DRYDOCK_AGENT_OFFLINE_MINUTES. */
export function notifierSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NotifierSettings {
  const number = (name: string, fallback: number) => {
    const v = env[name]?.trim();
    if (!v) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not ${JSON.stringify(v)}`);
    return n;
  };
  return {
    publicUrl: env.DRYDOCK_PUBLIC_URL?.replace(/\/+$/, '') || undefined,
    temporalUiUrl: env.TEMPORAL_UI_URL || undefined,
    agentCheckIntervalMs: number('DRYDOCK_AGENT_CHECK_SECONDS', 60) * 1000,
    agentOfflineAfterMs: number('DRYDOCK_AGENT_OFFLINE_MINUTES', 10) * 60_000,
  };
}

export function createNotifier(opts: NotifierOptions): Notifier {
  const repo = createNotificationRepo(opts.prisma);
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  const log = opts.log ?? (() => {});
  const settings: NotifierSettings = { ...notifierSettingsFromEnv(), ...opts.settings };

  const links: Notifier['links'] = {
    notifications: () => settings.publicUrl && `${settings.publicUrl}/notifications`,
    instance: (id) => settings.publicUrl && `${settings.publicUrl}/instances/${encodeURIComponent(id)}`,
    rollout: (id) => settings.publicUrl && `${settings.publicUrl}/rollouts/${encodeURIComponent(id)}`,
    agents: () => settings.publicUrl && `${settings.publicUrl}/agents`,
    workflow: (workflowId, runId) => settings.temporalUiUrl && temporalWorkflowUrl(settings.temporalUiUrl, workflowId, runId),
  };

  async function wake(endpointId: string): Promise<void> {
    const client = await opts.temporal();
    await client.workflow.signalWithStart(NOTIFICATION_DELIVERY_WORKFLOW_TYPE, {
      workflowId: notificationWorkflowId(endpointId),
      taskQueue,
      args: [{ endpointId }],
      signal: notificationsPendingSignal,
      signalArgs: [],
    });
  }

  async function ensureAgentWatch(): Promise<void> {
    const client = await opts.temporal();
    await client.workflow
      .start(AGENT_WATCH_WORKFLOW_TYPE, {
        workflowId: agentWatchWorkflowId(taskQueue),
        taskQueue,
        args: [{ intervalMs: settings.agentCheckIntervalMs, offlineAfterMs: settings.agentOfflineAfterMs }],
        workflowIdConflictPolicy: 'USE_EXISTING',
      })
      .catch((err: Error) => log(`notifications: the agent watch did not start: ${err.message}`));
  }

  const notifier: Notifier = {
    repo,
    settings,
    links,
    async emit(n) {
      let recorded: { eventId: string; endpointIds: string[] };
      try {
        recorded = await repo.emit(n);
      } catch (err) {
        log(`notifications: the event ${n.key} was not recorded: ${(err as Error).message}`);
        throw err;
      }
      // The outbox has it; a failed wake-up is caught up by the delivery workflow's own timer.
      for (const id of recorded.endpointIds) await wake(id).catch((err: Error) => log(`notifications: waking the delivery of ${id}: ${err.message}`));
      return recorded;
    },
    wake,
    async resume() {
      const endpoints = await repo.listEndpoints();
      for (const e of endpoints) await wake(e.id).catch((err: Error) => log(`notifications: waking the delivery of ${e.id}: ${err.message}`));
      if (endpoints.some((e) => e.events.includes('agent.offline'))) await ensureAgentWatch();
    },
    async endpointChanged(e) {
      await wake(e.id);
      if (e.events.includes('agent.offline')) await ensureAgentWatch();
    },
    sealUrl: (id, url) => opts.keyring.sealString(url, aad(id, 'url')),
    sealSecret: (id, secret) => opts.keyring.sealString(secret, aad(id, 'secret')),
    activityDeps: () => ({
      repo,
      emit: (n) => notifier.emit(n),
      open: (e: SealedEndpoint) => ({
        url: opts.keyring.openString(e.urlSealed, aad(e.id, 'url')),
        secret: e.secretSealed ? opts.keyring.openString(e.secretSealed, aad(e.id, 'secret')) : null,
      }),
      links,
    }),
  };
  return notifier;
}

/** A drift check's finding as a notification: paths and services, never diff text; one event per check that found it. */
export function driftFoundNotification(e: DriftFoundEvent, links: NotificationLinks): NewNotification {
  return {
    key: `drift:${e.instanceId}:${e.checkedAt}`,
    type: 'drift.found',
    instanceId: e.instanceId,
    summary: `${e.slug}: ${e.summary}`,
    details: { release: e.release, files: e.files, images: e.images, checkedAt: e.checkedAt },
    links: { ui: links.instance(e.instanceId) },
  };
}
