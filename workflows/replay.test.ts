/**
 * Replays the recorded histories of real runs (success, park then retry,
 * park then abort, rollback, cancel, rollouts, a drift check) against today's workflow code, so a
 * change that would break upgrades already running fails here. Record new
 * ones with RECORD_HISTORIES=1 npm test; change steps behind patched().
 * Histories are stored as Temporal holds them: payloads encrypted with the
 * committed test key (test/test-key.ts), replayed through the codec.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { createKeyring } from '../core/keyring.js';
import { plainPayloads, secretHits } from '../test/secret-scan.js';
import { testKeyring } from '../test/test-key.js';
import { buildBundle } from '../worker/bundle.js';
import { dataConverterFor } from '../worker/data-converter.js';

const DIR = path.join(import.meta.dirname, 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('workflow replay', () => {
  it('has recorded histories of every workflow to replay', () => {
    const types = files.map((f) => JSON.parse(readFileSync(path.join(DIR, f), 'utf8')).events[0].workflowExecutionStartedEventAttributes.workflowType.name);
    expect(new Set(types)).toEqual(new Set(['imageUpgrade', 'releaseUpgrade', 'fullUpgrade', 'fleetRollout', 'driftCheck']));
  });

  it('replays every recorded history without a determinism error', async () => {
    const bundle = await buildBundle();
    const histories = files.map((f) => ({ workflowId: f, history: JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, dataConverter: dataConverterFor(testKeyring()) }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(histories.length).toBeGreaterThanOrEqual(6);
  });

  it('cannot replay them with another key: what is stored is ciphertext only the key opens', async () => {
    const bundle = await buildBundle();
    const history = JSON.parse(readFileSync(path.join(DIR, 'release-upgrade-success.json'), 'utf8'));
    const otherKey = dataConverterFor(createKeyring([randomBytes(32)]));
    await expect(Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: otherKey }, history)).rejects.toThrow();
  });

  it('keeps no tenant secret in any stored history, in raw JSON or base64-decoded payloads', () => {
    const hits = files.flatMap((f) => secretHits(readFileSync(path.join(DIR, f), 'utf8')).map((h) => `${f}: ${h}`));
    expect(hits).toEqual([]);
  });

  it('stores every payload of every history encrypted (search attributes, indexes, aside)', () => {
    const plain = files.flatMap((f) => plainPayloads(JSON.parse(readFileSync(path.join(DIR, f), 'utf8'))).map((p) => `${f}: ${p}`));
    expect(plain).toEqual([]);
  });
});
