import { describe, expect, it } from 'vitest';
import { parseDuration, resolveWaves } from './waves.js';

describe('wave planning', () => {
  it('reads percentages as the share of the fleet done by the end of the wave', () => {
    expect(resolveWaves(100, [1, '10%', '50%', '100%'])).toEqual([1, 9, 40, 50]);
  });

  it('takes counts as wave sizes and puts what is left into the last wave', () => {
    expect(resolveWaves(10, [2, 3])).toEqual([2, 8]);
  });

  it('never plans an empty wave, even for a tiny fleet', () => {
    expect(resolveWaves(3, [1, '10%', '50%', '100%'])).toEqual([1, 1, 1]);
    expect(resolveWaves(1, [1, '50%', '100%'])).toEqual([1]);
  });

  it('rounds percentages up so that a wave always moves the rollout on', () => {
    expect(resolveWaves(1000, ['0.1%', '1%'])).toEqual([1, 999]);
  });

  it.each([[[0]], [[-1]], [[1.5]], [['0%']], [['101%']], [[]]])('refuses the waves %j with a clear message', (specs) => {
    expect(() => resolveWaves(10, specs as never)).toThrow(/waves/);
  });
});

describe('bake durations', () => {
  it.each([['250ms', 250], ['90s', 90_000], ['5m', 300_000], ['1h', 3_600_000], ['1.5s', 1_500], [0, 0]])('reads %j as %d ms', (v, ms) => {
    expect(parseDuration(v)).toBe(ms);
  });

  it.each(['5 minutes', '-1s', 'soon', ''])('refuses %j', (v) => expect(() => parseDuration(v)).toThrow(/duration/));
});
