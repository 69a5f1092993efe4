/**
 * SIGKILL the worker (its whole process group, compose included) during each
 * step of a Release Upgrade in turn: a new `npm run worker` finishes every
 * one, each tenant file is replaced exactly once and ends in its final form,
 * and the upgrade row ends `succeeded`. The five tenants run side by side,
 * each with its own pair of workers on one task queue.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { killWorkerDuring, startKillRig, type KillRig, type ReleaseStep } from './release-kill.js';

const STEPS: ReleaseStep[] = ['plan', 'write', 'pull', 'up', 'verify'];

describe('a worker killed with SIGKILL during each step of a Release Upgrade', () => {
  let rig: KillRig;
  beforeAll(async () => {
    rig = await startKillRig();
  });
  afterAll(async () => {
    await rig?.close();
  });

  it.concurrent.each(STEPS)('is replaced by a new worker that finishes the upgrade when killed during %s', async (step) => {
    await killWorkerDuring(rig, step);
  }, 600_000);
});
