/**
 * Who is calling the admin API, and signing in and out: the service the
 * routes and the guard use. Passwords are api/passwords.ts, the token and
 * cookie secrets api/credentials.ts, the first operator api/first-operator.ts.
 *
 * - Passwords: scrypt (api/passwords.ts).
 * - The UI: a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS)
 *   whose random secret is stored only as its sha256. Cookie-authenticated
 *   requests that change something must also carry `X-Drydock-Request`, a
 *   header no cross-site form can send.
 * - Scripts: API tokens (`Authorization: Bearer ddk_…`), shown once, stored
 *   as their sha256, revocable.
 * - Sign-in attempts are counted before the password is checked and slowed
 *   down per email+address, per address and per email (api/sign-in-limiter.ts);
 *   every sign-in, accepted or refused, is one audit entry.
 * - Roles (api/roles.ts): a session has its operator's role; a token the lower
 *   of its own and its operator's. Only a signed-in session creates tokens.
 *
 * The guard covers `/api/*` except what agents call (`/api/agents/register`,
 * `/api/agents/poll`) and `/api/auth/*` (sign-in itself).
 */
import type { Request, RequestHandler, Response } from 'express';
import { createAuthStore, type AuthStore, type OperatorRecord } from './auth-store.js';
import { clientAddress, type AuditLog } from './audit.js';
import { isRole, lowerRole, matchRoute, type Role } from './roles.js';
import { createSignInLimiter, DEFAULT_SIGN_IN_LIMITS, type SignInLimiter, type SignInLimits } from './sign-in-limiter.js';
import { newApiToken, newSessionSecret, sha256, TOKEN_PREFIX } from './credentials.js';
import { normalizeEmail, verifyPasswordOrDummy } from './passwords.js';

export interface SignedInOperator {
  id: string;
  email: string;
  name: string | null;
  /** What this caller may do: the operator's role, or for a token the lower of the token's and its operator's. */
  role: Role;
  via: 'session' | 'token';
  tokenId?: string;
  tokenName?: string;
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
  /** Every sign-in writes an entry here (a success in the session's transaction). */
  audit: AuditLog;
  loginLimits?: Partial<SignInLimits>;
  /** Replaces the in-process limiter (e.g. one shared through the database). */
  limiter?: SignInLimiter;
  log?: (m: string) => void;
  now?: () => number;
}

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

const roleOf = (r: string): Role => (isRole(r) ? r : 'viewer');

const view = (o: OperatorRecord, via: SignedInOperator['via'], token?: { id: string; name: string; role: string }): SignedInOperator => ({
  id: o.id,
  email: o.email,
  name: o.name,
  role: token ? lowerRole(roleOf(o.role), roleOf(token.role)) : roleOf(o.role),
  via,
  ...(token ? { tokenId: token.id, tokenName: token.name } : {}),
});

export function createAuth(opts: AuthOptions) {
  const { store } = opts;
  const now = opts.now ?? Date.now;
  const idleMs = opts.sessionIdleMs ?? 12 * 3_600_000;
  const maxMs = opts.sessionMaxMs ?? 7 * 24 * 3_600_000;
  const limiter = opts.limiter ?? createSignInLimiter({ ...DEFAULT_SIGN_IN_LIMITS, ...opts.loginLimits }, now);
  const { audit } = opts;
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
    return view(found.operator, 'token', found.token);
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
      const address = clientAddress(req) ?? 'unknown';
      const entry = (outcome: 'accepted' | 'refused', reason: string | null, op?: OperatorRecord) => ({
        actorKind: op ? ('operator' as const) : ('anonymous' as const),
        actorId: op?.id ?? null,
        actorName: email.slice(0, 320),
        action: 'auth.sign-in',
        targetKind: 'session' as const,
        clientAddress: address,
        outcome,
        reason,
      });
      // Counted in the same step as the decision, before the password is checked, so parallel attempts cannot all pass.
      const admitted = await limiter.admit(email, address);
      if (!admitted.ok) {
        await audit.write(entry('refused', `${admitted.why}; retry in ${admitted.retryAfterSeconds}s`));
        throw new AuthError(429, `${admitted.why}; try again in ${admitted.retryAfterSeconds}s`, admitted.retryAfterSeconds);
      }
      const { attempt } = admitted;
      let op: Awaited<ReturnType<AuthStore['findOperatorByEmail']>>;
      let ok: boolean;
      try {
        op = await store.findOperatorByEmail(email);
        ok = await verifyPasswordOrDummy(password, op?.passwordHash);
      } catch (err) {
        void attempt.failed();
        throw err;
      }
      if (!op || !ok || op.disabledAt) {
        void attempt.failed();
        const disabled = Boolean(op?.disabledAt && ok);
        await audit.write(entry('refused', disabled ? 'the operator is disabled' : op ? 'wrong password' : 'no such operator', op ?? undefined));
        log(`sign-in refused for ${JSON.stringify(email.slice(0, 100))} from ${address}`);
        throw new AuthError(401, disabled ? 'this operator account is disabled' : 'wrong email or password');
      }
      void attempt.succeeded();
      const signedIn = op;

      const secret = newSessionSecret();
      const t = now();
      await audit.transaction(async (tx) => {
        const created = await createAuthStore(tx).createSession({
          tokenHash: sha256(secret),
          operatorId: signedIn.id,
          expiresAt: new Date(t + Math.min(idleMs, maxMs)),
          userAgent: req.get('user-agent') ?? null,
          clientAddress: address,
        });
        return { result: created, entry: { ...entry('accepted', null, signedIn), targetId: created.id } };
      });
      void store.purgeExpiredSessions(new Date(t)).catch(() => {});
      res.setHeader('Set-Cookie', cookie(req, secret, Math.floor(maxMs / 1000)));
      log(`${signedIn.email} signed in from ${address}`);
      return view(signedIn, 'session');
    },

    async signOut(req: Request, res: Response) {
      const secret = parseCookies(req.headers.cookie)[SESSION_COOKIE];
      if (secret) await store.deleteSession(sha256(secret));
      res.setHeader('Set-Cookie', cookie(req, '', 0));
    },

    /**
     * A new API token of the signed-in operator. Only a session may create
     * one (a token cannot mint tokens, so revoking a leaked token ends the
     * leak), and its role is at most the operator's.
     */
    async createToken(req: Request, body: { name: string; expiresInDays?: number; role?: Role }) {
      const operator = req.operator!;
      if (operator.via !== 'session') {
        throw new AuthError(403, 'refused: API tokens are created by a signed-in operator (the web UI) or `npm run operator -- token`, not by another token');
      }
      const role = body.role ?? operator.role;
      if (lowerRole(role, operator.role) !== role) {
        throw new AuthError(403, `refused: a token's role can be at most yours (${operator.role}), not ${role}`);
      }
      const token = newApiToken();
      const record = await audit.transaction(async (tx) => {
        const created = await createAuthStore(tx).createToken({
          name: body.name,
          tokenHash: sha256(token),
          prefix: token.slice(0, TOKEN_PREFIX.length + 6),
          operatorId: operator.id,
          role,
          expiresAt: body.expiresInDays ? new Date(now() + body.expiresInDays * 86_400_000) : null,
        });
        return {
          result: created,
          entry: {
            actorKind: 'operator' as const,
            actorId: operator.id,
            actorName: operator.email,
            action: 'token.create',
            targetKind: 'token' as const,
            targetId: created.id,
            clientAddress: clientAddress(req),
            outcome: 'accepted' as const,
            after: { name: created.name, role, expiresAt: created.expiresAt?.toISOString() ?? null, token: 'set' },
          },
        };
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

/** Paths under /api open to anyone (the role table's `public` rows): agents calling in, and sign-in itself. */
export function isOpenApiPath(pathUnderApi: string): boolean {
  return ['GET', 'POST'].some((m) => matchRoute(m, `/api${pathUnderApi}`)?.rule.role === 'public');
}
