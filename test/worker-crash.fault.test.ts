/**
 * CI's share of the crash tests (all five steps: test/faults/worker-kill.test.ts):
 * the worker, in its own process, is SIGKILLed while a Release Upgrade
 * verifies, and a new `npm run worker` finishes the upgrade.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { killWorkerDuring, startKillRig, type KillRig } from './faults/release-kill.js';

describe('a worker killed with SIGKILL in the middle of a Release Upgrade', () => {
  let rig: KillRig;
  beforeAll(async () => {
    rig = await startKillRig();
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('is replaced by a new worker that finishes the upgrade from the verify step, every file written exactly once', async () => {
    await killWorkerDuring(rig, 'verify');
  }, 300_000);
});
