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
 * State is in this process behind `SignInLimiter`, so it can move to the
 * database (several control planes) without touching the sign-in code.
 */

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
 * The in-process one answers synchronously; one shared through PostgreSQL
 * would count with a single atomic statement and answer with a promise.
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

export function createSignInLimiter(
  limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS,
  now: () => number = Date.now,
  maxKeys = 50_000,
): { admit(email: string, address: string): Admission } {
  const failures = new Map<string, number[]>();
  const knownGood = new Map<string, number>();
  let inFlight = 0;
  const KNOWN_GOOD_MS = 30 * 86_400_000;
  const longestWindow = Math.max(limits.perAddress.windowMs, limits.perEmail.windowMs, limits.perEmailAndAddress.windowMs);

  const live = (key: string, limit: SlowDown, t: number) => (failures.get(key) ?? []).filter((x) => x > t - limit.windowMs);

  function prune(t: number) {
    if (failures.size < maxKeys) return;
    for (const [k, v] of failures) if ((v.at(-1) ?? 0) <= t - longestWindow) failures.delete(k);
    for (const k of failures.keys()) {
      if (failures.size < maxKeys) break;
      failures.delete(k);
    }
    for (const [k, at] of knownGood) if (at <= t - KNOWN_GOOD_MS || knownGood.size > maxKeys) knownGood.delete(k);
  }

  /** Milliseconds until this key may try again. */
  function wait(key: string, limit: SlowDown, t: number): number {
    const times = live(key, limit, t);
    const d = delayAfter(times.length, limit);
    return d === 0 ? 0 : Math.max(0, times.at(-1)! + d - t);
  }

  return {
    admit(emailIn, address) {
      const email = emailIn.toLowerCase();
      const t = now();
      const keys: [string, SlowDown, string][] = [
        [`ea:${email}\n${address}`, limits.perEmailAndAddress, 'for this account from this address'],
        [`a:${address}`, limits.perAddress, 'from this address'],
      ];
      if (!knownGood.has(`${email}\n${address}`)) keys.push([`e:${email}`, limits.perEmail, 'for this account']);
      let longest = 0;
      let why = '';
      for (const [key, limit, what] of keys) {
        const w = wait(key, limit, t);
        if (w > longest) [longest, why] = [w, what];
      }
      if (longest > 0) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(longest / 1000)), why: `too many failed sign-ins ${why}` };
      if (inFlight >= limits.maxInFlight) return { ok: false, retryAfterSeconds: 1, why: 'too many sign-ins at once' };

      prune(t);
      const counted = [`ea:${email}\n${address}`, `a:${address}`, `e:${email}`];
      for (const key of counted) failures.set(key, [...(failures.get(key) ?? []).filter((x) => x > t - longestWindow), t]);
      inFlight++;
      let done = false;
      const finish = () => {
        if (done) return false;
        done = true;
        inFlight--;
        return true;
      };
      return {
        ok: true,
        attempt: {
          succeeded() {
            if (!finish()) return;
            for (const key of counted) {
              const times = failures.get(key) ?? [];
              const i = times.lastIndexOf(t);
              if (i >= 0) times.splice(i, 1);
            }
            failures.delete(`ea:${email}\n${address}`);
            knownGood.set(`${email}\n${address}`, now());
          },
          failed() {
            finish();
          },
        },
      };
    },
  };
}
