/**
 * The proof of issue 17 on this machine: two `npm run api` processes behind a
 * round-robin proxy and two workers against one Temporal server and one
 * PostgreSQL, a 20-instance release rollout (real agent over mutual TLS,
 * simulated compose: see fleet-rig.ts), and one API and one worker SIGKILLed
 * mid-rollout, the worker while it runs an instance's pull. The rollout finishes, every instance is upgraded exactly
 * once, every write the client saw succeed is in the database, and the UI's
 * page and reads keep answering through the surviving API.
 *
 * The limits across both APIs are H17s's in-database limiter; once it is in,
 * the agent limits this rig lifts for registration could be left at their
 * defaults and a burst of sign-ins through the proxy counted against one limit.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectRolloutHeld, rolloutUnderKills, startFleetRig, type FleetRig } from './fleet-rig.js';
import { PICKUP_LIMIT_SECONDS } from './release-kill.js';

describe('two API processes and two workers, one of each SIGKILLed during a 20-instance rollout', () => {
  let rig: FleetRig | undefined;
  afterAll(async () => {
    await rig?.close();
  });

  it('finish the rollout, upgrade every instance exactly once, lose no request the client did not see fail, and keep the UI answering', async () => {
    // Worker a holds the first pull it gets, so its kill lands while it runs a step the survivor must pick up.
    rig = await startFleetRig(20, { gate: 'pullImages:pull' });
    const r = await rolloutUnderKills(rig, { killAfter: 'gate', kill: { api: 0, worker: 0 }, maxParallel: 4, waves: [2, '50%', '100%'] });
    console.log(`[fault] two APIs, two workers, 20-instance rollout, ${r.killed.join(' and ')} SIGKILLed: ${JSON.stringify({ ...r, requests: { ...r.requests, failed: r.requests.failed } })}`);
    expectRolloutHeld(r, 20, PICKUP_LIMIT_SECONDS);
    expect(r.pickups.map((p) => p.activity)).toContain('pullImages');
  }, 900_000);
});
