/**
 * The operator web UI in a real browser (Debian's Chromium, headless, driven
 * by playwright-core) against the real control plane on the real stack:
 * PostgreSQL, the Temporal dev server, the worker, and a Docker Compose
 * tenant whose images come from the loopback registry.
 *
 * Sign in; open an instance; preview a release that needs a variable the
 * tenant lacks (red alert, per-file tags, diffs); apply it and watch every
 * step reach succeeded; run a Quick Upgrade; approve a pending agent; and the
 * same pages at phone width. Screenshots of each page go to
 * artifacts/ui-screenshots/ (git ignores it; CI keeps it).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderRelease } from '../core/release-plan.js';
import { createTenantDriver, detectComposeVariant } from '../tenant/tenant.js';
import { createCsr, generateKeyPair, keyFingerprint256 } from '../core/pki.js';
import { createPlanner } from '../worker/planner.js';
import { buildUi, expectNoSideScroll, expectText, launchChromium, screenshotsDir, type Browser } from './browser.js';
import { buildAndPushImage, registryAddress } from './harness/images.js';
import { releaseDefaults } from './harness/release-tenant.js';
import { startTestControlPlane, uniqueName, type TestControlPlane } from './support.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'releases');
const N = '1.0.0';
const N1 = '1.1.0';
const QUICK = '1.2.0';
const SECRET = 'pg-secret-Ui77';

describe('the operator web UI in a real browser', () => {
  let cp: TestControlPlane;
  let ui: { dir: string; remove(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let shots: string;
  let work: string;
  let dir: string;
  let slug: string;
  let instanceId: string;

  const shot = async (name: string, p: Page = page, fullPage = true) => {
    await p.screenshot({ path: path.join(shots, `${name}.png`), fullPage });
  };

  beforeAll(async () => {
    slug = uniqueName('ui');
    const prefix = `drydock-${slug}`;
    const defaults = releaseDefaults(slug);
    const images: [string, string][] = [[defaults.redisImage, 'redis']];
    for (const tag of [N, N1]) for (const svc of ['api', 'admin', 'media-api', 'nginx', 'search']) images.push([`${registryAddress()}/${prefix}/${svc}:${tag}`, `${svc} ${tag}`]);
    for (const svc of ['api', 'admin', 'media-api', 'nginx']) images.push([`${registryAddress()}/${prefix}/${svc}:${QUICK}`, `${svc} ${QUICK}`]);
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-ui-e2e-'));

    const buildImages = async () => {
      for (let n = 0; n < images.length; n += 4) await Promise.all(images.slice(n, n + 4).map(([ref, marker]) => buildAndPushImage(ref, marker)));
    };
    [ui, , shots, browser] = await Promise.all([buildUi(), buildImages(), screenshotsDir(), launchChromium()]);
    cp = await startTestControlPlane({ planner: createPlanner(defaults, path.join(FIXTURES, 'n1')), uiDir: ui.dir, caDir: path.join(work, 'ca') });

    // The tenant as release N left it: rendered files, its secrets, its own content.
    dir = path.join(work, 'tenant');
    await mkdir(path.join(dir, 'mkdocs/docs'), { recursive: true });
    await writeFile(path.join(dir, 'mkdocs/mkdocs.yml'), 'site_name: Tenant docs\n');
    await writeFile(path.join(dir, '.env'), `POSTGRES_PASSWORD=${SECRET}\nAPI_SECRET=api-secret-Ui88\n`);
    const driver = createTenantDriver({ compose: await detectComposeVariant() }, { projectName: slug, dir });
    const instance = { slug, name: 'Browser tenant', composeProjectName: slug, isRegistered: false };
    const { rendered } = await renderRelease(createPlanner(defaults, path.join(FIXTURES, 'n')), driver, instance, N);
    await driver.writeFiles(rendered.map((f) => f.path), rendered);
    await driver.upAll({ IMAGE_TAG: N });

    const created = await cp.api('POST', '/api/instances', { slug, name: instance.name, composeDir: dir, imageTag: N });
    expect(created.status).toBe(201);
    instanceId = created.body.id;
    page = await browser.context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) {
      const { execFile } = await import('node:child_process');
      const variant = await detectComposeVariant();
      const [file, head] = variant === 'v2' ? ['docker', ['compose']] : ['docker-compose', []];
      await new Promise((r) => execFile(file, [...head, '--project-name', slug, 'down', '-v', '--remove-orphans'], { cwd: dir }, r));
    }
    await cp?.stop();
    await ui?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('signs in; a wrong password is answered beside the form', async () => {
    await page.goto(cp.url);
    await page.getByLabel('Email').fill(cp.operator.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.locator('#signin-error'), 'wrong email or password');
    await shot('desktop-01-sign-in-refused');

    await page.getByLabel('Password').fill(cp.operator.password);
    await page.getByLabel('Password').press('Enter');
    await expectText(page.getByTestId('whoami'), cp.operator.email);
  });

  it('lists the instance with where it runs, its tag and its upgrades, and opens it', async () => {
    const row = page.locator(`tr[data-slug="${slug}"]`);
    await expectText(row, 'never upgraded');
    expect(await row.locator('td[data-label="Where"]').innerText()).toBe('local');
    expect(await row.locator('td[data-label="Image tag"]').innerText()).toBe(N);
    await shot('desktop-02-instances');

    await row.getByRole('link', { name: slug }).click();
    await page.getByRole('button', { name: 'Upgrade Now' }).waitFor();
    await page.getByRole('button', { name: 'Quick Upgrade' }).hover();
    const tooltip = page.getByRole('tooltip');
    await tooltip.waitFor({ state: 'visible' });
    expect(await tooltip.innerText()).toMatch(/only image versions, not orchestration/);
    expect(await page.getByRole('button', { name: 'Quick Upgrade' }).getAttribute('aria-describedby')).toBe(await tooltip.getAttribute('id'));
    await shot('desktop-03-instance-updates-tooltip', page, false);
    await page.mouse.move(0, 0);
  });

  it('keeps the release modal usable from the keyboard: focus inside, Tab cycles, Escape closes and returns focus', async () => {
    const opener = page.getByRole('button', { name: 'Upgrade to Release' });
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Upgrade to Release' });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('release-tag');
    for (let n = 0; n < 8; n++) {
      await page.keyboard.press(n % 3 === 2 ? 'Shift+Tab' : 'Tab');
      expect(await page.evaluate(() => !!document.activeElement?.closest('[role="dialog"]'))).toBe(true);
    }
    // A bad tag is reported beside the field (checked with the API's own schema), before any request.
    await page.locator('#release-tag').fill(':bad');
    await page.locator('#release-tag').press('Enter');
    await expectText(page.locator('#release-tag-error'), 'must be a Docker tag');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Upgrade to Release');
  });

  it('previews a release that needs a variable the tenant lacks: red alert, a tag per file, diffs', async () => {
    await page.getByRole('button', { name: 'Upgrade to Release' }).click();
    const dialog = page.getByRole('dialog', { name: 'Upgrade to Release' });
    await page.locator('#release-tag').fill(N1);
    await dialog.getByRole('button', { name: 'Preview' }).click();
    const alert = page.getByTestId('env-alert');
    await expectText(alert, 'SEARCH_API_KEY');
    expect(await alert.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(253, 231, 229)');

    const status = await page.locator('li.file').evaluateAll((els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-path'), e.getAttribute('data-status')])));
    expect(status).toEqual({
      'docker-compose.yml': 'modified',
      '.env': 'modified',
      'nginx/conf.d/default.conf': 'modified',
      'drydock/search.conf': 'created',
    });
    // diff2html rendered every modified or created file; values in .env stay masked.
    expect(await page.locator('li.file .d2h-file-wrapper').count()).toBe(4);
    expect(await page.locator('li.file[data-path="nginx/conf.d/default.conf"] .d2h-ins').allInnerTexts()).toEqual(
      expect.arrayContaining([expect.stringContaining('location /search/')]),
    );
    expect(await dialog.innerText()).not.toContain(SECRET);
    await shot('desktop-04-release-preview', page, false);
    await page.locator('li.file[data-path="nginx/conf.d/default.conf"]').scrollIntoViewIfNeeded();
    await dialog.screenshot({ path: path.join(shots, 'desktop-05-release-preview-diffs.png') });
  });

  it('applies exactly the previewed plan and shows every step reach succeeded, live, with no layout shift', async () => {
    await page.evaluate(() => {
      type Shift = { value: number; hadRecentInput: boolean; startTime: number; sources?: { node?: Node | null }[] };
      const w = window as unknown as { __shifts: { value: number; recent: boolean; at: number; what: string[] }[] };
      w.__shifts = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries() as unknown as Shift[]) {
          const what = (e.sources ?? []).map((s) => (s.node instanceof Element ? `${s.node.tagName}.${s.node.className}` : String(s.node?.nodeName)));
          w.__shifts.push({ value: e.value, recent: e.hadRecentInput, at: e.startTime, what });
        }
      }).observe({ type: 'layout-shift', buffered: false });
    });
    const preview = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release/preview`, { imageTag: N1 });
    expect(await page.getByRole('dialog').innerText()).toContain(`plan ${preview.body.planHash.slice(0, 12)}`);
    await page.getByRole('dialog').getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    const card = page.getByTestId('upgrade-card');
    await expectText(card, 'Upgrade to Release');

    // Mid-run: at least one step done while it still runs.
    await page.locator('[data-testid="upgrade-card"][data-status="running"] .step[data-status="succeeded"]').first().waitFor({ timeout: 60_000 });
    const t0 = await page.evaluate(() => performance.now());
    await shot('desktop-06-release-running', page, false);
    await page.locator('[data-testid="upgrade-card"][data-status="succeeded"]').waitFor({ timeout: 120_000 });
    await shot('desktop-07-release-succeeded');

    const history = await cp.api('GET', `/api/instances/${instanceId}/upgrades`);
    const upgrade = history.body[0];
    expect(upgrade).toMatchObject({ mode: 'release', status: 'succeeded', imageTag: N1, requestedBy: cp.operator.email });
    const steps = await card.locator('.step').evaluateAll((els) => els.map((e) => [e.getAttribute('data-step'), e.getAttribute('data-status')]));
    expect(steps).toEqual(upgrade.steps.map((s: { name: string }) => [s.name, 'succeeded']));
    for (const d of await card.locator('.step-duration').allInnerTexts()) expect(d).toMatch(/^\d+(\.\d)?s$|^\d+m \d\ds$/);
    expect(await card.getByRole('link', { name: /Open in Temporal/ }).getAttribute('href')).toBe(upgrade.temporalUrl);
    // The history names who started it (from the audit log; here the UI, so no token).
    expect(await page.locator(`tr[data-upgrade="${upgrade.id}"] td[data-label="By"]`).innerText()).toBe(`started by ${cp.operator.email}`);

    // While the steps progressed (no input), nothing on the page moved.
    const shifts = await page.evaluate((since) => (window as any).__shifts.filter((s: any) => !s.recent && s.at >= since), t0);
    const cls = shifts.reduce((a: number, s: { value: number }) => a + s.value, 0);
    expect(cls, JSON.stringify(shifts)).toBeLessThan(0.01);

    // The apply wrote what the preview showed: a second preview finds nothing to change.
    const again = await cp.api('POST', `/api/instances/${instanceId}/upgrade-release/preview`, { imageTag: N1 });
    expect(again.body.files.map((f: { status: string }) => f.status)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
  });

  it('shows a truncated diff as cut', async () => {
    // The real fixtures' diffs are small: cut one on its way to the page.
    await page.route('**/upgrade-release/preview', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      const f = body.files.find((x: { path: string }) => x.path === 'docker-compose.yml');
      f.status = 'modified';
      f.diff = `--- a/docker-compose.yml\n+++ b/docker-compose.yml\n@@ -1,3 +1,3 @@\n version: '2.4'\n-services: {}\n+services:\n`;
      f.truncated = true;
      await route.fulfill({ response: res, json: body });
    });
    try {
      await page.getByRole('button', { name: 'Upgrade to Release' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Preview' }).click();
      const file = page.locator('li.file[data-path="docker-compose.yml"]');
      await expectText(file.getByTestId('diff-truncated'), 'The diff is cut here');
      expect(await file.locator('.chip').innerText()).toBe('diff truncated');
      await file.screenshot({ path: path.join(shots, 'desktop-08-truncated-diff.png') });
      await page.keyboard.press('Escape');
    } finally {
      await page.unroute('**/upgrade-release/preview');
    }
  });

  it('runs a Quick Upgrade to a new tag', async () => {
    await page.getByRole('button', { name: 'Quick Upgrade' }).click();
    const dialog = page.getByRole('dialog', { name: 'Quick Upgrade' });
    expect(await page.locator('#quick-tag').inputValue()).toBe(N1);
    await page.locator('#quick-tag').fill('no good');
    await dialog.getByRole('button', { name: 'Start Quick Upgrade' }).click();
    await expectText(page.locator('#quick-tag-error'), 'must be a Docker tag');
    await page.locator('#quick-tag').fill(QUICK);
    await dialog.getByRole('button', { name: 'Start Quick Upgrade' }).click();
    await dialog.waitFor({ state: 'detached' });
    const card = page.locator('[data-testid="upgrade-card"]');
    await expectText(card, 'Quick Upgrade');
    await page.locator('[data-testid="upgrade-card"][data-status="succeeded"]').waitFor({ timeout: 120_000 });
    await expectText(card.locator('h2'), QUICK);
    await shot('desktop-09-quick-upgrade-succeeded');
    const latest = (await cp.api('GET', `/api/instances/${instanceId}/upgrades`)).body[0];
    expect(latest).toMatchObject({ mode: 'image-only', status: 'succeeded', imageTag: QUICK, requestedBy: cp.operator.email });
    expect((await cp.api('GET', `/api/instances/${instanceId}`)).body.imageTag).toBe(QUICK);
    expect(await page.locator('table[data-testid="history"] tbody tr').count()).toBe(2);
  });

  it('approves a pending agent', async () => {
    const agentSlug = uniqueName('agt');
    const invite = await cp.api('POST', '/api/agents/invites', { slug: agentSlug, note: 'browser test' });
    expect(invite.status).toBe(201);
    const csr = await createCsr(agentSlug, await generateKeyPair());
    const reg = await cp.anon('POST', '/api/agents/register', {
      inviteCode: invite.body.code,
      slug: agentSlug,
      name: 'Remote tenant',
      csr,
      agentUrl: 'https://127.0.0.1:9443',
      composeDir: '/srv/remote-tenant',
    });
    expect(reg.status).toBe(201);

    await page.getByRole('link', { name: 'Agents' }).click();
    const row = page.locator(`[data-testid="registrations-pending"] tr[data-slug="${agentSlug}"]`);
    await expectText(row, 'https://127.0.0.1:9443');
    await shot('desktop-10-agents-pending');
    await row.getByRole('button', { name: 'Approve' }).click();
    await page.locator(`[data-testid="registrations-approved"] tr[data-slug="${agentSlug}"]`).waitFor();
    await shot('desktop-11-agents-approved');

    const decided = await cp.api('GET', `/api/agents/registrations/${reg.body.registrationId}`);
    expect(decided.body).toMatchObject({ status: 'approved', decidedBy: cp.operator.email });

    // A second agent for the same slug: approving it shows what it replaces, old beside new, and waits for a confirmation.
    const secondCsr = await createCsr(agentSlug, await generateKeyPair());
    const second = await cp.anon('POST', '/api/agents/register', {
      inviteCode: (await cp.api('POST', '/api/agents/invites', { slug: agentSlug })).body.code,
      slug: agentSlug,
      csr: secondCsr,
      agentUrl: 'https://10.9.9.9:7443',
      composeDir: '/srv/remote-tenant',
    });
    expect(second.status).toBe(201);
    const secondRow = page.locator(`[data-testid="registrations-pending"] tr[data-slug="${agentSlug}"]`);
    await expectText(secondRow, 'https://10.9.9.9:7443');
    await expectText(secondRow, `key ${keyFingerprint256(secondCsr)}`);
    await secondRow.getByRole('button', { name: 'Approve' }).click();
    const dialog = page.getByRole('dialog');
    await expectText(dialog, `Approving re-points ${agentSlug}`);
    await expectText(dialog.getByTestId('replace-old-url'), 'https://127.0.0.1:9443');
    await expectText(dialog.getByTestId('replace-new-url'), 'https://10.9.9.9:7443');
    await expectText(dialog.getByTestId('replace-old-fingerprint'), keyFingerprint256(csr));
    await expectText(dialog.getByTestId('replace-new-fingerprint'), keyFingerprint256(secondCsr));
    await shot('desktop-11b-agents-confirm-replace');
    // Nothing changed while the dialog is open.
    expect((await cp.api('GET', `/api/agents/registrations/${second.body.registrationId}`)).body.status).toBe('pending');
    await dialog.getByTestId('confirm-replace').click();
    await expectText(page.locator(`[data-testid="registrations-approved"] tr[data-slug="${agentSlug}"]`), 'https://10.9.9.9:7443');
    expect((await cp.api('GET', `/api/agents/registrations/${reg.body.registrationId}`)).body.status).toBe('revoked');

    // An invite code is for one slug unless "any slug" is chosen, shown once, with a way to copy it; it carries the CA fingerprint.
    await page.getByRole('button', { name: 'Create invite code' }).click();
    await expectText(page.locator('.invite-form'), 'give the slug this invite is for');
    await page.getByTestId('invite-any-slug').check();
    await page.getByRole('button', { name: 'Create invite code' }).click();
    const code = page.getByTestId('invite-code');
    await expectText(code, 'Shown this once');
    expect(await code.locator('input').inputValue()).toMatch(/^[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{43}$/);

    await page.getByRole('link', { name: 'Instances' }).click();
    const remote = page.locator(`tr[data-slug="${agentSlug}"]`);
    expect(await remote.locator('td[data-label="Where"]').innerText()).toBe('remote');
    await expectText(remote.locator('td[data-label="Agent"]'), 'approved');
  });

  it('shows a new API token once, and reports a bad image tag beside its field', async () => {
    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByLabel('Name').fill('nightly script');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.getByTestId('new-token').locator('input').inputValue();
    expect(token).toMatch(/^ddk_/);
    expect((await cp.request('GET', '/api/auth/me', { headers: { authorization: `Bearer ${token}` } })).body.operator.email).toBe(cp.operator.email);
    await shot('desktop-12-api-tokens');
    await page.reload();
    await page.getByRole('cell', { name: 'nightly script' }).waitFor();
    expect(await page.content()).not.toContain(token);

    await page.goto(`${cp.url}/instances/${instanceId}?tab=settings`);
    await page.locator('#settings-tag').fill('-bad');
    await page.getByRole('button', { name: 'Save' }).click();
    await expectText(page.locator('#settings-tag-error'), 'must be a Docker tag');
    await shot('desktop-13-instance-settings-error');
  });

  it('is usable at phone width: no sideways scrolling, every page readable', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    const noSideScroll = (what: string) => expectNoSideScroll(phone, what);
    try {
      await phone.goto(cp.url);
      await phone.locator(`tr[data-slug="${slug}"]`).waitFor();
      await noSideScroll('instances');
      await shot('phone-01-instances', phone);

      await phone.goto(`${cp.url}/instances/${instanceId}`);
      await phone.locator('[data-testid="upgrade-card"][data-status="succeeded"]').waitFor();
      await noSideScroll('instance updates');
      await shot('phone-02-instance-updates', phone);

      await phone.getByRole('button', { name: 'Upgrade to Release' }).click();
      await phone.locator('#release-tag').fill(QUICK);
      await phone.getByRole('dialog').getByRole('button', { name: 'Preview' }).click();
      await phone.getByTestId('release-preview').waitFor();
      await noSideScroll('release preview');
      await shot('phone-03-release-preview', phone, false);
      const apply = phone.getByRole('dialog').getByRole('button', { name: 'Apply' });
      expect(await apply.isVisible()).toBe(true);
      const box = (await apply.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(390);
      expect(box.y + box.height).toBeLessThanOrEqual(844);
      await phone.keyboard.press('Escape');

      await phone.goto(`${cp.url}/agents`);
      await phone.locator('[data-testid="registrations-approved"]').waitFor();
      await noSideScroll('agents');
      await shot('phone-04-agents', phone);

      await phone.goto(`${cp.url}/tokens`);
      await phone.getByRole('button', { name: 'Create token' }).waitFor();
      await noSideScroll('tokens');
      await shot('phone-05-tokens', phone);

      await phone.getByRole('button', { name: 'Sign out' }).click();
      await phone.getByRole('button', { name: 'Sign in' }).waitFor();
      await noSideScroll('sign-in');
      await shot('phone-06-signed-out', phone);
    } finally {
      await phone.close();
    }
  });
});
