import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.js';

describe('the sliding-window rate limiter', () => {
  it('lets max requests through per key in any window, then says when the next one would pass', () => {
    let t = 0;
    const limiter = createRateLimiter({ max: 3, windowMs: 60_000 }, { now: () => t });
    for (const at of [0, 10_000, 20_000]) {
      t = at;
      expect(limiter.hit('a')).toEqual({ ok: true });
    }
    t = 30_000;
    expect(limiter.hit('a')).toEqual({ ok: false, retryAfterSeconds: 30 });
    expect(limiter.hit('b')).toEqual({ ok: true });
    t = 60_001;
    expect(limiter.hit('a')).toEqual({ ok: true });
    expect(limiter.hit('a')).toEqual({ ok: false, retryAfterSeconds: 10 });
  });

  it('does not count refused requests, so waiting for Retry-After is enough', () => {
    let t = 0;
    const limiter = createRateLimiter({ max: 1, windowMs: 1_000 }, { now: () => t });
    expect(limiter.hit('k').ok).toBe(true);
    for (t = 100; t < 1_000; t += 100) expect(limiter.hit('k').ok).toBe(false);
    t = 1_001;
    expect(limiter.hit('k').ok).toBe(true);
  });

  it('forgets idle keys and bounds how many it keeps', () => {
    let t = 0;
    const limiter = createRateLimiter({ max: 1, windowMs: 1_000 }, { now: () => t, maxKeys: 100 });
    for (let i = 0; i < 1_000; i++) limiter.hit(`k${i}`);
    t = 5_000;
    // Old keys are gone: each may pass again.
    expect(limiter.hit('k0').ok).toBe(true);
  });
});
