/**
 * Two workers on one task queue, the one running a step of a Release Upgrade
 * SIGKILLed (its whole process group, compose included), for each step in
 * turn: the surviving worker picks the step up within 30 s (the step's
 * heartbeat timeout, WORKER_LOST_AFTER, plus its first retry interval) and
 * finishes the upgrade; each tenant file is replaced exactly once. The five
 * tenants run side by side, each with its own pair of workers.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { killWorkerDuring, startKillRig, type KillRig, type ReleaseStep } from './release-kill.js';

const STEPS: ReleaseStep[] = ['plan', 'write', 'pull', 'up', 'verify'];

describe('two workers, one SIGKILLed during each step of a Release Upgrade', () => {
  let rig: KillRig;
  beforeAll(async () => {
    rig = await startKillRig();
  });
  afterAll(async () => {
    await rig?.close();
  });

  it.concurrent.each(STEPS)('has the surviving worker pick up %s within 30 s and finish the upgrade', async (step) => {
    await killWorkerDuring(rig, step, { survivor: true });
  }, 600_000);
});
