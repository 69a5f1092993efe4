import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { endpointWants, signBody, slackBody, urlOrigin, verifySignature, webhookBody, type NotificationEvent } from './notifications.js';

const event: NotificationEvent = {
  id: '7',
  type: 'upgrade.parked',
  at: '2026-12-04T03:00:00.000Z',
  summary: 'image-only upgrade of acme to 2.0 parked at pull: <denied> & more',
  instance: { id: 'i1', slug: 'acme', labels: ['eu'] },
  details: { step: 'pull', error: 'pull access denied', empty: null },
  links: { ui: 'https://drydock.example.com/instances/i1', temporal: 'https://temporal.example.com/h' },
};

describe('notification signatures', () => {
  it('signs "<timestamp>.<body>" with HMAC-SHA256, as the docs tell receivers to check', () => {
    const body = webhookBody(event);
    const expected = createHmac('sha256', 'k'.repeat(20)).update(`1700000000.${body}`).digest('hex');
    expect(signBody('k'.repeat(20), 1700000000, body)).toBe(`sha256=${expected}`);
  });

  it('verifies a fresh signature and refuses a changed body, another secret, another timestamp or an old one', () => {
    const body = webhookBody(event);
    const sig = signBody('secret-0123456789', 1000, body);
    expect(verifySignature('secret-0123456789', '1000', body, sig, 1100)).toBe(true);
    expect(verifySignature('secret-0123456789', '1000', `${body} `, sig, 1100)).toBe(false);
    expect(verifySignature('secret-0123456789x', '1000', body, sig, 1100)).toBe(false);
    expect(verifySignature('secret-0123456789', '1001', body, sig, 1100)).toBe(false);
    // A recorded request replayed later than the tolerance is refused even with its own valid signature.
    expect(verifySignature('secret-0123456789', '1000', body, sig, 1000 + 301)).toBe(false);
    expect(verifySignature('secret-0123456789', 'soon', body, sig, 1000)).toBe(false);
  });
});

describe('which endpoint wants which event', () => {
  const ep = (events: string[], labels: string[] = []) => ({ events, labels });
  it('sends only the chosen event types', () => {
    expect(endpointWants(ep(['upgrade.parked']), 'upgrade.parked', [])).toBe(true);
    expect(endpointWants(ep(['upgrade.parked']), 'upgrade.failed', [])).toBe(false);
  });
  it('needs every label of the endpoint on the instance, and does not filter events of no instance', () => {
    expect(endpointWants(ep(['upgrade.parked'], ['eu', 'prod']), 'upgrade.parked', ['eu', 'prod', 'x'])).toBe(true);
    expect(endpointWants(ep(['upgrade.parked'], ['eu', 'prod']), 'upgrade.parked', ['eu'])).toBe(false);
    expect(endpointWants(ep(['rollout.finished'], ['eu']), 'rollout.finished', null)).toBe(true);
  });
  it('sends a test event whatever was chosen', () => {
    expect(endpointWants(ep([]), 'test', null)).toBe(true);
  });
});

describe('bodies', () => {
  it('gives Slack the summary as text and blocks, with its markup characters escaped and empty details left out', () => {
    const slack = JSON.parse(slackBody(event));
    expect(slack.text).toBe(event.summary);
    expect(slack.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: '*image-only upgrade of acme to 2.0 parked at pull: &lt;denied&gt; &amp; more*' } },
      { type: 'section', text: { type: 'mrkdwn', text: '*step*: pull\n*error*: pull access denied' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: '<https://drydock.example.com/instances/i1|Open in drydock> · <https://temporal.example.com/h|Temporal history>' }] },
    ]);
  });
  it('shows a URL as its origin only, so a Slack webhook path never appears', () => {
    expect(urlOrigin('https://hooks.slack.com/services/T0/B0/secretpath?x=1')).toBe('https://hooks.slack.com');
    expect(urlOrigin('not a url')).toBe('an invalid URL');
  });
});
