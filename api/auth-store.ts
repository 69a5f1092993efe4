/**
 * Operators, their browser sessions and their API tokens, in the database.
 * Secrets (session cookies, API tokens) are stored only as their sha256;
 * passwords only as scrypt hashes (api/auth.ts makes both).
 */
import type { PrismaClient } from '../prisma/generated/client.js';

export interface OperatorRecord {
  id: string;
  email: string;
  name: string | null;
  /** viewer | operator | admin (api/roles.ts) */
  role: string;
  disabledAt: Date | null;
  createdAt: Date;
}

export interface SessionRecord {
  id: string;
  operatorId: string;
  createdAt: Date;
  expiresAt: Date;
  lastSeenAt: Date;
}

export interface ApiTokenRecord {
  id: string;
  name: string;
  prefix: string;
  operatorId: string;
  operatorEmail: string;
  role: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
}

const UNIQUE_VIOLATION = 'P2002';

const operatorFields = { id: true, email: true, name: true, role: true, disabledAt: true, createdAt: true } as const;

export function createAuthStore(prisma: PrismaClient) {
  const tokenView = (t: {
    id: string;
    name: string;
    prefix: string;
    operatorId: string;
    role: string;
    createdAt: Date;
    lastUsedAt: Date | null;
    expiresAt: Date | null;
    revokedAt: Date | null;
    revokedBy: string | null;
    operator: { email: string };
  }): ApiTokenRecord => {
    const { operator, ...rest } = t;
    return { ...rest, operatorEmail: operator.email };
  };
  const tokenSelect = {
    id: true,
    name: true,
    prefix: true,
    operatorId: true,
    role: true,
    createdAt: true,
    lastUsedAt: true,
    expiresAt: true,
    revokedAt: true,
    revokedBy: true,
    operator: { select: { email: true } },
  } as const;

  return {
    /**
     * Called after a change made through another store (one bound to a
     * transaction): a caching wrapper (api/auth-cache.ts) drops what it
     * remembers. This store itself remembers nothing.
     */
    forget() {},
    countOperators: () => prisma.operator.count(),

    listOperators: (): Promise<OperatorRecord[]> => prisma.operator.findMany({ select: operatorFields, orderBy: { createdAt: 'asc' } }),

    /** With the password hash: for sign-in only. */
    findOperatorByEmail: async (email: string) => (await prisma.operator.findUnique({ where: { email } })) ?? undefined,

    getOperator: async (id: string): Promise<OperatorRecord | undefined> =>
      (await prisma.operator.findUnique({ where: { id }, select: operatorFields })) ?? undefined,

    /** Undefined when the email is taken. */
    async createOperator(data: { email: string; name?: string | null; role: string; passwordHash: string }): Promise<OperatorRecord | undefined> {
      try {
        return await prisma.operator.create({ data: { email: data.email, name: data.name ?? null, role: data.role, passwordHash: data.passwordHash }, select: operatorFields });
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) return undefined;
        throw err;
      }
    },

    /** Sets the password and ends every session of the operator; false when there is no such operator. */
    async setPassword(email: string, passwordHash: string): Promise<boolean> {
      return prisma.$transaction(async (tx) => {
        const op = await tx.operator.findUnique({ where: { email }, select: { id: true } });
        if (!op) return false;
        await tx.operator.update({ where: { id: op.id }, data: { passwordHash } });
        await tx.operatorSession.deleteMany({ where: { operatorId: op.id } });
        return true;
      });
    },

    /** Disabling ends the operator's sessions; its tokens stop working while it is disabled. */
    async setDisabled(email: string, disabled: boolean): Promise<boolean> {
      return prisma.$transaction(async (tx) => {
        const op = await tx.operator.findUnique({ where: { email }, select: { id: true } });
        if (!op) return false;
        await tx.operator.update({ where: { id: op.id }, data: { disabledAt: disabled ? new Date() : null } });
        if (disabled) await tx.operatorSession.deleteMany({ where: { operatorId: op.id } });
        return true;
      });
    },

    /**
     * Changes role and/or disabled state. Call inside a transaction (with the
     * audit entry). Disabling, and lowering a role, end the operator's sessions.
     */
    async updateOperator(id: string, change: { role?: string; disabled?: boolean }): Promise<{ before: OperatorRecord; after: OperatorRecord } | undefined> {
      const before = await prisma.operator.findUnique({ where: { id }, select: operatorFields });
      if (!before) return undefined;
      const after = await prisma.operator.update({
        where: { id },
        data: {
          ...(change.role !== undefined ? { role: change.role } : {}),
          ...(change.disabled !== undefined ? { disabledAt: change.disabled ? (before.disabledAt ?? new Date()) : null } : {}),
        },
        select: operatorFields,
      });
      if (change.disabled || (change.role !== undefined && change.role !== before.role)) {
        await prisma.operatorSession.deleteMany({ where: { operatorId: id } });
      }
      return { before, after };
    },

    /** Active admins other than `exceptId`: the last admin cannot be demoted or disabled. */
    countActiveAdmins: (exceptId?: string) =>
      prisma.operator.count({ where: { role: 'admin', disabledAt: null, ...(exceptId ? { id: { not: exceptId } } : {}) } }),

    createSession: (data: { tokenHash: string; operatorId: string; expiresAt: Date; userAgent?: string | null; clientAddress?: string | null }) =>
      prisma.operatorSession.create({
        data: { ...data, userAgent: data.userAgent?.slice(0, 500) ?? null, clientAddress: data.clientAddress ?? null },
        select: { id: true },
      }),

    async findSession(tokenHash: string): Promise<{ session: SessionRecord; operator: OperatorRecord } | undefined> {
      const s = await prisma.operatorSession.findUnique({
        where: { tokenHash },
        select: { id: true, operatorId: true, createdAt: true, expiresAt: true, lastSeenAt: true, operator: { select: operatorFields } },
      });
      if (!s) return undefined;
      const { operator, ...session } = s;
      return { session, operator };
    },

    touchSession: (id: string, lastSeenAt: Date, expiresAt: Date) =>
      prisma.operatorSession.updateMany({ where: { id }, data: { lastSeenAt, expiresAt } }),

    deleteSession: (tokenHash: string) => prisma.operatorSession.deleteMany({ where: { tokenHash } }),

    purgeExpiredSessions: (now = new Date()) => prisma.operatorSession.deleteMany({ where: { expiresAt: { lte: now } } }),

    async createToken(data: { name: string; tokenHash: string; prefix: string; operatorId: string; role: string; expiresAt: Date | null }): Promise<ApiTokenRecord> {
      return tokenView(await prisma.apiToken.create({ data, select: tokenSelect }));
    },

    async findToken(tokenHash: string): Promise<{ token: ApiTokenRecord; operator: OperatorRecord } | undefined> {
      const t = await prisma.apiToken.findUnique({ where: { tokenHash }, select: { ...tokenSelect, operator: { select: operatorFields } } });
      if (!t) return undefined;
      return { token: tokenView(t), operator: t.operator };
    },

    touchToken: (id: string, lastUsedAt: Date) => prisma.apiToken.updateMany({ where: { id }, data: { lastUsedAt } }),

    /** All tokens, or one operator's. */
    async listTokens(operatorId?: string): Promise<ApiTokenRecord[]> {
      return (await prisma.apiToken.findMany({ where: operatorId ? { operatorId } : {}, select: tokenSelect, orderBy: { createdAt: 'desc' }, take: 500 })).map(tokenView);
    },

    async getToken(id: string): Promise<ApiTokenRecord | undefined> {
      const t = await prisma.apiToken.findUnique({ where: { id }, select: tokenSelect });
      return t ? tokenView(t) : undefined;
    },

    /** Undefined when there is no such token or it was revoked already. */
    async revokeToken(id: string, revokedBy: string): Promise<ApiTokenRecord | undefined> {
      const { count } = await prisma.apiToken.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date(), revokedBy } });
      if (count === 0) return undefined;
      const t = await prisma.apiToken.findUnique({ where: { id }, select: tokenSelect });
      return t ? tokenView(t) : undefined;
    },
  };
}

export type AuthStore = ReturnType<typeof createAuthStore>;
