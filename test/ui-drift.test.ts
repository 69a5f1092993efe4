/**
 * Fleet at a glance and the drift report in a real browser (Debian's Chromium
 * via playwright-core) against the real control plane and PostgreSQL. The
 * drift results are written straight into the database through the drift
 * repository, for instances of the example bundle's releases (examples/notes) (the check itself runs on real tenants in test/drift.test.ts):
 * what is under test here is what the pages make of them. Screenshots go to
 * artifacts/ui-screenshots/.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { createDriftRepo } from '../prisma/drift-repo.js';
import { createInstanceRepo } from '../prisma/repositories.js';
import { unknownDrift } from '../core/drift.js';
import { buildUi, expectNoSideScroll, expectText, launchChromium, screenshotsDir, type Browser } from './browser.js';
import { startTestControlPlane, uniqueName, type TestControlPlane } from './support.js';

describe('fleet at a glance and the drift report in the web UI', () => {
  let cp: TestControlPlane;
  let ui: { dir: string; remove(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let shots: string;
  const slugs = { sync: uniqueName('sync-'), drifted: uniqueName('drift-'), gone: uniqueName('gone-'), parked: uniqueName('park-') };
  const ids: Record<keyof typeof slugs, string> = { sync: '', drifted: '', gone: '', parked: '' };

  beforeAll(async () => {
    [ui, shots, browser] = await Promise.all([buildUi(), screenshotsDir(), launchChromium()]);
    cp = await startTestControlPlane({ uiDir: ui.dir, releasesDir: path.join(REPO_ROOT, 'examples', 'notes') });
    const instances = createInstanceRepo(cp.db.prisma);
    const drift = createDriftRepo(cp.db.prisma);
    const make = async (key: keyof typeof slugs, release: string, labels: string[]) => {
      ids[key] = (await instances.create({
        slug: slugs[key],
        name: key,
        composeDir: `/srv/${slugs[key]}`,
        composeProjectName: slugs[key],
        coreServices: ['api'],
        imageTag: '1.0.0',
        labels,
        releaseVersion: release,
      }))!.id;
    };
    await make('sync', 'notes-1.0.0', ['eu']);
    await make('drifted', 'notes-1.0.0', ['eu', 'canary']);
    await make('gone', 'notes-1.1.0', ['us']);
    await make('parked', 'notes-1.1.0', ['us']);
    const base = { release: 'notes-1.0.0', imageTag: '1.0.0', checked: { files: 3, services: 2 } };
    await drift.record(ids.sync, { ...base, status: 'in-sync', files: [], images: [] });
    await drift.record(ids.parked, { ...base, status: 'in-sync', files: [], images: [] });
    await drift.record(ids.drifted, {
      ...base,
      status: 'drifted',
      files: [{ path: 'docker-compose.yml', status: 'modified', truncated: false, diff: '--- a/docker-compose.yml\n+++ b/docker-compose.yml\n@@ -1,2 +1,2 @@\n services:\n-  interval: 1s\n+  interval: 7s\n' }],
      images: [{ service: 'api', expected: 'reg/api:1.0.0', running: 'reg/api:1.0.0', runningImageId: 'sha256:aaaaaaaaaaaaaaaa', expectedImageId: 'sha256:bbbbbbbbbbbbbbbb', problem: 'image-changed' }],
    });
    await drift.record(ids.gone, unknownDrift('the agent at https://10.0.0.9:8443 is unreachable (readFiles): connect ECONNREFUSED'));
    await cp.db.prisma.instanceUpgrade.create({
      data: { id: uniqueName('upg-'), instanceId: ids.parked, mode: 'release', imageTag: '1.1.0', status: 'needs-attention', currentStep: 'verify', workflowId: `upgrade-${slugs.parked}` },
    });

    page = await browser.context.newPage();
    await page.goto(cp.url);
    await page.getByLabel('Email').fill(cp.operator.email);
    await page.getByLabel('Password').fill(cp.operator.password);
    await page.getByLabel('Password').press('Enter');
    await page.getByTestId('whoami').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await cp?.stop();
    await ui?.remove();
  });

  const rows = (p: Page) => p.getByTestId('instances-table').locator('tbody tr');
  const shownSlugs = async (p: Page) => (await rows(p).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-slug')))).sort();

  it('sums the fleet up: instances per release as a chart, and how many are parked, drifted and offline', async () => {
    const summary = page.getByTestId('fleet-summary');
    await summary.waitFor();
    await expectText(page.getByTestId('count-parked'), '1 parked');
    await expectText(page.getByTestId('count-drifted'), '1 drifted');
    await expectText(page.getByTestId('count-offline'), '1 offline');
    const chart = page.getByTestId('release-chart');
    expect(await chart.evaluate((el) => el.tagName)).toBe('CANVAS');
    expect(await chart.getAttribute('aria-label')).toBe('Instances per release: notes-1.0.0 2, notes-1.1.0 2');
    // Drawn: the canvas has painted pixels, not a blank box.
    const painted = await chart.evaluate((el) => {
      const c = el as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
      return n;
    });
    expect(painted).toBeGreaterThan(100);
    await page.screenshot({ path: path.join(shots, 'fleet-at-a-glance.png'), fullPage: true });
  });

  it('shows each instance’s drift in the table and filters by label and by state', async () => {
    const badge = (key: keyof typeof slugs) => rows(page).and(page.locator(`[data-slug="${slugs[key]}"]`)).locator('td[data-label="Drift"]');
    await expectText(badge('sync'), 'in sync');
    await expectText(badge('drifted'), 'drifted');
    await expectText(badge('gone'), 'unknown');

    await page.getByTestId('filter-label').selectOption('eu');
    expect(await shownSlugs(page)).toEqual([slugs.drifted, slugs.sync].sort());
    await page.getByTestId('filter-state').selectOption('drifted');
    expect(await shownSlugs(page)).toEqual([slugs.drifted]);
    await page.getByTestId('filter-label').selectOption('');
    await page.getByTestId('count-offline').click();
    expect(await shownSlugs(page)).toEqual([slugs.gone]);
    await page.getByTestId('count-parked').click();
    expect(await shownSlugs(page)).toEqual([slugs.parked]);
    await page.getByTestId('filter-state').selectOption('all');
    expect((await shownSlugs(page)).length).toBe(4);
  });

  it('opens the drift report with the diff and the images, and Reconcile opens the Upgrade to Release dialog', async () => {
    await rows(page).and(page.locator(`[data-slug="${slugs.drifted}"]`)).locator('td[data-label="Drift"] a').click();
    const report = page.getByTestId('drift-report');
    await expectText(report, 'docker-compose.yml');
    await expectText(report, 'interval: 7s');
    await expectText(page.getByTestId('drift-images'), 'the reference names another image on the host now');
    await page.screenshot({ path: path.join(shots, 'drift-report.png'), fullPage: true });
    await page.getByTestId('reconcile').click();
    await page.getByRole('dialog', { name: 'Upgrade to Release' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/instances/${ids.drifted}`);
  });

  it('is usable at phone width: no sideways scrolling on the Instances page and the drift report', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    try {
      await phone.goto(cp.url);
      await phone.getByTestId('fleet-summary').waitFor();
      await expectNoSideScroll(phone, 'the instances page');
      await phone.screenshot({ path: path.join(shots, 'phone-fleet-at-a-glance.png'), fullPage: true });
      await phone.goto(`${cp.url}/instances/${ids.drifted}/drift`);
      await expectText(phone.getByTestId('drift-report'), 'interval: 7s');
      await expectNoSideScroll(phone, 'the drift report');
    } finally {
      await phone.close();
    }
  });

  it('shows why an instance could not be checked', async () => {
    await page.goto(`${cp.url}/instances/${ids.gone}/drift`);
    await expectText(page.getByTestId('drift-report'), 'Could not be checked: the agent at https://10.0.0.9:8443 is unreachable');
  });
});
