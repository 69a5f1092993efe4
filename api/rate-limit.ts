/**
 * An in-process sliding-window rate limiter: at most `max` requests per key in
 * any `windowMs`. A refused request does not count, so a client that waits
 * for Retry-After gets in. Good for one control-plane process; several behind
 * a load balancer would each count on their own.
 */
import type { RequestHandler, Response } from 'express';

export interface RateLimit {
  max: number;
  windowMs: number;
}

export interface RateLimiter {
  /** Counts a request for `key`; when refused, says how long until one would be accepted. */
  hit(key: string): { ok: true } | { ok: false; retryAfterSeconds: number };
}

export function createRateLimiter(limit: RateLimit, opts: { now?: () => number; maxKeys?: number } = {}): RateLimiter {
  const now = opts.now ?? Date.now;
  const maxKeys = opts.maxKeys ?? 100_000;
  const hits = new Map<string, number[]>();

  function prune(t: number) {
    for (const [k, times] of hits) {
      if ((times.at(-1) ?? 0) <= t - limit.windowMs) hits.delete(k);
    }
    // Still too many live keys: forget the oldest (Map keeps insertion order).
    for (const k of hits.keys()) {
      if (hits.size <= maxKeys) break;
      hits.delete(k);
    }
  }

  return {
    hit(key) {
      const t = now();
      if (hits.size >= maxKeys) prune(t);
      const times = (hits.get(key) ?? []).filter((x) => x > t - limit.windowMs);
      if (times.length >= limit.max) {
        hits.set(key, times);
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((times[0]! + limit.windowMs - t) / 1000)) };
      }
      times.push(t);
      hits.set(key, times);
      return { ok: true };
    },
  };
}

export function tooManyRequests(res: Response, retryAfterSeconds: number, what: string) {
  res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(429).json({ error: `too many ${what}; retry in ${retryAfterSeconds}s`, retryAfterSeconds });
}

/** Middleware over a limiter; requests without a key pass. */
export function rateLimit(limiter: RateLimiter, keyOf: (req: Parameters<RequestHandler>[0]) => string | undefined, what: string): RequestHandler {
  return (req, res, next) => {
    const key = keyOf(req);
    if (key === undefined) return next();
    const r = limiter.hit(key);
    if (r.ok) return next();
    tooManyRequests(res, r.retryAfterSeconds, what);
  };
}
