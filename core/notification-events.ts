/**
 * The notification events and endpoint kinds, dependency-free: the API's
 * schemas (bundled by the UI) and the workflows read them.
 */
export const NOTIFICATION_EVENTS = [
  'upgrade.parked',
  'upgrade.failed',
  'upgrade.succeeded',
  'upgrade.rolled-back',
  'rollout.paused',
  'rollout.awaiting-approval',
  'rollout.finished',
  'agent.awaiting-approval',
  'agent.offline',
  'drift.found',
] as const;
export type NotificationEventType = (typeof NOTIFICATION_EVENTS)[number];

export const ENDPOINT_KINDS = ['webhook', 'slack'] as const;
export type EndpointKind = (typeof ENDPOINT_KINDS)[number];
