/**
 * The sign-in limiter shared through PostgreSQL, on the real database: bursts
 * of parallel attempts for one account, some of them right, never fail a
 * statement (rows locked in different orders deadlock, and PostgreSQL ends a
 * deadlock by failing one of its statements), and the pruner never waits for
 * a row a sign-in holds.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/support.js';
import { openDatabase, type Database } from '../prisma/db.js';
import { pruneExpiredHits } from './rate-limit.js';
import { createSharedSignInLimiter, DEFAULT_SIGN_IN_LIMITS } from './sign-in-limiter.js';

describe('the sign-in limiter shared through PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Database;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = await openDatabase({ url: database.url });
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  it('answers every one of 30 parallel attempts for one account, some right and most wrong, in 10 bursts, without a failed statement', async () => {
    const logged: string[] = [];
    // The delay after the 5th failure outlasts the test, so each burst is also refused in part (a right password lets five more in).
    const limits = { ...DEFAULT_SIGN_IN_LIMITS, perEmailAndAddress: { max: 5, windowMs: 15 * 60_000, baseDelayMs: 10 * 60_000 } };
    const limiter = createSharedSignInLimiter(db.prisma, limits, (m) => logged.push(m));
    for (let burst = 0; burst < 10; burst++) {
      const answers = await Promise.allSettled(
        Array.from({ length: 30 }, async (_, n) => {
          const admission = await limiter.admit(`burst-${burst}@example.com`, `192.0.2.${burst}`);
          if (admission.ok) await (n % 3 === 0 ? admission.attempt.succeeded() : admission.attempt.failed());
          return admission.ok;
        }),
      );
      const failed = answers.flatMap((a) => (a.status === 'rejected' ? [String((a.reason as Error).message)] : []));
      expect(failed, `burst ${burst}`).toEqual([]);
      const admitted = answers.filter((a) => a.status === 'fulfilled' && a.value).length;
      expect(admitted, `burst ${burst}`).toBeGreaterThan(0);
      expect(admitted, `burst ${burst}`).toBeLessThan(30);
    }
    expect(logged).toEqual([]);
  });

  it('prunes expired rows without waiting for one that another transaction holds, and takes that one on a later pass', async () => {
    const keys = ['prune:a', 'prune:b', 'prune:c'];
    await db.prisma.$executeRaw`INSERT INTO "RateLimitHits" ("key", "hits", "expiresAtMs") SELECT k, ARRAY[1]::bigint[], 1 FROM unnest(${keys}::text[]) k`;
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "RateLimitHits" WHERE "key" = 'prune:b' FOR UPDATE`);
      const waited = new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 5 s'), 5_000).unref());
      expect(await Promise.race([pruneExpiredHits(db.prisma), waited])).toBe(2);
      await holder.query('COMMIT');
      expect(await pruneExpiredHits(db.prisma)).toBe(1);
      expect(await db.prisma.rateLimitHits.count({ where: { key: { in: keys } } })).toBe(0);
    } finally {
      await holder.end();
    }
  });
});
