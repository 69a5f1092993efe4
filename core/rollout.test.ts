import { describe, expect, it } from 'vitest';
import { appendLog, budgetExceeded, countStatus, rolloutView, signalSender, waveSlices, wavesPreview } from './rollout.js';
import type { RolloutInstance, RolloutInstanceStatus } from './types.js';

function inst(slug: string, wave: number, status: RolloutInstanceStatus, extra: Partial<RolloutInstance> = {}): RolloutInstance {
  return {
    target: { instanceId: `id-${slug}`, slug, composeProjectName: slug, composeDir: `/srv/${slug}`, coreServices: ['web'], isRemote: false, agentUrl: null },
    imageTag: '1.0',
    wave,
    status,
    ...extra,
  } as RolloutInstance;
}

const statuses = (...s: RolloutInstanceStatus[]) => s.map((status, i) => inst(`t${i}`, 0, status));

describe('the failure budget', () => {
  it('is exceeded by one failure more than the count allows, not by as many', () => {
    expect(budgetExceeded(statuses('failed', 'updated'), { count: 1 })).toBe(false);
    expect(budgetExceeded(statuses('failed', 'failed', 'updated'), { count: 1 })).toBe(true);
  });

  it('measures the percentage against the instances attempted so far, not the fleet', () => {
    // 1 failed of 2 attempted is 50 %, though only 1 of 10 instances failed.
    const fleet = [...statuses('failed', 'updated'), ...Array.from({ length: 8 }, (_, i) => inst(`p${i}`, 1, 'pending'))];
    expect(budgetExceeded(fleet, { percent: 50 })).toBe(false);
    expect(budgetExceeded(fleet, { percent: 49 })).toBe(true);
  });

  it('ignores running, skipped and pending instances and a fleet with nothing attempted', () => {
    expect(budgetExceeded(statuses('running', 'skipped', 'pending'), { count: 0, percent: 0 })).toBe(false);
  });

  it('counts a zero count as "no failure allowed"', () => {
    expect(budgetExceeded(statuses('failed'), { count: 0 })).toBe(true);
  });

  it('is never exceeded without a budget', () => {
    expect(budgetExceeded(statuses('failed', 'failed', 'failed'), {})).toBe(false);
  });
});

describe('the rollout view', () => {
  const instances = [
    inst('a', 0, 'updated', { upgradeId: 'u-a' }),
    inst('b', 0, 'failed', { reason: 'parked at pull: no such image', upgradeId: 'u-b' }),
    inst('c', 1, 'running'),
    inst('d', 1, 'pending'),
    inst('e', 1, 'skipped', { reason: 'busy' }),
  ];
  const view = rolloutView({ rolloutId: 'r1', mode: 'image-only', waveSizes: [2, 3] }, { status: 'running', currentWave: 1, instances, log: ['l1'] });

  it('counts each status per wave and overall', () => {
    expect(view.waves).toEqual([
      { index: 0, size: 2, updated: 1, failed: 1, skipped: 0, running: 0, pending: 0 },
      { index: 1, size: 3, updated: 0, failed: 0, skipped: 1, running: 1, pending: 1 },
    ]);
    expect(view.counts).toEqual({ pending: 1, running: 1, updated: 1, failed: 1, skipped: 1 });
    expect(countStatus(instances, 'failed', 1)).toBe(0);
  });

  it('lists each instance with its reason and upgrade only when it has them', () => {
    expect(view.instances[0]).toEqual({ instanceId: 'id-a', slug: 'a', wave: 0, status: 'updated', upgradeId: 'u-a' });
    expect(view.instances[3]).toEqual({ instanceId: 'id-d', slug: 'd', wave: 1, status: 'pending' });
    expect(view.instances[4]).toEqual({ instanceId: 'id-e', slug: 'e', wave: 1, status: 'skipped', reason: 'busy' });
    expect(view).toMatchObject({ rolloutId: 'r1', mode: 'image-only', status: 'running', currentWave: 1, log: ['l1'] });
  });
});

describe('the rollout log and signals', () => {
  it('keeps the newest lines up to its limit', () => {
    const log: string[] = [];
    for (let i = 0; i < 5; i++) appendLog(log, `line ${i}`, 3);
    expect(log).toEqual(['line 2', 'line 3', 'line 4']);
  });

  it('names the sender of a signal, bounded, or "an operator" when the signal names nobody', () => {
    expect(signalSender({ by: 'ada@example.com' })).toBe('ada@example.com');
    expect(signalSender({ by: 'x'.repeat(400) })).toHaveLength(320);
    expect(signalSender({ by: 42 })).toBe('an operator');
    expect(signalSender(undefined)).toBe('an operator');
  });
});

describe('wave slices and the preview', () => {
  it('gives each wave the next slice of the ordered targets', () => {
    expect(waveSlices([1, 2, 3])).toEqual([
      { wave: 0, start: 0, end: 1 },
      { wave: 1, start: 1, end: 3 },
      { wave: 2, start: 3, end: 6 },
    ]);
  });

  it('shows which instances each wave takes', () => {
    expect(wavesPreview([1, 1], [inst('a', 0, 'pending'), inst('b', 1, 'pending')])).toEqual([
      { index: 0, size: 1, instances: [{ id: 'id-a', slug: 'a' }] },
      { index: 1, size: 1, instances: [{ id: 'id-b', slug: 'b' }] },
    ]);
  });
});
