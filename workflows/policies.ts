/**
 * Timeouts and retry policies, one per kind of step, named for what they
 * guard. Workflow code: no imports beyond Temporal's workflow package.
 */
import { ActivityCancellationType, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';

/** How long a parked upgrade waits for an operator before it fails. */
export const DEFAULT_PARK_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/**
 * Database bookkeeping, as local activities: progress records, and the steps
 * that only write drydock's database (workflows/activities.ts localDb).
 * Short, retried for long enough to ride out a database restart.
 */
export const BOOKKEEPING: LocalActivityOptions = {
  startToCloseTimeout: '10 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/**
 * Database work as activities of their own: the rollout's notices, the
 * notification and drift workflows' reads and records, and (in histories
 * from before local database steps) an upgrade's mark-running, tag and
 * release writes.
 */
export const DATABASE_WRITE: ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/**
 * How long a running step may go without a heartbeat before Temporal counts
 * its worker as lost and retries it on another. Every activity heartbeats
 * every 2 s while it runs, tenant calls included (activities/index.ts), and
 * the worker sends at most one each 5 s (its maximum heartbeat throttle): a
 * live worker stays 10 s inside this, a slow tenant call on it is never cut
 * off, and a SIGKILLed worker's step is picked up by a surviving worker after
 * at most this plus the step's first retry interval (15 s + 2 to 5 s), under
 * the 30 s docs/RELIABILITY.md promises.
 */
export const WORKER_LOST_AFTER = '15 seconds';

/** Look-ups and file work on the tenant (engine ping, compose config, checksums, plan, snapshot, write). */
export const TENANT_QUERY: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: WORKER_LOST_AFTER,
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
};

/** Image pulls: large and slow; a stalled pull is ended by the start-to-close timeout. */
export const IMAGE_PULL: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: WORKER_LOST_AFTER,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 4 },
  // A cancelled upgrade is recorded only once the compose process has stopped.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

/** Recreating containers. Idempotent (force-recreate), so a retry is safe. */
export const CONTAINER_RECREATE: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: WORKER_LOST_AFTER,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

/** How long recreated services get to become running and healthy. */
export const VERIFY_DEADLINE_MS = 90_000;

/** Long enough for any deadline a request may ask for (see the API's limit). */
export const VERIFY: ActivityOptions = {
  startToCloseTimeout: '11 minutes',
  heartbeatTimeout: WORKER_LOST_AFTER,
  retry: { initialInterval: '5 seconds', maximumAttempts: 2 },
};

/**
 * Sending one notification: retried without end, backing off to a minute, so
 * a receiver that is down for hours gets every event once it is back.
 */
export const NOTIFICATION_DELIVERY: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/** An idle delivery workflow looks for new events this often even when no signal woke it. */
export const NOTIFICATION_IDLE_RECHECK_MS = 5 * 60 * 1000;

/** One round of the agent watch: ping every approved agent. */
export const AGENT_CHECK: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
};
/** Drift check of one instance: checksums, a few reads, container and image look-ups. Bounded, so one slow tenant cannot hold the check. */
export const DRIFT_INSPECT: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 2 },
};

/** Instances a drift check looks at at once. */
export const DRIFT_PARALLELISM = 8;

/** How often the drift schedule runs when DRYDOCK_DRIFT_INTERVAL does not say. */
export const DEFAULT_DRIFT_INTERVAL = '30m';
