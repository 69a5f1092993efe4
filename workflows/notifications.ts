/**
 * Notifications' two loops. `notificationDelivery`, one per endpoint, sends
 * the endpoint's pending deliveries oldest first, one at a time, each retried
 * until the receiver takes it: events of an instance arrive in the order they
 * happened, and none is lost while the receiver is down. `agentWatch`, one
 * per control plane, pings the approved agents on a timer and records who is
 * offline past the threshold.
 */
import { condition, continueAsNew, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { AGENT_CHECK, DATABASE_WRITE, NOTIFICATION_DELIVERY, NOTIFICATION_IDLE_RECHECK_MS } from './policies.js';
import { notificationsPendingSignal } from './surface.js';

const { pendingNotifications } = proxyActivities<Activities>(DATABASE_WRITE);
const { deliverNotification } = proxyActivities<Activities>(NOTIFICATION_DELIVERY);
const { checkAgents } = proxyActivities<Activities>(AGENT_CHECK);

/** Continue-as-new long before the history limit; the new run starts from the database again. */
const HISTORY_EVENTS_BEFORE_CONTINUE = 2_000;

export interface NotificationDeliveryInput {
  endpointId: string;
}

export async function notificationDelivery(input: NotificationDeliveryInput): Promise<string> {
  let woken = false;
  setHandler(notificationsPendingSignal, () => void (woken = true));
  for (;;) {
    woken = false;
    const pending = await pendingNotifications(input.endpointId);
    if (pending === null) return 'the endpoint was deleted';
    for (const deliveryId of pending) await deliverNotification(deliveryId);
    if (pending.length === 0) await condition(() => woken, NOTIFICATION_IDLE_RECHECK_MS);
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_EVENTS_BEFORE_CONTINUE) {
      await continueAsNew<typeof notificationDelivery>(input);
    }
  }
}

export interface AgentWatchInput {
  intervalMs: number;
  /** An agent not reached for this long is reported offline (once per outage). */
  offlineAfterMs: number;
}

export async function agentWatch(input: AgentWatchInput): Promise<void> {
  for (;;) {
    await checkAgents(input.offlineAfterMs);
    await sleep(input.intervalMs);
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_EVENTS_BEFORE_CONTINUE) {
      await continueAsNew<typeof agentWatch>(input);
    }
  }
}
