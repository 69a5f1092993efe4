/**
 * The Temporal web console reads drydock's encrypted payloads through the
 * codec server, for a signed-in operator only: Debian's Chromium (via
 * playwright-core) against a Temporal dev server started as `npm start` starts
 * it (`--ui-codec-endpoint` pointing at drydock's /codec), the real control
 * plane, PostgreSQL and the Docker engine.
 *
 * A Quick Upgrade parks on a tenant whose compose file lacks the core
 * service; its workflow and step inputs carry a marker (in the compose
 * directory's path) that lives only inside payloads. Signed in, the console shows it decoded; not
 * signed in, it does not; and `temporal workflow show` without the codec
 * shows ciphertext. The screenshot and both CLI outputs go to
 * artifacts/ui-screenshots/ (git ignores it).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTemporalCli, freePort, startDevServerOnFreePorts, type DevServer } from '../platform/temporal-server.js';
import { launchChromium, screenshotsDir, type Browser } from './browser.js';
import { createTestDatabase, startControlPlaneOn, uniqueName, waitForUpgradeStatus, type TestControlPlane } from './support.js';
import { temporalWorkflowUrl } from '../workflows/surface.js';

const run = promisify(execFile);

describe('the Temporal web console through the codec server', () => {
  let work: string;
  let server: DevServer;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: TestControlPlane;
  let browser: Browser;
  let shots: string;
  let cli: string;
  let marker: string;
  let codecEndpoint: string;
  let workflowUrl: string;
  let workflowId: string;
  let runId: string;

  beforeAll(async () => {
    marker = uniqueName('drydock-codec-marker-');
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-codec-ui-'));
    cli = await findTemporalCli();
    const cpPort = await freePort();
    codecEndpoint = `http://127.0.0.1:${cpPort}/codec`;
    server = await startDevServerOnFreePorts({
      cli,
      dbFile: path.join(work, 'temporal.db'),
      logFile: path.join(work, 'temporal.log'),
      codecEndpoint,
    });
    database = await createTestDatabase();
    cp = await startControlPlaneOn(database.url, { temporalAddress: server.address, temporalUiUrl: server.uiUrl, port: cpPort });
    [browser, shots] = await Promise.all([launchChromium(), screenshotsDir()]);

    // The marker is in the compose directory's path: it reaches Temporal only inside payloads (workflow and step inputs).
    const dir = path.join(work, marker);
    await mkdir(dir);
    await writeFile(path.join(dir, 'docker-compose.yml'), 'services:\n  web:\n    image: 127.0.0.1:5055/drydock-codec/web:${IMAGE_TAG:-1}\n');
    const slug = uniqueName('codec');
    const created = await cp.api('POST', '/api/instances', { slug, name: 'Codec console tenant', composeDir: dir, coreServices: ['not-declared'] });
    expect(created.status).toBe(201);
    const started = await cp.api('POST', `/api/instances/${created.body.id}/upgrade-images`, { imageTag: '1.2.3' });
    expect(started.status).toBe(202);
    ({ workflowId, runId } = started.body);
    const parked = await waitForUpgradeStatus(cp, started.body.upgradeId, ['needs-attention']);
    expect(parked.error).toMatch(/not-declared not in the compose file/);
    workflowUrl = temporalWorkflowUrl(server.uiUrl, workflowId, runId);
  });

  afterAll(async () => {
    await browser?.close();
    await cp?.stop();
    await database?.drop();
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** The console's own codec setting, as an operator sets it once in its "Codec Server" dialog: this endpoint, with credentials. */
  async function openConsoleWithCredentialedCodec(page: Page) {
    await page.goto(`${server.uiUrl}/namespaces/default/workflows`);
    await page.evaluate((endpoint) => {
      localStorage.setItem('endpoint', JSON.stringify(endpoint));
      localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
      localStorage.setItem('includeCredentials', 'true');
    }, codecEndpoint);
    const answers: number[] = [];
    const troubles: string[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(`${codecEndpoint}/decode`)) answers.push(r.status());
      else if (r.status() >= 400) troubles.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    });
    page.on('requestfailed', (r) => troubles.push(`failed ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    page.on('pageerror', (e) => troubles.push(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && troubles.push(`console: ${m.text().slice(0, 300)}`));
    // Under load the console sometimes renders its own error page, or nothing, on a first load; a later reload cures it.
    for (let attempt = 1; ; attempt++) {
      // Chromium aborts a navigation when the host's interfaces change (other test files add Docker networks and
      // network namespaces meanwhile): that load is lost, not the console, so it counts as one failed load.
      const aborted = await page.goto(workflowUrl).then(
        () => undefined,
        (err: Error) => {
          if (!err.message.includes('net::ERR_NETWORK_CHANGED')) throw err;
          return err.message.split('\n')[0];
        },
      );
      const rendered = !aborted && (await page.getByText(/Back to Workflows|There's an error/).first().waitFor({ timeout: 30_000 }).then(() => true, () => false));
      const errorPage = rendered && (await page.getByText("There's an error").count()) > 0;
      if (rendered && !errorPage) break;
      const what =
        (aborted
          ? `was not loaded (${aborted})`
          : rendered
            ? `answered its error page (${(await page.locator('body').innerText()).replace(/\s+/g, ' ').slice(0, 300)})`
            : 'rendered no workflow page within 30 s') + ` [${troubles.splice(0).join('; ')}]`;
      await page.screenshot({ path: path.join(shots, `temporal-console-load-${attempt}-FAILED.png`), fullPage: true });
      if (attempt === 4) throw new Error(`the Temporal console ${what} on ${attempt} loads`);
      console.log(`the Temporal console ${what} (attempt ${attempt}); reloading in ${attempt * 5} s`);
      await page.waitForTimeout(attempt * 5_000);
    }
    return answers;
  }

  it('shows a signed-in operator the decoded workflow input and the failed step\'s decoded error', async () => {
    const page = await browser.context.newPage();
    const login = await page.request.post(`${cp.url}/api/auth/login`, { data: { email: cp.operator.email, password: cp.operator.password } });
    expect(login.status()).toBe(200);
    const answers = await openConsoleWithCredentialedCodec(page);
    const shown = await expect
      .poll(async () => (await page.locator('body').innerText()).includes(marker), { timeout: 60_000, interval: 500 })
      .toBe(true)
      .then(() => true, () => false);
    if (!shown) await page.screenshot({ path: path.join(shots, 'temporal-console-decoded-FAILED.png'), fullPage: true });
    expect(shown, `the console did not show the decoded input (codec answers: ${answers.join(', ') || 'none'})`).toBe(true);
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((s) => s === 200)).toBe(true);
    await page.screenshot({ path: path.join(shots, 'temporal-console-decoded.png'), fullPage: true });
    // The failed step's error is an encoded failure ("Encoded failure" in the row); opened, the event shows it decoded.
    const failedStep = page.getByText('Activity Task Failed').first();
    await failedStep.scrollIntoViewIfNeeded();
    await failedStep.click();
    const stepError = page.getByText(/not-declared not in the compose file/).first();
    const shownError = await stepError.waitFor({ timeout: 30_000 }).then(() => true, () => false);
    if (shownError) await stepError.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, 'temporal-console-decoded-step-error.png') });
    expect(shownError, 'the decoded error of the failed step').toBe(true);
    await page.close();
  });

  it('shows nobody else anything but ciphertext: the codec refuses them', async () => {
    const context = await browser.context.browser()?.newContext();
    const page = context ? await context.newPage() : await browser.context.newPage();
    if (!context) await browser.context.clearCookies();
    const answers = await openConsoleWithCredentialedCodec(page);
    await expect.poll(() => answers.length, { timeout: 60_000, interval: 500 }).toBeGreaterThan(0);
    await page.waitForTimeout(2_000);
    expect(answers.every((s) => s === 401)).toBe(true);
    expect(await page.locator('body').innerText()).not.toContain(marker);
    await page.screenshot({ path: path.join(shots, 'temporal-console-not-signed-in.png'), fullPage: true });
    await page.close();
    await context?.close();
  });

  it('shows ciphertext to `temporal workflow show` without the codec, and plain text with it and a token', async () => {
    const show = (extra: string[]) =>
      run(cli, ['workflow', 'show', '--address', server.address, '--workflow-id', workflowId, '--run-id', runId, '--output', 'json', ...extra], { maxBuffer: 64 << 20 });
    const raw = (await show([])).stdout;
    const started = JSON.parse(raw).events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
    expect(Buffer.from(started.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
    expect(raw).not.toContain(marker);
    expect(Buffer.from(started.data, 'base64').toString('latin1')).not.toContain(marker);
    const decoded = (await show(['--codec-endpoint', codecEndpoint, '--codec-auth', `Bearer ${cp.operator.token}`])).stdout;
    const input = JSON.parse(decoded).events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
    expect(Buffer.from(input.metadata.encoding, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(input.data, 'base64').toString()).target.composeDir).toContain(marker);
    await writeFile(path.join(shots, 'temporal-workflow-show-without-codec.json'), raw);
    await writeFile(path.join(shots, 'temporal-workflow-show-with-codec.json'), decoded);
  });
});
