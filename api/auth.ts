/**
 * Operator sign-in for the web UI and the admin API.
 *
 * - Passwords: scrypt (node:crypto), `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`.
 * - The UI: a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS)
 *   whose random secret is stored only as its sha256. Cookie-authenticated
 *   requests that change something must also carry `X-Drydock-Request`, a
 *   header no cross-site form can send.
 * - Scripts: API tokens (`Authorization: Bearer ddk_…`), shown once, stored
 *   as their sha256, revocable.
 * - Failed sign-ins are limited per client address and per email.
 *
 * The guard covers `/api/*` except what agents call (`/api/agents/register`,
 * `/api/agents/poll`) and `/api/auth/*` (sign-in itself).
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { AuthStore, OperatorRecord } from './auth-store.js';

export interface SignedInOperator {
  id: string;
  email: string;
  name: string | null;
  via: 'session' | 'token';
  tokenId?: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by the auth guard on every admin request. */
      operator?: SignedInOperator;
    }
  }
}

// ---------------------------------------------------------------- passwords

const SCRYPT_LOG_N = 15;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEY_LEN = 32;
export const MIN_PASSWORD_LENGTH = 10;

function scrypt(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  const opts: ScryptOptions = { N, r, p, maxmem: 256 * N * r };
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFKC'), salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P);
  return ['scrypt', SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![logN, r, p].every((n) => Number.isInteger(n) && n > 0) || logN > 20 || r > 32 || p > 16) return false;
  const expected = Buffer.from(parts[5]!, 'base64url');
  const key = await scrypt(password, Buffer.from(parts[4]!, 'base64url'), logN, r, p);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** What an unknown email is checked against, so a miss costs as much as a wrong password. */
let dummyHash: Promise<string> | undefined;

export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > 1024) return 'must be at most 1024 characters';
  return undefined;
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();
export const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

// ---------------------------------------------------------------- secrets

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
export const TOKEN_PREFIX = 'ddk_';
export const newApiToken = () => `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
export const newSessionSecret = () => randomBytes(32).toString('base64url');

// ---------------------------------------------------------------- failed sign-ins

export interface FailureLimit {
  max: number;
  windowMs: number;
}

/** Counts failures only: at most `max` failures per key in any `windowMs`; a success can clear a key. */
export function createFailureLimiter(limit: FailureLimit, now: () => number = Date.now, maxKeys = 50_000) {
  const failures = new Map<string, number[]>();
  const live = (key: string, t: number) => (failures.get(key) ?? []).filter((x) => x > t - limit.windowMs);
  return {
    /** Seconds until the key may try again, or 0. */
    retryAfter(key: string): number {
      const t = now();
      const times = live(key, t);
      if (times.length < limit.max) return 0;
      return Math.max(1, Math.ceil((times[times.length - limit.max]! + limit.windowMs - t) / 1000));
    },
    fail(key: string) {
      const t = now();
      if (failures.size >= maxKeys) {
        for (const [k, v] of failures) if ((v.at(-1) ?? 0) <= t - limit.windowMs) failures.delete(k);
        for (const k of failures.keys()) {
          if (failures.size < maxKeys) break;
          failures.delete(k);
        }
      }
      failures.set(key, [...live(key, t), t]);
    },
    clear(key: string) {
      failures.delete(key);
    },
  };
}

// ---------------------------------------------------------------- the service

export const SESSION_COOKIE = 'drydock_session';
/** The header the UI sends with every request: cross-site forms cannot set it. */
export const UI_REQUEST_HEADER = 'x-drydock-request';

export interface AuthOptions {
  store: AuthStore;
  /** Idle time after which a session ends (default 12 h). */
  sessionIdleMs?: number;
  /** A session ends this long after sign-in whatever its use (default 7 days). */
  sessionMaxMs?: number;
  /** Secure cookies: 'auto' (default) when the request came over HTTPS (req.secure, which honours `trust proxy`). */
  secureCookies?: boolean | 'auto';
  loginLimits?: { perAddress?: FailureLimit; perEmail?: FailureLimit };
  log?: (m: string) => void;
  now?: () => number;
}

export const DEFAULT_LOGIN_LIMITS = {
  perAddress: { max: 20, windowMs: 15 * 60_000 },
  perEmail: { max: 5, windowMs: 15 * 60_000 },
} satisfies Record<string, FailureLimit>;

const TOUCH_EVERY_MS = 60_000;

export class AuthError extends Error {
  constructor(
    readonly status: 401 | 403 | 429,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (!k || k in out) continue;
    try {
      out[k] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      /* a malformed cookie is no cookie */
    }
  }
  return out;
}

const view = (o: OperatorRecord, via: SignedInOperator['via'], tokenId?: string): SignedInOperator => ({
  id: o.id,
  email: o.email,
  name: o.name,
  via,
  ...(tokenId ? { tokenId } : {}),
});

export function createAuth(opts: AuthOptions) {
  const { store } = opts;
  const now = opts.now ?? Date.now;
  const idleMs = opts.sessionIdleMs ?? 12 * 3_600_000;
  const maxMs = opts.sessionMaxMs ?? 7 * 24 * 3_600_000;
  const byAddress = createFailureLimiter(opts.loginLimits?.perAddress ?? DEFAULT_LOGIN_LIMITS.perAddress, now);
  const byEmail = createFailureLimiter(opts.loginLimits?.perEmail ?? DEFAULT_LOGIN_LIMITS.perEmail, now);
  const log = opts.log ?? (() => {});

  const secure = (req: Request) => (opts.secureCookies === undefined || opts.secureCookies === 'auto' ? req.secure : opts.secureCookies);

  function cookie(req: Request, value: string, maxAgeSeconds: number): string {
    return [
      `${SESSION_COOKIE}=${value}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${maxAgeSeconds}`,
      ...(secure(req) ? ['Secure'] : []),
    ].join('; ');
  }

  async function fromToken(raw: string): Promise<SignedInOperator> {
    const found = raw.startsWith(TOKEN_PREFIX) ? await store.findToken(sha256(raw)) : undefined;
    const t = now();
    if (!found || found.token.revokedAt || (found.token.expiresAt && found.token.expiresAt.getTime() <= t)) {
      throw new AuthError(401, 'the API token is not valid: unknown, expired or revoked');
    }
    if (found.operator.disabledAt) throw new AuthError(401, `the operator ${found.operator.email} is disabled`);
    if (!found.token.lastUsedAt || t - found.token.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
      await store.touchToken(found.token.id, new Date(t));
    }
    return view(found.operator, 'token', found.token.id);
  }

  async function fromSession(secret: string): Promise<SignedInOperator | undefined> {
    const found = await store.findSession(sha256(secret));
    const t = now();
    if (!found || found.session.expiresAt.getTime() <= t || found.operator.disabledAt) return undefined;
    if (t - found.session.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
      const expiresAt = Math.min(t + idleMs, found.session.createdAt.getTime() + maxMs);
      await store.touchSession(found.session.id, new Date(t), new Date(expiresAt));
    }
    return view(found.operator, 'session');
  }

  /** Who is calling, or undefined for an anonymous request; throws for a bad token. */
  async function identify(req: Request): Promise<SignedInOperator | undefined> {
    const authz = req.get('authorization');
    if (authz !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authz);
      if (!m) throw new AuthError(401, 'the Authorization header must be "Bearer <API token>"');
      return fromToken(m[1]!);
    }
    const secret = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    return secret ? fromSession(secret) : undefined;
  }

  const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

  /** Guards a router: 401 without a valid session or token; 403 for a cookie-only request that changes state. */
  const requireOperator: RequestHandler = async (req, res, next) => {
    // Nobody names themselves: who did something is who signed in.
    delete req.headers['x-drydock-operator'];
    try {
      const op = await identify(req);
      if (!op) throw new AuthError(401, 'sign in first: this needs a session (the web UI) or an API token (Authorization: Bearer …)');
      if (op.via === 'session' && UNSAFE.has(req.method) && !req.get(UI_REQUEST_HEADER)) {
        throw new AuthError(403, `refused: a cookie-authenticated ${req.method} must carry the ${UI_REQUEST_HEADER} header`);
      }
      // Routes read who is calling with operatorOf(req), never from a header.
      req.operator = op;
      next();
    } catch (err) {
      if (err instanceof AuthError) return void sendAuthError(res, err);
      next(err);
    }
  };

  return {
    identify,
    requireOperator,

    async signIn(req: Request, res: Response, emailIn: string, password: string): Promise<SignedInOperator> {
      const email = normalizeEmail(emailIn);
      const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
      const wait = Math.max(byAddress.retryAfter(address), byEmail.retryAfter(email));
      if (wait > 0) throw new AuthError(429, `too many failed sign-ins; try again in ${wait}s`, wait);

      const op = await store.findOperatorByEmail(email);
      dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      const ok = await verifyPassword(password, op?.passwordHash ?? (await dummyHash));
      if (!op || !ok || op.disabledAt) {
        byAddress.fail(address);
        byEmail.fail(email);
        log(`sign-in refused for ${JSON.stringify(email.slice(0, 100))} from ${address}`);
        throw new AuthError(401, op?.disabledAt && ok ? 'this operator account is disabled' : 'wrong email or password');
      }
      byEmail.clear(email);

      const secret = newSessionSecret();
      const t = now();
      await store.createSession({
        tokenHash: sha256(secret),
        operatorId: op.id,
        expiresAt: new Date(t + Math.min(idleMs, maxMs)),
        userAgent: req.get('user-agent') ?? null,
        clientAddress: address,
      });
      void store.purgeExpiredSessions(new Date(t)).catch(() => {});
      res.setHeader('Set-Cookie', cookie(req, secret, Math.floor(maxMs / 1000)));
      log(`${op.email} signed in from ${address}`);
      return view(op, 'session');
    },

    async signOut(req: Request, res: Response) {
      const secret = parseCookies(req.headers.cookie)[SESSION_COOKIE];
      if (secret) await store.deleteSession(sha256(secret));
      res.setHeader('Set-Cookie', cookie(req, '', 0));
    },

    async createToken(operator: SignedInOperator, name: string, expiresInDays?: number) {
      const token = newApiToken();
      const record = await store.createToken({
        name,
        tokenHash: sha256(token),
        prefix: token.slice(0, TOKEN_PREFIX.length + 6),
        operatorId: operator.id,
        expiresAt: expiresInDays ? new Date(now() + expiresInDays * 86_400_000) : null,
      });
      return { ...record, token };
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;

export function sendAuthError(res: Response, err: AuthError) {
  if (err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="drydock"');
  if (err.retryAfterSeconds) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  res.status(err.status).json({ error: err.message, ...(err.retryAfterSeconds ? { retryAfterSeconds: err.retryAfterSeconds } : {}) });
}

/** Who made this request: the signed-in operator's email. */
export function operatorOf(req: Request): string | undefined {
  return req.operator?.email;
}

/** Paths under /api that the guard lets through: agents calling in, and sign-in itself. */
export function isOpenApiPath(pathUnderApi: string): boolean {
  const p = pathUnderApi.toLowerCase().replace(/\/+$/, '');
  return p === '/agents/register' || p === '/agents/poll' || p === '/auth' || p.startsWith('/auth/');
}

/** Where `npm start` on the embedded database writes its pid (in the data dir), so `npm run operator` does not open it too. */
export const PID_FILE = 'control-plane.pid';

/** The first operator, from DRYDOCK_ADMIN_EMAIL / DRYDOCK_ADMIN_PASSWORD, when there is none yet. */
export async function ensureFirstOperator(
  store: AuthStore,
  first: { email?: string; password?: string } | undefined,
  log: (m: string) => void,
): Promise<void> {
  if ((await store.countOperators()) > 0) return;
  if (!first?.email || !first.password) {
    log(
      'no operator account yet: set DRYDOCK_ADMIN_EMAIL and DRYDOCK_ADMIN_PASSWORD and restart, ' +
        'or run `npm run operator -- create --email you@example.com` (with the embedded database, stop npm start first)',
    );
    return;
  }
  const email = normalizeEmail(first.email);
  if (!EMAIL_RE.test(email)) throw new Error(`DRYDOCK_ADMIN_EMAIL=${first.email} is not an email address`);
  const problem = passwordProblem(first.password);
  if (problem) throw new Error(`DRYDOCK_ADMIN_PASSWORD ${problem}`);
  const created = await store.createOperator({ email, passwordHash: await hashPassword(first.password) });
  if (created) log(`created the first operator, ${email}`);
}
