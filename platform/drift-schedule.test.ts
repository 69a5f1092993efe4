import { describe, expect, it } from 'vitest';
import { driftIntervalFromEnv } from './drift-schedule.js';

describe('DRYDOCK_DRIFT_INTERVAL', () => {
  it('defaults to 30 minutes and reads seconds, minutes, hours and days', () => {
    expect(driftIntervalFromEnv(undefined)).toBe(30 * 60_000);
    expect(driftIntervalFromEnv('')).toBe(30 * 60_000);
    expect(driftIntervalFromEnv('90s')).toBe(90_000);
    expect(driftIntervalFromEnv('15m')).toBe(15 * 60_000);
    expect(driftIntervalFromEnv('2h')).toBe(2 * 3_600_000);
    expect(driftIntervalFromEnv('1d')).toBe(86_400_000);
  });

  it('turns the schedule off with off', () => {
    expect(driftIntervalFromEnv('off')).toBeNull();
  });

  it('refuses what is not an interval, or shorter than a minute, naming the variable', () => {
    expect(() => driftIntervalFromEnv('soon')).toThrow(/DRYDOCK_DRIFT_INTERVAL="soon" is not an interval/);
    expect(() => driftIntervalFromEnv('10')).toThrow(/not an interval/);
    expect(() => driftIntervalFromEnv('30s')).toThrow(/shorter than a minute/);
  });
});
