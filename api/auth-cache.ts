/**
 * A short-lived cache of verified credentials in front of the auth store, so
 * a browser polling `GET /api/upgrades/:id` does not cost a token (or
 * session) query per request.
 *
 * What it promises:
 * - A token or session revoked, expired, deleted or whose operator was
 *   disabled through this process is refused by this process at once: every
 *   change made through the store clears the cache.
 * - Changed by another process on the same database (a second control plane,
 *   `npm run operator`), it is refused here within AUTH_CACHE_TTL_MS: an entry
 *   is trusted for that long after it was read, then read again.
 * - Expiry times are still checked on every request (api/auth.ts does that
 *   with the record's own expiresAt).
 *
 * Keyed by the sha256 the store is queried with, never the secret itself;
 * only credentials that were found are kept, at most maxEntries of them, so
 * guessing tokens fills nothing.
 */
import type { AuthStore } from './auth-store.js';

/** How long a credential read from the database is trusted: the bound on seeing a revocation made by another process. */
export const AUTH_CACHE_TTL_MS = 2_000;
const DEFAULT_MAX_ENTRIES = 10_000;

/** Store methods that only read: anything else may change what a lookup would answer. */
const READS = /^(find|get|list|count)/;

export interface AuthCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

type Found<K extends 'findToken' | 'findSession'> = NonNullable<Awaited<ReturnType<AuthStore[K]>>>;

/** The store with findToken and findSession cached for ttlMs; every other method passes through. */
export function cachedAuthStore(store: AuthStore, opts: AuthCacheOptions = {}): AuthStore {
  const ttlMs = opts.ttlMs ?? AUTH_CACHE_TTL_MS;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const now = opts.now ?? Date.now;
  const tokens = new Map<string, { readAt: number; found: Found<'findToken'> }>();
  const sessions = new Map<string, { readAt: number; found: Found<'findSession'> }>();
  /** Counts changes made through the store (twice each: when it starts and when it ends). */
  let generations = 0;
  const clear = () => {
    tokens.clear();
    sessions.clear();
  };

  function cached<T>(cache: Map<string, { readAt: number; found: T }>, lookup: (hash: string) => Promise<T | undefined>) {
    // Requests that miss together share one query (when an entry expires under load, fifty pollers would
    // otherwise query at once), unless something changed through the store since that query started.
    const pending = new Map<string, { generation: number; answer: Promise<T | undefined> }>();
    return (hash: string): Promise<T | undefined> => {
      const hit = cache.get(hash);
      const age = hit ? now() - hit.readAt : Infinity;
      if (age < ttlMs) {
        // Read again ahead of expiry, in the background: a credential in use never expires under the requests
        // (they would all wait for PostgreSQL at once), and what is served is still never older than ttlMs.
        if (age >= ttlMs / 2 && !pending.has(hash)) load(hash).catch(() => {});
        return Promise.resolve(hit!.found);
      }
      return load(hash);
    };

    function load(hash: string): Promise<T | undefined> {
      const shared = pending.get(hash);
      if (shared && shared.generation === generations) return shared.answer;
      const generation = generations;
      const readAt = now();
      const answer = lookup(hash).then(
        (found) => {
          if (pending.get(hash)?.answer === answer) pending.delete(hash);
          cache.delete(hash);
          // A change made through this store while the query ran may not be in its answer: not kept then.
          if (found && generation === generations) {
            if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
            cache.set(hash, { readAt, found });
          }
          return found;
        },
        (err: unknown) => {
          if (pending.get(hash)?.answer === answer) pending.delete(hash);
          throw err;
        },
      );
      pending.set(hash, { generation, answer });
      return answer;
    }
  }

  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(store) as [string, (...args: unknown[]) => unknown][]) {
    if (typeof fn !== 'function' || READS.test(name)) {
      wrapped[name] = fn;
      continue;
    }
    wrapped[name] = async (...args: unknown[]) => {
      generations++;
      clear();
      try {
        return await fn(...args);
      } finally {
        // Again after the write: a lookup that started before it must not refill the cache with what it replaced.
        generations++;
        clear();
      }
    };
  }

  const touchToken: AuthStore['touchToken'] = (id, lastUsedAt) => {
    for (const e of tokens.values()) if (e.found.token.id === id) e.found = { ...e.found, token: { ...e.found.token, lastUsedAt } };
    return store.touchToken(id, lastUsedAt);
  };
  const touchSession: AuthStore['touchSession'] = (id, lastSeenAt, expiresAt) => {
    for (const e of sessions.values()) if (e.found.session.id === id) e.found = { ...e.found, session: { ...e.found.session, lastSeenAt, expiresAt } };
    return store.touchSession(id, lastSeenAt, expiresAt);
  };

  return {
    ...(wrapped as AuthStore),
    findToken: cached(tokens, store.findToken),
    findSession: cached(sessions, store.findSession),
    // Recording use changes nothing a lookup decides on: the cached record learns the new times instead of being dropped.
    touchToken,
    touchSession,
  };
}
