/**
 * drydock's Temporal surface, in one place: the task queue, workflow IDs and
 * types, signals, queries, updates, search attributes and the console URL.
 * Workflows register handlers for these definitions and clients (API, tests,
 * benches) call through them, so a name lives here only. Workflow code imports
 * this module: keep it to Temporal's workflow and common packages.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { OperatorAction, RolloutView, StepProgress, UpgradeMode, UpgradeStatus } from '../core/types.js';

/** One task queue for every upgrade path. */
export const TASK_QUEUE = 'drydock-upgrades';

/**
 * The ID is derived from the instance alone, so Temporal itself refuses a
 * second upgrade of an instance while one runs (workflowIdConflictPolicy
 * FAIL), whatever the path.
 */
export function upgradeWorkflowId(instanceSlug: string): string {
  return `upgrade-${instanceSlug}`;
}

export function slugFromWorkflowId(workflowId: string): string | undefined {
  return workflowId.startsWith('upgrade-') ? workflowId.slice('upgrade-'.length) : undefined;
}

export function rolloutWorkflowId(rolloutId: string): string {
  return `rollout-${rolloutId}`;
}

export function rolloutIdFromWorkflowId(workflowId: string): string {
  return workflowId.replace(/^rollout-/, '');
}

/** Workflow type names of the three upgrade paths. */
export const WORKFLOW_TYPE = { 'image-only': 'imageUpgrade', release: 'releaseUpgrade', full: 'fullUpgrade' } as const satisfies Record<UpgradeMode, string>;
/** Workflow type name of a fleet rollout. */
export const ROLLOUT_WORKFLOW_TYPE = 'fleetRollout';

// --- drift ---------------------------------------------------------------

/** Workflow type of the fleet's drift check (workflows/drift-check.ts). */
export const DRIFT_CHECK_WORKFLOW_TYPE = 'driftCheck';

/**
 * The Temporal Schedule that runs the drift check: one per control plane,
 * i.e. per task queue (the default queue keeps the plain name).
 */
export function driftScheduleId(taskQueue: string = TASK_QUEUE): string {
  return taskQueue === TASK_QUEUE ? 'drydock-drift-check' : `drydock-drift-check-${taskQueue}`;
}

/** A check started by the schedule gets this ID plus the time (Temporal appends it). */
export function driftCheckWorkflowId(taskQueue: string = TASK_QUEUE): string {
  return `drift-check-${taskQueue}`;
}

/** A check an operator asked for (POST /api/drift/check): one at a time, a second request joins it. */
export function manualDriftCheckWorkflowId(taskQueue: string = TASK_QUEUE): string {
  return `drift-check-now-${taskQueue}`;
}

export interface DriftCheckInput {
  /** Only these instances (by id); absent: the whole fleet. */
  instanceIds?: string[];
}

export interface DriftCheckResult {
  checked: number;
  inSync: number;
  drifted: number;
  unknown: number;
}

/** The visibility query of one control plane's rollouts: those on its task queue. */
export function rolloutsQuery(taskQueue: string = TASK_QUEUE): string {
  return `WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}' AND TaskQueue = '${taskQueue.replace(/['\\]/g, '')}'`;
}

// --- upgrades ---------------------------------------------------------------

export interface ProgressView {
  status: UpgradeStatus;
  currentStep: string | null;
  steps: StepProgress[];
  error: string | null;
  /** What the operator may do now (only while parked). */
  actions: OperatorAction[];
}

export const progressQuery = defineQuery<ProgressView>('progress');
/**
 * Validated: an action that does not fit the current state is rejected with
 * the reason. The second argument is who decided (the signed-in operator);
 * updates recorded before it existed carry only the action.
 */
export const operatorActionUpdate = defineUpdate<ProgressView, [OperatorAction, string?]>('operatorAction');

/** Sent to a parent rollout when a child parks, so a parked instance counts as failed at once. */
export const childParkedSignal = defineSignal<[{ workflowId: string; step: string; error: string }]>('childParked');

// --- rollouts ---------------------------------------------------------------

/** Who sent a signal (the signed-in operator); signals recorded before carry nothing. */
export interface OperatorSignal {
  by?: string;
}
export const pauseSignal = defineSignal<[OperatorSignal?]>('pause');
export const resumeSignal = defineSignal<[OperatorSignal?]>('resume');
export const approveNextWaveSignal = defineSignal<[OperatorSignal?]>('approveNextWave');
export const abortSignal = defineSignal<[OperatorSignal?]>('abort');
export const rolloutQuery = defineQuery<RolloutView>('rollout');

/** The signal behind each operator action on a rollout (POST /rollouts/:id/:action). */
export const ROLLOUT_ACTION_SIGNAL = {
  pause: pauseSignal,
  resume: resumeSignal,
  approve: approveNextWaveSignal,
  abort: abortSignal,
} as const;
export type RolloutAction = keyof typeof ROLLOUT_ACTION_SIGNAL;

// --- search attributes ------------------------------------------------------

/** The search attributes drydock sets, shared by workflows and the API's client. */
export const SEARCH = {
  slug: defineSearchAttributeKey('InstanceSlug', 'KEYWORD'),
  mode: defineSearchAttributeKey('UpgradeMode', 'KEYWORD'),
  tag: defineSearchAttributeKey('ImageTag', 'KEYWORD'),
  status: defineSearchAttributeKey('UpgradeStatus', 'KEYWORD'),
};

/** Their names, for registering them with a Temporal server (all keywords). */
export const SEARCH_ATTRIBUTE_NAMES = Object.values(SEARCH).map((k) => k.name);

// --- the console ------------------------------------------------------------

/** Temporal's web console page of a workflow's history (the latest run when runId is omitted). */
export function temporalWorkflowUrl(temporalUiUrl: string, workflowId: string, runId?: string | null): string {
  return `${temporalUiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}/history`;
}

// --- notifications ----------------------------------------------------------

/** Workflow type of the per-endpoint delivery loop and of the agent watch. */
export const NOTIFICATION_DELIVERY_WORKFLOW_TYPE = 'notificationDelivery';
export const AGENT_WATCH_WORKFLOW_TYPE = 'agentWatch';

/** One delivery workflow per endpoint: events reach it in order, one at a time. */
export function notificationWorkflowId(endpointId: string): string {
  return `notify-${endpointId}`;
}

/** One agent watch per control plane (per task queue). */
export function agentWatchWorkflowId(taskQueue: string): string {
  return `agent-watch-${taskQueue}`;
}

/** New deliveries are waiting: sent with signalWithStart after the outbox write. */
export const notificationsPendingSignal = defineSignal<[]>('notificationsPending');
