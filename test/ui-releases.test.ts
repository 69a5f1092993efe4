/**
 * Releases, instances and values in a real browser (Debian's Chromium via
 * playwright-core) against the real control plane (PostgreSQL, Temporal,
 * the worker) with the example bundle examples/notes as its catalog. No
 * tenant runs here: adding an instance, the Releases page, the values form
 * and a release preview read and write no container, so no Docker engine is
 * used. Screenshots go to artifacts/ui-screenshots/.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { buildUi, expectNoSideScroll, expectText, launchChromium, screenshotsDir, type Browser } from './browser.js';
import { startTestControlPlane, uniqueName, type TestControlPlane } from './support.js';

const EXAMPLE = path.join(REPO_ROOT, 'examples', 'notes');
const SECRET = 'ui-signing-Token-93x';

describe('releases, instances and values in the web UI', () => {
  let cp: TestControlPlane;
  let ui: { dir: string; remove(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let shots: string;
  let work: string;
  let slug: string;
  let instanceId: string;

  const shot = async (name: string, p: Page = page, fullPage = true) => {
    await p.screenshot({ path: path.join(shots, `${name}.png`), fullPage });
  };

  beforeAll(async () => {
    slug = uniqueName('notes-');
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-ui-releases-'));
    [ui, shots, browser] = await Promise.all([buildUi(), screenshotsDir(), launchChromium()]);
    cp = await startTestControlPlane({ uiDir: ui.dir, releasesDir: EXAMPLE, caDir: path.join(work, 'ca') });
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
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('lists the example releases, shows one with its notes, files and schema, and diffs two', async () => {
    await page.getByRole('link', { name: 'Releases' }).click();
    const table = page.getByTestId('releases-table');
    for (const v of ['notes-1.0.0', 'notes-1.0.1', 'notes-1.1.0']) await table.locator(`tr[data-version="${v}"]`).waitFor();

    await table.getByRole('link', { name: 'notes-1.1.0' }).click();
    await expectText(page.getByTestId('release-notes'), 'a message of the day');
    await expectText(page.getByTestId('release-files'), 'app/motd.txt.eta');
    await expectText(page.getByTestId('release-schema'), '"x-drydock-secret": true');
    await page.getByRole('button', { name: 'app/motd.txt.eta' }).click();
    await expectText(page.getByTestId('release-files'), 'it.values.motd');

    await page.locator('#compare-from').selectOption('notes-1.0.0');
    await page.locator('#compare-to').selectOption('notes-1.1.0');
    await page.getByRole('button', { name: 'Compare' }).click();
    const diff = page.getByTestId('release-diff');
    await diff.locator('li[data-path="app/conf.d/motd.txt"][data-status="created"]').waitFor();
    await diff.locator('li[data-path="docker-compose.yml"][data-status="modified"] .d2h-file-wrapper').waitFor();
    expect(await diff.getAttribute('data-image-only')).toBe('false');
    await expectText(diff, 'not Quick Upgrade');
    await shot('releases-01-diff');

    await page.locator('#compare-to').selectOption('notes-1.0.1');
    await page.getByRole('button', { name: 'Compare' }).click();
    await expectText(page.getByTestId('image-only'), 'Quick Upgrade fits');
    await shot('releases-02-image-only');
  });

  it('publishes an uploaded .tar.gz bundle, and refuses other content under a published version naming it', async () => {
    const src = path.join(EXAMPLE, '1.0.1');
    const names: string[] = [];
    const walk = async (rel: string) => {
      for (const e of await readdir(path.join(src, rel), { withFileTypes: true })) {
        const p = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(p);
        else names.push(p);
      }
    };
    await walk('');
    const bundle = path.join(work, 'bundle');
    await mkdir(bundle);
    const { cp: copy, writeFile } = await import('node:fs/promises');
    await copy(src, bundle, { recursive: true });
    const release = JSON.parse(await readFile(path.join(bundle, 'release.json'), 'utf8'));
    await writeFile(path.join(bundle, 'release.json'), JSON.stringify({ ...release, version: 'notes-1.0.2', imageTag: '1.0.2', notes: 'uploaded in the browser test' }));
    const archive = path.join(work, 'notes-1.0.2.tar.gz');
    await createTar({ gzip: true, cwd: bundle, file: archive, portable: true }, names);

    await page.locator('#release-file').setInputFiles(archive);
    await page.getByRole('button', { name: 'Publish' }).click();
    await expectText(page.getByTestId('release-upload'), 'Published notes-1.0.2.');
    await page.getByTestId('releases-table').locator('tr[data-version="notes-1.0.2"]').waitFor();
    await expectText(page.getByTestId('release-notes'), 'uploaded in the browser test');

    await writeFile(path.join(bundle, 'release.json'), JSON.stringify({ ...release, version: 'notes-1.0.2', imageTag: '1.0.2', notes: 'other content' }));
    await createTar({ gzip: true, cwd: bundle, file: archive, portable: true }, names);
    await page.locator('#release-file').setInputFiles(archive);
    await page.getByRole('button', { name: 'Publish' }).click();
    await expectText(page.getByTestId('release-upload'), 'notes-1.0.2');
    await expectText(page.getByTestId('release-upload').getByRole('alert'), 'notes-1.0.2');
    await shot('releases-03-upload-refused');
  });

  it('adds an instance through the UI with its release, core services and a secret', async () => {
    const dir = path.join(work, 'tenant');
    await mkdir(dir);
    await page.getByRole('link', { name: 'Instances' }).click();
    await page.getByRole('button', { name: 'Add instance' }).click();
    const dialog = page.getByTestId('add-instance');
    await page.locator('#add-slug').fill(slug);
    await page.locator('#add-name').fill('Notes in the browser');
    await page.locator('#add-dir').fill('relative/dir');
    await page.locator('#add-release').selectOption('notes-1.0.0');
    await expect.poll(() => page.locator('#add-core').inputValue()).toBe('web, jobs, gateway');
    expect(await page.locator('#add-tag').inputValue()).toBe('1.0.0');
    await page.locator('#add-values-title').fill('Browser notes');
    await page.locator('#add-values-signingToken').fill(SECRET);
    await dialog.getByRole('button', { name: 'Add instance' }).click();
    await expectText(page.locator('#add-dir-error'), 'must be an absolute path');
    await shot('instances-01-add-refused');

    await page.locator('#add-dir').fill(dir);
    await dialog.getByRole('button', { name: 'Add instance' }).click();
    await page.getByRole('button', { name: 'Upgrade to Release' }).waitFor();
    instanceId = new URL(page.url()).pathname.split('/').pop()!;
    const created = (await cp.api('GET', `/api/instances/${instanceId}`)).body;
    expect(created).toMatchObject({ slug, composeDir: dir, releaseVersion: 'notes-1.0.0', imageTag: '1.0.0', coreServices: ['web', 'jobs', 'gateway'], secretsSet: ['signingToken'] });
    expect(created.values).toEqual({ title: 'Browser notes' });
    expect(await page.content()).not.toContain(SECRET);
  });

  it('refuses a bad value beside its field and stores a secret that shows only as set', async () => {
    await page.goto(`${cp.url}/instances/${instanceId}?tab=settings`);
    const card = page.getByTestId('values-card');
    await expectText(card, 'notes-1.0.0');
    expect(await page.locator('#values-title').inputValue()).toBe('Browser notes');
    await card.locator('.badge[data-status="set"]').waitFor();

    await page.locator('#values-workers').fill('99');
    await page.locator('#values-queue-name').fill('Bad Queue');
    await card.getByRole('button', { name: 'Store values' }).click();
    await expectText(page.locator('#values-workers-error'), 'must be <= 16');
    await expectText(page.locator('#values-queue-name-error'), 'must match pattern');
    await shot('values-01-refused');
    expect((await cp.api('GET', `/api/instances/${instanceId}/values`)).body.values).toEqual({ title: 'Browser notes' });

    const replaced = `${SECRET}-2`;
    await page.locator('#values-workers').fill('4');
    await page.locator('#values-queue-name').fill('');
    await page.locator('#values-signingToken').fill(replaced);
    await card.getByRole('button', { name: 'Store values' }).click();
    await expectText(card, 'Saved.');
    expect(await page.locator('#values-workers-error').count()).toBe(0);
    expect(await page.locator('#values-signingToken').inputValue()).toBe('');
    expect(await page.locator('#values-signingToken').getAttribute('placeholder')).toMatch(/^set/);
    const stored = (await cp.api('GET', `/api/instances/${instanceId}/values`)).body;
    expect(stored.values).toEqual({ title: 'Browser notes', workers: 4 });
    expect(stored.secrets).toEqual({ signingToken: 'set' });
    await page.reload();
    await page.locator('#values-signingToken').waitFor();
    expect(await page.content()).not.toContain(SECRET);
    await shot('values-02-stored');
  });

  it('edits the instance: a bad core service is refused beside its field, a new name is stored', async () => {
    await page.goto(`${cp.url}/instances/${instanceId}?tab=settings`);
    const card = page.getByTestId('edit-instance');
    await page.locator('#edit-core').fill('web, -bad');
    await card.getByRole('button', { name: 'Update instance' }).click();
    await expectText(page.locator('#edit-core-error'), 'must be a compose service name');
    await page.locator('#edit-core').fill('web, gateway');
    await page.locator('#edit-name').fill('Notes, renamed');
    await card.getByRole('button', { name: 'Update instance' }).click();
    await expectText(card, 'Saved: Notes, renamed');
    expect((await cp.api('GET', `/api/instances/${instanceId}`)).body).toMatchObject({ name: 'Notes, renamed', coreServices: ['web', 'gateway'] });
    const refused = await cp.api('PATCH', `/api/instances/${instanceId}`, { name: '  ' });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toContain('name: must not be empty');
  });

  it('picks a release of the catalog in Upgrade to Release and previews it', async () => {
    await page.goto(`${cp.url}/instances/${instanceId}`);
    await page.getByRole('button', { name: 'Upgrade to Release' }).click();
    const dialog = page.getByRole('dialog', { name: 'Upgrade to Release' });
    await page.locator('#release-version').selectOption('notes-1.1.0');
    expect(await page.locator('#release-tag').inputValue()).toBe('');
    await dialog.getByRole('button', { name: 'Preview' }).click();
    const preview = page.getByTestId('release-preview');
    await preview.locator('li[data-path="app/conf.d/motd.txt"][data-status="created"]').waitFor();
    expect(await page.getByTestId('release-image-only').count()).toBe(0);
    await expectText(dialog, 'Applies the previewed plan for release notes-1.1.0, 1.1.0');
    expect(await dialog.getByRole('button', { name: 'Apply' }).isEnabled()).toBe(true);
    await shot('release-01-picked', page, false);

    // Another pick makes the preview stale: Apply waits for a new one.
    await page.locator('#release-version').selectOption('notes-1.0.1');
    expect(await dialog.getByRole('button', { name: 'Apply' }).isEnabled()).toBe(false);
    await expectText(page.getByTestId('release-image-only'), 'Quick Upgrade fits');
    await page.keyboard.press('Escape');
  });

  it('picks a release of the catalog in Start a rollout and sends it with the rollout', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rollouts' }).click();
    await page.getByRole('button', { name: 'Start a rollout' }).click();
    const dialog = page.getByRole('dialog', { name: 'Start a rollout' });
    await page.locator('#rollout-mode').selectOption('release');
    await page.locator('#rollout-release option[value="notes-1.1.0"]').waitFor({ state: 'attached' });
    await page.locator('#rollout-release').selectOption('notes-1.1.0');
    await dialog.locator(`.picker-item[data-slug="${slug}"] input`).check();
    const sent = page.waitForRequest((r) => r.url().endsWith('/api/rollouts/preview') && r.method() === 'POST');
    await dialog.getByRole('button', { name: 'Preview waves' }).click();
    expect((await sent).postDataJSON()).toMatchObject({ mode: 'release', release: 'notes-1.1.0', target: { instanceIds: [instanceId] } });
    await expectText(page.getByTestId('wave-preview'), slug);
    await shot('rollout-01-release-picked', page, false);
    await page.keyboard.press('Escape');
  });

  it('keeps the new pages usable at phone width', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    try {
      await phone.goto(`${cp.url}/releases?version=notes-1.1.0`);
      await phone.getByTestId('release-card').waitFor();
      await expectNoSideScroll(phone, 'releases');
      await shot('phone-releases', phone);
      await phone.goto(`${cp.url}/instances/${instanceId}?tab=settings`);
      await phone.locator('#values-signingToken').waitFor();
      await expectNoSideScroll(phone, 'values form');
      await shot('phone-values', phone);
      await phone.goto(cp.url);
      await phone.getByRole('button', { name: 'Add instance' }).click();
      await phone.locator('#add-values-title').waitFor();
      await expectNoSideScroll(phone, 'add instance');
      await shot('phone-add-instance', phone);
    } finally {
      await phone.close();
    }
  });
});
