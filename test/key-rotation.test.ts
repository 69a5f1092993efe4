/**
 * Key rotation on the real stack: an upgrade parks under one key; the control
 * plane restarts with a new key first and the old one after it; the worker
 * replays the history sealed with the old key, the operator's abort is carried
 * out, and what is written from then on is sealed with the new key.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring, generateKey, parseKeys } from '../core/keyring.js';
import { KEY_ID_METADATA } from '../worker/data-converter.js';
import { findTemporalCli } from '../platform/temporal-server.js';
import { createTestDatabase, startControlPlaneOn, uniqueName, waitForUpgradeStatus, type TestControlPlane } from './support.js';

const ring = (...keys: string[]) => createKeyring(keys.map((k) => parseKeys(k, 'test')[0]!));

describe('payload keys rotate without losing running upgrades', () => {
  const oldKey = generateKey();
  const newKey = generateKey();
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let work: string;
  let cp: TestControlPlane | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-rotation-'));
  });
  afterAll(async () => {
    await cp?.stop();
    await database?.drop();
    await rm(work, { recursive: true, force: true });
  });

  it('replays an upgrade sealed with the old key after the rotation, and seals new events with the new key', async () => {
    const taskQueue = uniqueName('rotation-');
    cp = await startControlPlaneOn(database.url, { keyring: ring(oldKey), taskQueue });
    const operator = cp.operator;
    const dir = path.join(work, 'tenant');
    await mkdir(dir);
    await writeFile(path.join(dir, 'docker-compose.yml'), 'services:\n  web:\n    image: 127.0.0.1:5055/drydock-rotation/web:${IMAGE_TAG:-1}\n');
    const created = await cp.api('POST', '/api/instances', { slug: uniqueName('rot'), name: 'Rotation', composeDir: dir, coreServices: ['not-declared'] });
    const started = await cp.api('POST', `/api/instances/${created.body.id}/upgrade-images`, { imageTag: '1.0.1' });
    expect(started.status).toBe(202);
    await waitForUpgradeStatus(cp, started.body.upgradeId, ['needs-attention']);
    await cp.stop();

    cp = await startControlPlaneOn(database.url, { keyring: ring(newKey, oldKey), taskQueue, operator });
    expect((await cp.api('POST', `/api/upgrades/${started.body.upgradeId}/abort`)).status).toBe(202);
    const end = await waitForUpgradeStatus(cp, started.body.upgradeId, ['failed']);
    expect(end.error).toMatch(/not-declared.*\(aborted\)/);

    const { stdout } = await promisify(execFile)(
      await findTemporalCli(),
      ['workflow', 'show', '--address', cp.temporalAddress, '--workflow-id', started.body.workflowId, '--run-id', started.body.runId, '--output', 'json'],
      { maxBuffer: 64 << 20 },
    );
    const events = JSON.parse(stdout).events as Record<string, any>[];
    const keyIdOf = (payload: { metadata: Record<string, string> }) => Buffer.from(payload.metadata[KEY_ID_METADATA]!, 'base64').toString();
    const first = events[0]!.workflowExecutionStartedEventAttributes.input.payloads[0];
    const last = events.find((e) => e.workflowExecutionFailedEventAttributes)!.workflowExecutionFailedEventAttributes.failure.encodedAttributes;
    expect(keyIdOf(first)).toBe(ring(oldKey).currentKeyId);
    expect(keyIdOf(last)).toBe(ring(newKey).currentKeyId);
  });
});
