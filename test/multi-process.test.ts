/**
 * CI's share of the multi-process proof (the 20-instance run with an API and
 * a worker SIGKILLed: test/faults/multi-process.test.ts): two `npm run api`
 * processes behind a round-robin proxy and two workers, a 3-instance rollout
 * (simulated compose, see test/faults/fleet-rig.ts), one worker SIGKILLed
 * mid-rollout.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { expectRolloutHeld, rolloutUnderKills, startFleetRig, type FleetRig } from './faults/fleet-rig.js';
import { PICKUP_LIMIT_SECONDS } from './faults/release-kill.js';

describe('npm run api', () => {
  it('refuses to start on the embedded defaults, naming the settings it needs', async () => {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'api/main.ts', '--api-only'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DRYDOCK_DATA_DIR: path.join(os.tmpdir(), 'drydock-never-opened'), PORT: '0' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/npm run api serves the API only and needs DATABASE_URL .* and TEMPORAL_ADDRESS .*; DATABASE_URL and TEMPORAL_ADDRESS unset/);
  });
});

describe('two API processes and two workers on one Temporal server and one PostgreSQL', () => {
  let rig: FleetRig | undefined;
  afterAll(async () => {
    await rig?.close();
  });

  it('finish a 3-instance rollout through a round-robin proxy with a worker SIGKILLed mid-rollout, every instance upgraded once', async () => {
    rig = await startFleetRig(3);
    const r = await rolloutUnderKills(rig, { killAfter: 1, kill: { worker: 0 }, maxParallel: 2, waves: [1, '100%'] });
    console.log(`[fault] two APIs, two workers, 3-instance rollout, ${r.killed.join(' and ')} SIGKILLed: ${JSON.stringify({ ...r, requests: { ...r.requests, failed: r.requests.failed.length } })}`);
    expectRolloutHeld(r, 3, PICKUP_LIMIT_SECONDS);
    // Both APIs served the client before the kill; after it, every request went to the survivor.
    expect(Object.values(r.requests.byUpstream).every((n) => n > 0)).toBe(true);
  }, 600_000);
});
