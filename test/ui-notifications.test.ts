/**
 * The Notifications page in a real browser (Debian's Chromium via
 * playwright-core) against the real control plane and a real receiver on
 * loopback: an admin adds a signed webhook with a generated secret, sends a
 * test event that the receiver refuses once, watches the delivery go from
 * retrying to delivered, edits and deletes the endpoint; a viewer is told the
 * page is an admin's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../core/notifications.js';
import { buildUi, expectNoSideScroll, expectText, launchChromium, screenshotsDir, type Browser } from './browser.js';
import { startTestControlPlane, uniqueName, waitFor, type TestControlPlane, type TestOperator } from './support.js';

describe('the Notifications page in a real browser', () => {
  let cp: TestControlPlane;
  let ui: { dir: string; remove(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let shots: string;
  let server: Server;
  let receiverUrl: string;
  const received: { raw: string; ts: string; sig: string; answered: number }[] = [];

  const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  const signIn = async (op: TestOperator) => {
    await page.goto(cp.url);
    await page.getByLabel('Email').fill(op.email);
    await page.getByLabel('Password').fill(op.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.getByTestId('whoami'), op.email);
  };

  beforeAll(async () => {
    // Refuses the first request, then takes every one.
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        const answered = received.length === 0 ? 503 : 200;
        received.push({ raw, ts: String(req.headers['x-drydock-timestamp']), sig: String(req.headers['x-drydock-signature']), answered });
        res.writeHead(answered).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    [ui, shots, browser] = await Promise.all([buildUi(), screenshotsDir(), launchChromium()]);
    cp = await startTestControlPlane({ uiDir: ui.dir });
    page = await browser.context.newPage();
  });

  afterAll(async () => {
    for (const e of (await cp?.api('GET', '/api/notifications/endpoints'))?.body ?? []) await cp.api('DELETE', `/api/notifications/endpoints/${e.id}`);
    await browser?.close();
    await cp?.stop();
    await ui?.remove();
    await new Promise((r) => server?.close(r));
  });

  it('lets an admin add a signed webhook, send a test event and see it delivered after a refused try', async () => {
    await signIn(cp.operator);
    await page.getByRole('link', { name: 'Notifications' }).click();
    await page.getByRole('button', { name: 'Add endpoint' }).first().click();
    const form = page.getByTestId('endpoint-form');
    await form.getByLabel('Name').fill('on-call');
    // A bad URL is refused beside its field before anything is sent.
    await form.getByLabel('URL').fill('ftp://nowhere');
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await expectText(form, 'must be an http:// or https:// URL');
    await form.getByLabel('URL').fill(`${receiverUrl}/hooks/drydock`);
    await form.getByRole('button', { name: 'Generate' }).click();
    const secret = await form.getByLabel('Signing secret').inputValue();
    expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    await form.getByLabel('upgrade.succeeded').check();
    await form.getByLabel('Only instances with these labels').fill('eu, production');
    await shot('notifications-01-add');
    await form.getByRole('button', { name: 'Add endpoint' }).click();

    const row = page.locator('tr[data-endpoint="on-call"]');
    await expectText(row, `${receiverUrl}/…`);
    await expectText(row, 'eu, production');
    await expectText(row, 'upgrade.succeeded');
    expect(await page.locator('main').innerText()).not.toContain(secret);
    expect(await page.locator('main').innerText()).not.toContain('/hooks/drydock');

    await row.getByRole('button', { name: 'Send test' }).click();
    const deliveries = page.getByTestId('notification-deliveries');
    await expectText(deliveries, 'delivered', 60_000);
    const test = deliveries.locator('tr[data-event="test"]');
    await expectText(test, 'delivered');
    expect(await test.locator('td[data-label="Attempts"]').innerText()).toBe('2'); // refused once, then taken
    await shot('notifications-02-delivered');

    const taken = await waitFor('the test event', async () => received.find((r) => r.answered === 200));
    expect(JSON.parse(taken.raw)).toMatchObject({ type: 'test', details: { endpoint: 'on-call', sentBy: cp.operator.email } });
    expect(verifySignature(secret, taken.ts, taken.raw, taken.sig, Math.floor(Date.now() / 1000), 600)).toBe(true);
  });

  it('edits the endpoint keeping its URL and secret, then deletes it', async () => {
    const row = page.locator('tr[data-endpoint="on-call"]');
    await row.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByTestId('endpoint-form');
    await expectText(form, 'leave empty to keep the URL');
    await form.getByLabel('Name').fill('on-call (eu)');
    await form.getByRole('button', { name: 'Save' }).click();
    const renamed = page.locator('tr[data-endpoint="on-call (eu)"]');
    await expectText(renamed, 'set');
    const [listed] = (await cp.api('GET', '/api/notifications/endpoints')).body;
    expect(listed).toMatchObject({ name: 'on-call (eu)', urlOrigin: receiverUrl, secret: 'set', labels: ['eu', 'production'] });
    await page.setViewportSize({ width: 390, height: 844 });
    await expectNoSideScroll(page, 'the Notifications page at phone width');
    await shot('notifications-03-phone');
    await page.setViewportSize({ width: 1280, height: 900 });

    page.once('dialog', (d) => void d.accept());
    await renamed.getByRole('button', { name: 'Delete' }).click();
    await waitFor('the endpoint gone', async () => ((await cp.api('GET', '/api/notifications/endpoints')).body.length === 0 ? true : undefined));
  });

  it('tells a viewer the page is an admin’s, with no button to press', async () => {
    const viewer = await cp.createOperator(`viewer-${uniqueName('')}@drydock.test`, uniqueName('pw-'), 'viewer');
    await page.context().clearCookies();
    await signIn(viewer);
    await page.getByRole('link', { name: 'Notifications' }).click();
    await expectText(page.getByTestId('notifications-admin-only'), 'an admin’s');
    expect(await page.locator('main').getByRole('button').count()).toBe(0);
  });
});
