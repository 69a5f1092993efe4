/**
 * Sign-in attempts, limited so that guessing is slow and nobody is locked out:
 *
 * - An attempt is counted when it starts, before the password is checked, so
 *   parallel requests cannot all slip in under the limit; a success takes its
 *   count back.
 * - At most `maxInFlight` password checks run at once (scrypt is the costly part).
 * - Three keys, each a free allowance then an exponentially growing delay
 *   since the last failure (never a hard lock-out of the right password):
 *   email+address (a burst from one place), address (spraying many emails),
 *   and email from any address (guessing one account from many addresses).
 *   The email-wide delay does not apply from an address the operator has
 *   signed in from before, so somebody else's failures elsewhere do not keep
 *   the operator out.
 *
 * Two stores behind `SignInLimiter` with the same rules: this process's
 * memory (createSignInLimiter), and PostgreSQL (createSharedSignInLimiter),
 * which the control plane uses so that several API processes allow the limits
 * once between them, not once each. `maxInFlight` protects one process's CPU
 * from scrypt, so it stays per process in both.
 */
import { Prisma, type PrismaClient } from '../prisma/generated/client.js';
import { rateLimitPruner } from './rate-limit.js';

export interface SlowDown {
  /** Failures allowed in the window before any delay. */
  max: number;
  /** How long a failure counts. */
  windowMs: number;
  /** The first delay once `max` is reached; it doubles with each further failure (default 1 s). */
  baseDelayMs?: number;
  /** The longest delay (default windowMs). */
  maxDelayMs?: number;
}

export interface SignInLimits {
  perEmailAndAddress: SlowDown;
  perAddress: SlowDown;
  perEmail: SlowDown;
  maxInFlight: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  perEmailAndAddress: { max: 5, windowMs: 15 * 60_000, baseDelayMs: 5_000 },
  perAddress: { max: 20, windowMs: 15 * 60_000, baseDelayMs: 5_000 },
  perEmail: { max: 20, windowMs: 15 * 60_000, maxDelayMs: 60_000 },
  maxInFlight: 8,
};

export type Admission = { ok: true; attempt: Attempt } | { ok: false; retryAfterSeconds: number; why: string };

export interface Attempt {
  /** The password was right: take the attempt back and remember this address for the email. */
  succeeded(): void | Promise<void>;
  /** The password was wrong (the attempt stays counted). */
  failed(): void | Promise<void>;
}

/**
 * Admits (and counts, in the same step) an attempt or says how long to wait.
 * The in-process one answers synchronously; the one shared through
 * PostgreSQL counts and reads in one statement and answers with a promise.
 */
export interface SignInLimiter {
  admit(email: string, address: string): Admission | Promise<Admission>;
}

/** Delay after `n` failures (n > max): base, 2·base, 4·base, … up to maxDelay. */
export function delayAfter(n: number, limit: SlowDown): number {
  if (n < limit.max) return 0;
  const base = limit.baseDelayMs ?? 1000;
  const max = limit.maxDelayMs ?? limit.windowMs;
  return Math.min(max, base * 2 ** Math.min(n - limit.max, 40));
}

/** The keys an attempt is counted under, and the one that remembers a good address. */
function keysOf(emailIn: string, address: string) {
  const email = emailIn.toLowerCase();
  const emailAndAddress = `ea:${email}\n${address}`;
  return { email, emailAndAddress, counted: [emailAndAddress, `a:${address}`, `e:${email}`], knownGood: `${email}\n${address}` };
}

const KNOWN_GOOD_MS = 30 * 86_400_000;
const longestWindowOf = (limits: SignInLimits) => Math.max(limits.perAddress.windowMs, limits.perEmail.windowMs, limits.perEmailAndAddress.windowMs);

/** The refusal of an attempt that must wait, given the failure times of each key; undefined when it may start. */
function refusal(
  k: ReturnType<typeof keysOf>,
  failuresOf: (key: string) => readonly number[],
  knownGood: boolean,
  limits: SignInLimits,
  t: number,
): Admission | undefined {
  const [emailAndAddress, address, email] = k.counted as [string, string, string];
  const keys: [string, SlowDown, string][] = [
    [emailAndAddress, limits.perEmailAndAddress, 'for this account from this address'],
    [address, limits.perAddress, 'from this address'],
  ];
  if (!knownGood) keys.push([email, limits.perEmail, 'for this account']);
  let longest = 0;
  let why = '';
  for (const [key, limit, what] of keys) {
    const times = failuresOf(key).filter((x) => x > t - limit.windowMs);
    const d = delayAfter(times.length, limit);
    const w = d === 0 ? 0 : Math.max(0, times.at(-1)! + d - t);
    if (w > longest) [longest, why] = [w, what];
  }
  if (longest > 0) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(longest / 1000)), why: `too many failed sign-ins ${why}` };
  return undefined;
}

const BUSY: Admission = { ok: false, retryAfterSeconds: 1, why: 'too many sign-ins at once' };

/** At most `max` password checks at once in this process; `enter` answers the exit, which counts only once. */
function inFlightGate(max: number) {
  let inFlight = 0;
  return {
    enter(): (() => boolean) | undefined {
      if (inFlight >= max) return undefined;
      inFlight++;
      let done = false;
      return () => {
        if (done) return false;
        done = true;
        inFlight--;
        return true;
      };
    },
  };
}

export function createSignInLimiter(
  limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS,
  now: () => number = Date.now,
  maxKeys = 50_000,
): { admit(email: string, address: string): Admission } {
  const failures = new Map<string, number[]>();
  const knownGood = new Map<string, number>();
  const gate = inFlightGate(limits.maxInFlight);
  const longestWindow = longestWindowOf(limits);

  function prune(t: number) {
    if (failures.size < maxKeys) return;
    for (const [k, v] of failures) if ((v.at(-1) ?? 0) <= t - longestWindow) failures.delete(k);
    for (const k of failures.keys()) {
      if (failures.size < maxKeys) break;
      failures.delete(k);
    }
    for (const [k, at] of knownGood) if (at <= t - KNOWN_GOOD_MS || knownGood.size > maxKeys) knownGood.delete(k);
  }

  return {
    admit(emailIn, address) {
      const k = keysOf(emailIn, address);
      const t = now();
      const refused = refusal(k, (key) => failures.get(key) ?? [], knownGood.has(k.knownGood), limits, t);
      if (refused) return refused;
      const finish = gate.enter();
      if (!finish) return BUSY;

      prune(t);
      for (const key of k.counted) failures.set(key, [...(failures.get(key) ?? []).filter((x) => x > t - longestWindow), t]);
      return {
        ok: true,
        attempt: {
          succeeded() {
            if (!finish()) return;
            for (const key of k.counted) {
              const times = failures.get(key) ?? [];
              const i = times.lastIndexOf(t);
              if (i >= 0) times.splice(i, 1);
            }
            failures.delete(k.emailAndAddress);
            knownGood.set(k.knownGood, now());
          },
          failed() {
            finish();
          },
        },
      };
    },
  };
}

/** The hits without one occurrence of `t` (another attempt may have started in the same millisecond). */
const WITHOUT_ONE = (t: bigint) => Prisma.sql`CASE WHEN array_position("hits", ${t}::bigint) IS NULL THEN "hits"
  ELSE "hits"[1:array_position("hits", ${t}::bigint) - 1] || "hits"[array_position("hits", ${t}::bigint) + 1:] END`;

/**
 * The limiter in PostgreSQL (table RateLimitHits, keys `sign-in:…`), shared
 * by every process on the database. An attempt is counted first and decided
 * after: one statement appends it to its three keys (each row locked while it
 * is updated) and answers what each key held before it, so of parallel
 * attempts through any processes each sees those counted before it, as if
 * they had come one by one; a refused attempt is then taken back. Parallel
 * attempts can be refused a little early, never admitted over the limit, and
 * within such a burst a refusal's Retry-After counts the other refused
 * attempts not yet taken back (longer than one at a time would get). The
 * times are PostgreSQL's clock.
 *
 * Every statement that changes an attempt's keys locks their rows in key
 * order: two statements locking the same rows in different orders deadlock,
 * and PostgreSQL then fails one of them, which a sign-in would answer with an
 * error instead of a 401 or 429.
 */
export function createSharedSignInLimiter(
  prisma: PrismaClient,
  limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS,
  log: (m: string) => void = () => {},
): SignInLimiter {
  const gate = inFlightGate(limits.maxInFlight);
  const prune = rateLimitPruner(prisma);
  const longestWindow = BigInt(longestWindowOf(limits));
  const row = (key: string) => `sign-in:${key}`;

  /**
   * Takes one occurrence of the attempt at `t` back from `keys` and empties `cleared`; never rejects (a failure only
   * leaves it counted).
   */
  const takeBack = (keys: string[], t: bigint, cleared?: string) =>
    prisma.$executeRaw`WITH locked AS (SELECT "key" FROM "RateLimitHits" WHERE "key" = ANY(${keys.map(row)}::text[]) ORDER BY "key" FOR UPDATE)
      UPDATE "RateLimitHits" r SET "hits" = CASE WHEN r."key" = ${cleared === undefined ? null : row(cleared)}::text THEN '{}'::bigint[] ELSE ${WITHOUT_ONE(t)} END
      FROM locked WHERE r."key" = locked."key"`.then(
      () => {},
      (err: Error) => log(`sign-in limiter: could not take an attempt back: ${err.message}`),
    );

  return {
    async admit(emailIn, address) {
      prune();
      const k = keysOf(emailIn, address);
      const rows = await prisma.$queryRaw<{ key: string; hits: (bigint | number | string)[] | null; now: bigint }[]>`
        WITH t AS (SELECT (extract(epoch FROM now()) * 1000)::bigint AS ms),
        counted AS (
          INSERT INTO "RateLimitHits" AS r ("key", "hits", "expiresAtMs")
          SELECT k, ARRAY[t.ms], t.ms + ${longestWindow}::bigint FROM unnest(${k.counted.map(row)}::text[]) AS k, t ORDER BY k
          ON CONFLICT ("key") DO UPDATE SET
            "hits" = ARRAY(SELECT h FROM unnest(r."hits") h WHERE h > EXCLUDED."hits"[1] - ${longestWindow}::bigint ORDER BY h) || EXCLUDED."hits",
            "expiresAtMs" = EXCLUDED."expiresAtMs", "counted" = true
          RETURNING "key", "hits")
        SELECT c."key", c."hits", t.ms AS now FROM counted c, t
        UNION ALL
        SELECT g."key", g."hits", t.ms FROM "RateLimitHits" g, t WHERE g."key" = ${row(k.knownGood)}`;
      const t = Number(rows[0]!.now);
      const hits = new Map(rows.map((r) => [r.key, (r.hits ?? []).map(Number)]));
      // What each key held before this attempt: its list without this attempt's own entry (the last one at t).
      const failuresOf = (key: string) => {
        const list = [...(hits.get(row(key)) ?? [])];
        const i = list.lastIndexOf(t);
        if (i >= 0) list.splice(i, 1);
        return list;
      };
      const knownGood = (hits.get(row(k.knownGood))?.[0] ?? -Infinity) > t - KNOWN_GOOD_MS;
      const refused = refusal(k, failuresOf, knownGood, limits, t);
      const exit = refused ? undefined : gate.enter();
      if (refused || !exit) {
        await takeBack(k.counted, BigInt(t));
        return refused ?? BUSY;
      }
      return {
        ok: true,
        attempt: {
          async succeeded() {
            if (!exit()) return;
            await takeBack(k.counted, BigInt(t), k.emailAndAddress);
            await prisma.$executeRaw`INSERT INTO "RateLimitHits" ("key", "hits", "expiresAtMs")
              SELECT ${row(k.knownGood)}, ARRAY[ms], ms + ${BigInt(KNOWN_GOOD_MS)}::bigint FROM (SELECT (extract(epoch FROM now()) * 1000)::bigint AS ms) n
              ON CONFLICT ("key") DO UPDATE SET "hits" = EXCLUDED."hits", "expiresAtMs" = EXCLUDED."expiresAtMs"`.then(
              () => {},
              (err: Error) => log(`sign-in limiter: could not remember a good address: ${err.message}`),
            );
          },
          failed() {
            exit();
          },
        },
      };
    },
  };
}
