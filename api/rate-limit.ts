/**
 * Sliding-window rate limits: at most `max` requests per key in any
 * `windowMs`. A refused request does not count, so a client that waits for
 * Retry-After gets in.
 *
 * Two stores with the same semantics: one in this process (unit tests, a
 * router built without a database), and one in PostgreSQL that every API
 * process behind a load balancer shares, so N processes allow the limit once,
 * not N times. The shared one is a single upsert per check on PostgreSQL's
 * clock (so the processes' clocks need not agree).
 */
import type { RequestHandler, Response } from 'express';
import type { PrismaClient } from '../prisma/generated/client.js';

export interface RateLimit {
  max: number;
  windowMs: number;
}

export type RateLimitAnswer = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts a request for `key`; when refused, says how long until one would be accepted. */
  hit(key: string): RateLimitAnswer | Promise<RateLimitAnswer>;
}

/** Makes the limiter a router uses for one of its limits; `name` keeps the limits' keys apart. */
export type RateLimiterFactory = (name: string, limit: RateLimit) => RateLimiter;

const retryAfter = (oldest: number, limit: RateLimit, t: number) => Math.max(1, Math.ceil((oldest + limit.windowMs - t) / 1000));

export function createRateLimiter(limit: RateLimit, opts: { now?: () => number; maxKeys?: number } = {}): { hit(key: string): RateLimitAnswer } {
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
        return { ok: false, retryAfterSeconds: retryAfter(times[0]!, limit, t) };
      }
      times.push(t);
      hits.set(key, times);
      return { ok: true };
    },
  };
}

/** Rows whose window has passed are deleted at most this often by each process. */
export const PRUNE_EVERY_MS = 60_000;

/**
 * Deletes the rows of RateLimitHits whose window has passed and answers how
 * many. Rows another statement holds are skipped (the next pass takes them):
 * a pruner that waited for them could deadlock with a sign-in that locks
 * several rows, and PostgreSQL might fail the sign-in to end it.
 */
export const pruneExpiredHits = (prisma: PrismaClient): Promise<number> =>
  prisma.$executeRaw`DELETE FROM "RateLimitHits" WHERE "key" IN (
    SELECT "key" FROM "RateLimitHits" WHERE "expiresAtMs" < (extract(epoch FROM now()) * 1000)::bigint FOR UPDATE SKIP LOCKED)`;

/** Prunes RateLimitHits at most every PRUNE_EVERY_MS from this process, in the background. */
export function rateLimitPruner(prisma: PrismaClient, now: () => number = Date.now): () => void {
  let last = now();
  return () => {
    if (now() - last < PRUNE_EVERY_MS) return;
    last = now();
    pruneExpiredHits(prisma).catch(() => {});
  };
}

/**
 * The limiter in PostgreSQL, shared by every process on the database. One
 * statement per check: the row of the key is locked by the upsert, the hits
 * outside the window dropped, and the new one appended only when fewer than
 * `max` remain; the statement answers whether it was counted and the oldest
 * hit, from which Retry-After follows.
 */
export function sharedRateLimiterFactory(prisma: PrismaClient): RateLimiterFactory {
  const prune = rateLimitPruner(prisma);
  return (name, limit) => ({
    async hit(key) {
      prune();
      const k = `${name}:${key}`;
      const w = BigInt(limit.windowMs);
      const max = BigInt(limit.max);
      // now() is the statement's time on PostgreSQL's clock; the old row's values are what every SET expression sees.
      const [row] = await prisma.$queryRaw<{ counted: boolean; oldest: bigint; now: bigint }[]>`
        INSERT INTO "RateLimitHits" AS r ("key", "hits", "counted", "expiresAtMs")
        SELECT ${k}, ARRAY[t.ms], true, t.ms + ${w} FROM (SELECT (extract(epoch FROM now()) * 1000)::bigint AS ms) t
        ON CONFLICT ("key") DO UPDATE SET
          "counted" = (SELECT count(*) FROM unnest(r."hits") h WHERE h > EXCLUDED."hits"[1] - ${w}) < ${max},
          "hits" = ARRAY(SELECT h FROM unnest(r."hits") h WHERE h > EXCLUDED."hits"[1] - ${w} ORDER BY h)
            || CASE WHEN (SELECT count(*) FROM unnest(r."hits") h WHERE h > EXCLUDED."hits"[1] - ${w}) < ${max} THEN EXCLUDED."hits" ELSE '{}'::bigint[] END,
          "expiresAtMs" = CASE WHEN (SELECT count(*) FROM unnest(r."hits") h WHERE h > EXCLUDED."hits"[1] - ${w}) < ${max} THEN EXCLUDED."expiresAtMs" ELSE r."expiresAtMs" END
        RETURNING "counted", "hits"[1] AS oldest, (extract(epoch FROM now()) * 1000)::bigint AS now`;
      if (row!.counted) return { ok: true };
      return { ok: false, retryAfterSeconds: retryAfter(Number(row!.oldest), limit, Number(row!.now)) };
    },
  });
}

/** The in-process store (one process, or a router built without a database). */
export const inProcessRateLimiterFactory: RateLimiterFactory = (_name, limit) => createRateLimiter(limit);

export function tooManyRequests(res: Response, retryAfterSeconds: number, what: string) {
  res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(429).json({ error: `too many ${what}; retry in ${retryAfterSeconds}s`, retryAfterSeconds });
}

/** Middleware over a limiter; requests without a key pass. */
export function rateLimit(limiter: RateLimiter, keyOf: (req: Parameters<RequestHandler>[0]) => string | undefined, what: string): RequestHandler {
  return async (req, res, next) => {
    const key = keyOf(req);
    if (key === undefined) return next();
    const r = await limiter.hit(key);
    if (r.ok) return next();
    tooManyRequests(res, r.retryAfterSeconds, what);
  };
}
