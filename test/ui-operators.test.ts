/**
 * The Operators and Audit pages in a real browser (Debian's Chromium via
 * playwright-core) against the real control plane: a viewer sees what happens
 * but no action button anywhere it looks; an admin changes a viewer's role on
 * the Operators page, and the Audit page shows that change, before and after;
 * both pages at phone width.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUi, expectNoSideScroll, expectText, launchChromium, screenshotsDir, type Browser } from './browser.js';
import { startTestControlPlane, uniqueName, waitFor, type TestControlPlane, type TestOperator } from './support.js';

describe('the Operators and Audit pages in a real browser', () => {
  let cp: TestControlPlane;
  let ui: { dir: string; remove(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let shots: string;
  let viewer: TestOperator;
  let instanceId: string;
  let work: string;

  const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  const signIn = async (op: TestOperator) => {
    await page.goto(cp.url);
    await page.getByLabel('Email').fill(op.email);
    await page.getByLabel('Password').fill(op.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.getByTestId('whoami'), op.email);
  };

  /** The labels of every button in the page's main area. */
  const buttonsInMain = () => page.locator('main').getByRole('button').allInnerTexts();

  beforeAll(async () => {
    [ui, shots, browser] = await Promise.all([buildUi(), screenshotsDir(), launchChromium()]);
    cp = await startTestControlPlane({ uiDir: ui.dir });
    viewer = await cp.createOperator(`viewer-${uniqueName('')}@drydock.test`, uniqueName('pw-'), 'viewer');
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-ui-ops-'));
    const created = await cp.api('POST', '/api/instances', { slug: uniqueName('uiops-'), name: 'Roles tenant', composeDir: work });
    expect(created.status).toBe(201);
    instanceId = created.body.id;
    page = await browser.context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await cp?.stop();
    await ui?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('shows a viewer the audit log, the instance and the rollouts, with no action button', async () => {
    await signIn(viewer);
    expect(await page.getByTestId('whoami-role').innerText()).toBe('viewer');

    await page.getByRole('link', { name: 'Operators' }).click();
    await expectText(page.getByTestId('operators-admin-only'), 'needs the admin role');
    expect(await buttonsInMain()).toEqual([]);
    await shot('operators-01-viewer');

    await page.getByRole('link', { name: 'Audit' }).click();
    // The viewer's own sign-in is there.
    await expectText(page.getByTestId('audit'), viewer.email);
    await expectText(page.getByTestId('audit'), 'auth.sign-in');
    // Filtering is all a viewer can do here.
    expect(await buttonsInMain()).toEqual(['Filter']);
    await shot('audit-01-viewer');

    await page.goto(`${cp.url}/instances/${instanceId}`);
    await expectText(page.getByTestId('viewer-note'), 'needs the operator role');
    expect(await page.getByRole('button', { name: 'Upgrade Now' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Rollouts' }).click();
    await page.getByRole('heading', { name: 'Rollouts' }).waitFor();
    expect(await page.getByRole('button', { name: 'Start a rollout' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('heading', { name: 'Invite codes' }).waitFor();
    expect(await page.getByRole('button', { name: 'Create invite code' }).count()).toBe(0);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  it("lets an admin change the viewer's role, and the Audit page shows the change", async () => {
    await signIn(cp.operator);
    await page.getByRole('link', { name: 'Operators' }).click();
    const row = page.locator(`tr[data-email="${viewer.email}"]`);
    await row.waitFor();
    expect(await row.getByRole('button').allInnerTexts()).toEqual(['Disable']);
    await row.getByLabel(`Role of ${viewer.email}`).selectOption('operator');

    const after = await waitFor('the role change to be saved', async () => {
      const ops = await cp.api('GET', '/api/operators');
      const o = ops.body.find((x: { email: string }) => x.email === viewer.email);
      return o?.role === 'operator' ? o : undefined;
    }, 15_000);
    expect(after.role).toBe('operator');
    await waitFor('the select to show the saved role', async () => ((await row.getByLabel(`Role of ${viewer.email}`).inputValue()) === 'operator' ? true : undefined), 15_000);
    await shot('operators-02-admin-changed-role');

    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByLabel('Action (e.g. upgrade.* or instance.update)').fill('operator.update');
    await page.getByRole('button', { name: 'Filter' }).click();
    const audit = page.getByTestId('audit');
    await expectText(audit, 'operator.update');
    await expectText(audit, '"role":"viewer"');
    await expectText(audit, '"role":"operator"');
    await expectText(audit, cp.operator.email);
    const csv = await page.getByTestId('export-csv').getAttribute('href');
    expect(csv).toBe('/api/audit/export?action=operator.update&format=csv');
    await shot('audit-02-admin-role-change');
  });

  it('is usable at phone width: no sideways scrolling on the Operators and Audit pages', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const where of ['/operators', '/audit']) {
      await page.goto(`${cp.url}${where}`);
      await page.locator('main table').waitFor();
      await expectNoSideScroll(page, where);
      await shot(`phone${where.replace('/', '-')}`);
    }
  });
});
