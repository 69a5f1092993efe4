/**
 * Notifications, the pure part: which events exist, which endpoint wants
 * which event, the bodies a receiver gets (drydock's JSON or a Slack-style
 * message) and the signature over them. Sending, storing and retrying live in
 * platform/ and activities/.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import type { NotificationEventType } from './notification-events.js';

export { ENDPOINT_KINDS, NOTIFICATION_EVENTS, type EndpointKind, type NotificationEventType } from './notification-events.js';

/** What an event says, whatever the endpoint's format. */
export interface NotificationEvent {
  /** The outbox row's id: increasing, so a receiver can order and deduplicate. */
  id: string;
  type: NotificationEventType | 'test';
  at: string;
  /** One line for people (Slack's text, a mail subject). */
  summary: string;
  instance?: { id: string; slug: string; labels: string[] } | null;
  /** Type-specific facts: the step and error of a parked upgrade, a rollout's counts, … */
  details: Record<string, unknown>;
  /** The upgrade or rollout in drydock's UI, and its history in the Temporal console. */
  links: { ui?: string; temporal?: string };
}

/**
 * Whether an endpoint wants an event: it chose the event type, and the
 * instance carries every label the endpoint names. Events of no single
 * instance (rollouts) are not filtered by labels.
 */
export function endpointWants(endpoint: { events: readonly string[]; labels: readonly string[] }, type: string, instanceLabels: readonly string[] | null): boolean {
  if (type === 'test') return true;
  if (!endpoint.events.includes(type)) return false;
  if (instanceLabels === null || endpoint.labels.length === 0) return true;
  return endpoint.labels.every((l) => instanceLabels.includes(l));
}

export const SIGNATURE_HEADER = 'X-Drydock-Signature';
export const TIMESTAMP_HEADER = 'X-Drydock-Timestamp';
export const EVENT_HEADER = 'X-Drydock-Event';
export const DELIVERY_HEADER = 'X-Drydock-Delivery';

/**
 * `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`: the timestamp (Unix
 * seconds, sent in X-Drydock-Timestamp) is signed with the body, so a
 * receiver that refuses old timestamps cannot be fed a recorded request again.
 */
export function signBody(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver does (docs/NOTIFICATIONS.md shows the same in a few lines). */
export function verifySignature(secret: string, timestamp: string, body: string, signature: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(signBody(secret, ts, body));
  const got = Buffer.from(signature);
  return expected.length === got.length && timingSafeEqual(expected, got);
}

/** The body a generic webhook gets: the event as it is. */
export function webhookBody(e: NotificationEvent): string {
  return JSON.stringify(e);
}

/** A Slack incoming-webhook message: `text` for notifications, blocks with the facts and links. */
export function slackBody(e: NotificationEvent): string {
  const facts = Object.entries(e.details)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `*${k}*: ${slackEscape(typeof v === 'string' ? v : JSON.stringify(v)).slice(0, 1500)}`);
  const links = [e.links.ui && `<${e.links.ui}|Open in drydock>`, e.links.temporal && `<${e.links.temporal}|Temporal history>`].filter(Boolean);
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: `*${slackEscape(e.summary)}*` } }];
  if (facts.length > 0) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: facts.join('\n') } });
  if (links.length > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: links.join(' · ') }] });
  return JSON.stringify({ text: e.summary, blocks });
}

/** Slack reads &, < and > as markup. */
function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Where a URL points, without its path and query: a Slack webhook URL's path is its credential. */
export function urlOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an invalid URL';
  }
}
