/**
 * The Rollouts page in a real browser (Debian's Chromium, playwright-core)
 * against the real control plane, the Temporal dev server, the worker and two
 * real Docker Compose tenants.
 *
 * Start a Quick Upgrade rollout over both tenants from the page (waves
 * [1, "100%"], approval between waves) after previewing its waves; watch wave
 * 1 finish live and the rollout wait for approval; approve; see it succeed.
 * Then the same pages at phone width. Screenshots go to
 * artifacts/ui-screenshots/ (git ignores it; CI keeps it).
 */
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUi, expectNoSideScroll, expectText, launchChromium, screenshotsDir, type Browser } from './browser.js';
import { buildAndPushImage, registryAddress, type BuiltImage } from './harness/images.js';
import { APP_SERVICES, createTenant, type Tenant } from './harness/tenant.js';
import { startTestControlPlane, uniqueName, type TestControlPlane } from './support.js';

describe('the Rollouts page in a real browser', () => {
  let cp: TestControlPlane;
  let ui: { dir: string; remove(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let shots: string;
  const tenants: Tenant[] = [];
  const ids: string[] = [];
  let from: string;
  let to: string;
  let next: BuiltImage;
  let rolloutId: string;

  const shot = async (name: string, p: Page = page, fullPage = true) => {
    await p.screenshot({ path: path.join(shots, `${name}.png`), fullPage });
  };

  beforeAll(async () => {
    const appRepo = `${registryAddress()}/drydock/ui-rollout-app`;
    const infraImage = `${registryAddress()}/drydock/ui-rollout-infra:${uniqueName('i')}`;
    from = uniqueName('r1-');
    to = uniqueName('r2-');
    const images = async () => {
      await Promise.all([buildAndPushImage(`${appRepo}:${from}`, `one ${from}`), buildAndPushImage(infraImage, 'infra')]);
      next = await buildAndPushImage(`${appRepo}:${to}`, `two ${to}`);
    };
    [ui, , shots, browser] = await Promise.all([buildUi(), images(), screenshotsDir(), launchChromium()]);
    cp = await startTestControlPlane({ uiDir: ui.dir });
    await Promise.all(
      [0, 1].map(async (n) => {
        const tenant = await createTenant({ project: uniqueName(`uiroll${n}-`), imageTag: from, appImage: appRepo, infraImage });
        tenants[n] = tenant;
        await tenant.up();
        const res = await cp.api('POST', '/api/instances', { slug: tenant.project, name: `Shop ${n + 1}`, composeDir: tenant.dir, imageTag: from, labels: ['eu'] });
        expect(res.status).toBe(201);
        ids[n] = res.body.id;
      }),
    );
    page = await browser.context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(tenants.filter(Boolean).map((t) => t.down()));
    await cp?.stop();
    await ui?.remove();
  });

  it('signs in and opens the Rollouts page from the navigation', async () => {
    await page.goto(cp.url);
    await page.getByLabel('Email').fill(cp.operator.email);
    await page.getByLabel('Password').fill(cp.operator.password);
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rollouts' }).click();
    await expectText(page.locator('.empty'), 'No rollout yet');
    expect(await page.getByRole('link', { name: 'Rollouts' }).getAttribute('aria-current')).toBe('page');
  });

  it('previews the waves before Start: a bad wave is named beside its field, a changed form needs a new preview', async () => {
    const opener = page.getByRole('button', { name: 'Start a rollout' });
    await opener.click();
    const dialog = page.getByRole('dialog', { name: 'Start a rollout' });
    await dialog.waitFor();
    // Keyboard: focus starts inside, Tab stays inside, Escape closes and gives focus back.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('rollout-mode');
    for (let n = 0; n < 6; n++) {
      await page.keyboard.press(n % 3 === 2 ? 'Shift+Tab' : 'Tab');
      expect(await page.evaluate(() => !!document.activeElement?.closest('[role="dialog"]'))).toBe(true);
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Start a rollout');
    await opener.click();

    const start = dialog.getByRole('button', { name: 'Start rollout' });
    expect(await page.locator('#rollout-mode').inputValue()).toBe('image-only');
    await page.locator('#rollout-tag').fill(to);
    await dialog.locator(`.picker-item[data-slug="${tenants[0]!.project}"] input`).check();
    await dialog.locator(`.picker-item[data-slug="${tenants[1]!.project}"] input`).check();
    await page.locator('#rollout-parallel').fill('2');
    expect(await dialog.getByRole('radio', { name: /Wait for an operator/ }).isChecked()).toBe(true);

    // A wave that is neither a count nor a percentage: said beside the field, before any request.
    await page.locator('#rollout-waves').fill('1, lots');
    await page.locator('#rollout-waves').press('Enter');
    await expectText(page.locator('#rollout-waves-error'), '"lots" must be a count or a percentage');
    expect(await start.isDisabled()).toBe(true);
    await shot('desktop-rollouts-01-start-form-error', page, false);

    await page.locator('#rollout-waves').fill('1, 100%');
    await dialog.getByRole('button', { name: 'Preview waves' }).click();
    const preview = page.getByTestId('wave-preview');
    await expectText(preview, '2 instances in 2 waves');
    const waves = await preview.locator('.wave-item').evaluateAll((els) =>
      els.map((e) => [e.getAttribute('data-wave'), [...e.querySelectorAll('[data-slug]')].map((c) => c.getAttribute('data-slug'))]),
    );
    expect(waves).toEqual([
      ['1', [tenants[0]!.project]],
      ['2', [tenants[1]!.project]],
    ]);
    expect(await start.isEnabled()).toBe(true);
    await shot('desktop-rollouts-02-preview', page, false);

    // Any change makes the preview stale until previewed again.
    await page.locator('#rollout-parallel').fill('3');
    expect(await start.isDisabled()).toBe(true);
    await expectText(dialog.locator('.modal-foot'), 'preview again to start');
    await page.locator('#rollout-parallel').fill('2');
    expect(await start.isEnabled()).toBe(true);
  });

  it('starts the rollout, shows wave 1 finish live and the rollout await approval, with no layout shift', async () => {
    await page.getByRole('dialog').getByRole('button', { name: 'Start rollout' }).click();
    await page.waitForURL(/\/rollouts\/[0-9a-f-]{36}$/);
    rolloutId = new URL(page.url()).pathname.split('/').pop()!;
    const rollout = page.getByTestId('rollout');
    await rollout.waitFor();
    await page.evaluate(() => {
      type Shift = { value: number; hadRecentInput: boolean; startTime: number; sources?: { node?: Node | null }[] };
      const w = window as unknown as { __shifts: { value: number; recent: boolean; what: string[] }[] };
      w.__shifts = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries() as unknown as Shift[]) {
          const what = (e.sources ?? []).map((s) => (s.node instanceof Element ? `${s.node.tagName}.${s.node.className}` : String(s.node?.nodeName)));
          w.__shifts.push({ value: e.value, recent: e.hadRecentInput, what });
        }
      }).observe({ type: 'layout-shift', buffered: false });
    });

    const wave1 = page.locator('article.wave[data-wave="1"]');
    const wave2 = page.locator('article.wave[data-wave="2"]');
    expect(await wave1.locator('tbody tr').getAttribute('data-slug')).toBe(tenants[0]!.project);
    expect(await wave2.locator('tbody tr').getAttribute('data-slug')).toBe(tenants[1]!.project);
    await page.locator('[data-testid="rollout"][data-status="awaiting-approval"]').waitFor({ timeout: 60_000 });
    await shot('desktop-rollouts-03-awaiting-approval');

    expect(await page.getByTestId('rollout-status').innerText()).toBe('awaiting approval');
    expect(await wave1.locator(`tr[data-slug="${tenants[0]!.project}"]`).getAttribute('data-status')).toBe('updated');
    expect(await wave1.getAttribute('data-state')).toBe('done');
    expect(await wave2.locator('tbody tr').getAttribute('data-status')).toBe('pending');
    expect(await wave2.getAttribute('data-state')).toBe('awaiting-approval');
    await expectText(page.getByTestId('rollout-note'), 'Wave 1 of 2 is done. Approve to start wave 2.');
    await expectText(page.getByTestId('rollout-log'), 'waiting for approval of the next wave');
    const controls = page.getByTestId('rollout-controls');
    const enabled = async () =>
      Object.fromEntries(
        await Promise.all(['Pause', 'Resume', 'Approve next wave', 'Abort…'].map(async (n) => [n, await controls.getByRole('button', { name: n, exact: true }).isEnabled()])),
      );
    expect(await enabled()).toEqual({ Pause: false, Resume: false, 'Approve next wave': true, 'Abort…': true });

    // Live progress moved nothing on the page.
    const shifts = await page.evaluate(() => (window as any).__shifts.filter((s: any) => !s.recent));
    const cls = shifts.reduce((a: number, s: { value: number }) => a + s.value, 0);
    expect(cls, JSON.stringify(shifts)).toBeLessThan(0.01);

    // The instance's own upgrade is a link away.
    const view = (await cp.api('GET', `/api/rollouts/${rolloutId}`)).body;
    const first = view.instances.find((i: { wave: number }) => i.wave === 0);
    expect(await wave1.getByRole('link', { name: `the upgrade of ${tenants[0]!.project}` }).getAttribute('href')).toBe(
      `/instances/${ids[0]}?upgrade=${first.upgradeId}`,
    );
  });

  it('approves the next wave and shows the rollout succeed', async () => {
    await page.getByRole('button', { name: 'Approve next wave' }).click();
    await page.locator('[data-testid="rollout"][data-status="succeeded"]').waitFor({ timeout: 60_000 });
    await expectText(page.getByTestId('rollout-note'), 'Finished');
    const controls = page.getByTestId('rollout-controls');
    for (const b of await controls.getByRole('button').all()) expect(await b.isDisabled()).toBe(true);
    expect(await page.locator('article.wave[data-wave="2"] tbody tr').getAttribute('data-status')).toBe('updated');
    await expectText(page.getByTestId('rollout-log'), 'rollout succeeded: 2 updated, 0 failed, 0 skipped');
    await shot('desktop-rollouts-04-succeeded');

    const end = (await cp.api('GET', `/api/rollouts/${rolloutId}`)).body;
    expect(end).toMatchObject({ status: 'succeeded', counts: { updated: 2, failed: 0 }, requestedBy: cp.operator.email, mode: 'image-only' });
    for (const t of tenants) {
      const c = await t.containers();
      for (const s of APP_SERVICES) expect(c[s]!.imageId, `${t.project}/${s}`).toBe(next.id);
    }

    // The instance's upgrade, from the rollout's link.
    await page.getByRole('link', { name: `the upgrade of ${tenants[1]!.project}` }).click();
    const card = page.locator('[data-testid="upgrade-card"][data-status="succeeded"]');
    await card.waitFor();
    await expectText(card.locator('h2'), `Quick Upgrade to ${to}`);
    await expectText(card, `rollout ${rolloutId} by ${cp.operator.email}`);

    // And the list.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rollouts' }).click();
    const row = page.locator(`tr[data-rollout="${rolloutId}"]`);
    await expectText(row.locator('td[data-label="Status"]'), 'succeeded');
    expect(await row.locator('td[data-label="Path"]').innerText()).toBe('Quick Upgrade');
    expect(await row.locator('td[data-label="By"]').innerText()).toBe(cp.operator.email);
    await expectText(row.locator('td[data-label="Progress"]'), '2/2 updated');
    await shot('desktop-rollouts-05-list');
  });

  it('is usable at phone width: no sideways scrolling on the list, the rollout and the start form', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    const noSideScroll = (what: string) => expectNoSideScroll(phone, what);
    const inside = async (l: Locator, what: string) => {
      const box = (await l.boundingBox())!;
      expect(box.x, what).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, what).toBeLessThanOrEqual(390);
    };
    try {
      await phone.goto(`${cp.url}/rollouts`);
      await expectText(phone.locator(`tr[data-rollout="${rolloutId}"]`), '2/2 updated');
      await noSideScroll('the rollouts list');
      await shot('phone-rollouts-01-list', phone);

      await phone.goto(`${cp.url}/rollouts/${rolloutId}`);
      await phone.locator('[data-testid="rollout"][data-status="succeeded"]').waitFor();
      await noSideScroll('a rollout');
      for (const name of ['Pause', 'Resume', 'Approve next wave', 'Abort…']) await inside(phone.getByRole('button', { name, exact: true }), name);
      await shot('phone-rollouts-02-rollout', phone);

      await phone.goto(`${cp.url}/rollouts`);
      await phone.getByRole('button', { name: 'Start a rollout' }).click();
      const dialog = phone.getByRole('dialog', { name: 'Start a rollout' });
      await dialog.locator('.picker-item').first().waitFor();
      await dialog.getByRole('radio', { name: 'With a label' }).check();
      await phone.locator('#rollout-label').fill('eu');
      await noSideScroll('the start form');
      await shot('phone-rollouts-03-start-form', phone, false);
      await phone.locator('#rollout-waves').fill('1, 50%, 100%');
      await dialog.getByRole('button', { name: 'Preview waves' }).click();
      await expectText(phone.getByTestId('wave-preview'), '2 instances in 2 waves');
      await noSideScroll('the start form with its preview');
      const startButton = dialog.getByRole('button', { name: 'Start rollout' });
      await inside(startButton, 'Start rollout');
      expect(await startButton.isVisible()).toBe(true);
      await phone.getByTestId('wave-preview').scrollIntoViewIfNeeded();
      await dialog.screenshot({ path: path.join(shots, 'phone-rollouts-04-start-preview.png') });
      await phone.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
    } finally {
      await phone.close();
    }
  });
});
