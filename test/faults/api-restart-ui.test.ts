/**
 * The control-plane API restarted while an operator watches an instance in
 * the web UI (the built UI in Debian's Chromium): while it is down the page
 * keeps polling at its usual pace (no reload storm, no navigation, no
 * sign-out), and once it is back the same page shows fresh data by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { freePort } from '../../platform/temporal-server.js';
import { buildUi, launchChromium, type Browser } from '../browser.js';
import { createTestDatabase, uniqueName, waitFor, type TestControlPlane } from '../support.js';
import { sleep, startControlPlaneOn } from './support.js';

const OUTAGE_MS = 15_000;

describe('the API restarted while an operator watches the UI', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let ui: Awaited<ReturnType<typeof buildUi>>;
  let browser: Browser;
  let cp: TestControlPlane;
  let port: number;
  let page: Page;

  const start = (operator?: TestControlPlane['operator']) => startControlPlaneOn(database.url, { port, uiDir: ui.dir, runWorker: false, operator });

  beforeAll(async () => {
    [database, ui, port] = await Promise.all([createTestDatabase(), buildUi(), freePort()]);
    cp = await start();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await cp?.stop();
    await ui?.remove();
    await database?.drop();
  });

  it('keeps polling at its usual pace while the API is down and shows fresh data once it is back, without a reload', async () => {
    const created = await cp.api('POST', '/api/instances', { slug: uniqueName('watched'), name: 'Watched tenant', composeDir: '/srv/watched', imageTag: '1.0.0' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await cp.api('POST', `/api/instances/${id}/upgrade-images`, {})).status).toBe(202);

    page = await browser.context.newPage();
    const login = await browser.context.request.post(`${cp.url}/api/auth/login`, { data: { email: cp.operator.email, password: cp.operator.password } });
    expect(login.status()).toBe(200);
    const requests: { at: number; url: string }[] = [];
    const answers: { at: number; url: string; status: number }[] = [];
    const navigations: string[] = [];
    page.on('request', (r) => r.url().includes('/api/') && requests.push({ at: Date.now(), url: r.url() }));
    page.on('response', (r) => r.url().includes('/api/') && answers.push({ at: Date.now(), url: r.url(), status: r.status() }));
    page.on('framenavigated', (f) => f === page.mainFrame() && navigations.push(f.url()));
    await page.goto(`${cp.url}/instances/${id}`);
    await page.getByText('1.0.0', { exact: true }).first().waitFor();
    // The page's steady polling, after its first loads.
    await sleep(3_000);
    const steadyFrom = Date.now();
    await sleep(9_000);
    const normalRate = requests.filter((r) => r.at >= steadyFrom).length / 9;

    const operator = cp.operator;
    await cp.stop();
    const down = Date.now();
    await sleep(OUTAGE_MS);
    const during = requests.filter((r) => r.at >= down);
    const perSecond = new Map<number, number>();
    for (const r of during) perSecond.set(Math.floor((r.at - down) / 1000), (perSecond.get(Math.floor((r.at - down) / 1000)) ?? 0) + 1);
    const burst = Math.max(0, ...perSecond.values());

    cp = await start(operator);
    const up = Date.now();
    expect((await cp.api('PATCH', `/api/instances/${id}`, { imageTag: '2.0.0' })).status).toBe(200);
    await page.getByText('2.0.0', { exact: true }).first().waitFor({ timeout: 30_000 });
    const recovered = (Date.now() - up) / 1000;
    const firstOk = answers.find((a) => a.at >= up && a.status === 200);
    console.log(
      `[fault] API down ${(OUTAGE_MS / 1000).toFixed(0)} s under a watching UI: ${during.length} requests meanwhile (${(during.length / (OUTAGE_MS / 1000)).toFixed(2)}/s, ` +
        `at most ${burst} in one second; ${normalRate.toFixed(2)}/s when up), main-frame navigations ${navigations.length}; ` +
        `first 200 ${firstOk ? ((firstOk.at - up) / 1000).toFixed(1) : '-'} s after the restart; new data shown ${recovered.toFixed(1)} s after it`,
    );

    // No storm: the outage does not speed polling up, and nothing reloads the page.
    expect(during.length / (OUTAGE_MS / 1000)).toBeLessThanOrEqual(Math.max(1, normalRate * 1.5));
    expect(burst).toBeLessThanOrEqual(3);
    expect(navigations).toHaveLength(1);
    // Still signed in (the session is in the database), on the same page, with fresh data.
    expect(await page.getByText('Sign in', { exact: false }).count()).toBe(0);
    expect(page.url()).toBe(`${cp.url}/instances/${id}`);
    await waitFor('an API answer after the restart', async () => (answers.some((a) => a.at >= up && a.status === 200) ? true : undefined), 15_000);
    expect(answers.filter((a) => a.at >= up && a.status >= 500)).toEqual([]);
  });
});
