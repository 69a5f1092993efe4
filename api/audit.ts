/**
 * The audit log: one append-only table (AuditEntry; the database refuses
 * UPDATE, DELETE and TRUNCATE on it). A change that is a database write
 * records its entry in the same transaction (`audit.transaction`); a change
 * that happens in a workflow (retry, roll back, abort, cancel, rollout
 * signals) is recorded when Temporal accepts or refuses it; any other
 * state-changing request is recorded by `auditRequests` when it is answered,
 * so no state-changing route goes unrecorded, refusals included.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { PrismaClient } from '../prisma/generated/client.js';
import { auditAction, type TargetKind } from './roles.js';

export type Outcome = 'accepted' | 'refused';

export interface AuditActor {
  actorKind: 'operator' | 'token' | 'anonymous' | 'system';
  actorId?: string | null;
  actorName?: string | null;
  tokenId?: string | null;
  tokenName?: string | null;
}

export interface NewAuditEntry extends AuditActor {
  action: string;
  targetKind?: TargetKind | null;
  targetId?: string | null;
  clientAddress?: string | null;
  outcome: Outcome;
  reason?: string | null;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

export interface AuditEntryView extends Omit<NewAuditEntry, 'before' | 'after'> {
  id: string;
  at: string;
  before: unknown;
  after: unknown;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  targetKind?: string;
  targetId?: string;
  outcome?: Outcome;
  from?: Date;
  to?: Date;
  /** Entries older than this id (the previous page's nextCursor). */
  cursor?: string;
  limit?: number;
}

/** Secrets are recorded only as whether they are set. */
export function secretState(value: unknown): 'set' | 'unset' {
  return value === undefined || value === null || value === '' ? 'unset' : 'set';
}

/** A copy of `values` with the named keys (secrets) replaced by set/unset. */
export function maskSecrets(values: Record<string, unknown> | null | undefined, secretKeys: Iterable<string>): Record<string, unknown> | null {
  if (!values) return null;
  const out = { ...values };
  for (const k of secretKeys) if (k in out) out[k] = secretState(out[k]);
  return out;
}

type Tx = Pick<PrismaClient, 'auditEntry'>;

/** Rolls a transaction back from inside, carrying the answer and the refusal to record. */
class Refused extends Error {
  constructor(
    readonly result: unknown,
    readonly entry: NewAuditEntry,
  ) {
    super(entry.reason ?? 'refused');
  }
}

const MAX_TEXT = 2000;
const clip = (s: string | null | undefined) => (s == null ? null : s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s);

function row(e: NewAuditEntry) {
  return {
    actorKind: e.actorKind,
    actorId: e.actorId ?? null,
    actorName: clip(e.actorName),
    tokenId: e.tokenId ?? null,
    tokenName: clip(e.tokenName),
    action: e.action,
    targetKind: e.targetKind ?? null,
    targetId: clip(e.targetId),
    clientAddress: clip(e.clientAddress),
    outcome: e.outcome,
    reason: clip(e.reason),
    before: (e.before ?? undefined) as object | undefined,
    after: (e.after ?? undefined) as object | undefined,
  };
}

function view(r: { id: bigint; at: Date } & Record<string, unknown>): AuditEntryView {
  return { ...(r as unknown as AuditEntryView), id: r.id.toString(), at: r.at.toISOString() };
}

export function createAuditLog(prisma: PrismaClient) {
  return {
    /** Writes one entry, inside the caller's transaction when given one. */
    async write(entry: NewAuditEntry, tx: Tx = prisma): Promise<void> {
      await tx.auditEntry.create({ data: row(entry) });
    },

    /**
     * Runs `fn` and writes its entry in one transaction: both or neither. A
     * refused entry rolls back whatever `fn` did (a refusal changes nothing;
     * and a unique violation has already aborted the transaction) and is
     * written on its own.
     */
    async transaction<T>(fn: (tx: PrismaClient) => Promise<{ result: T; entry: NewAuditEntry }>): Promise<T> {
      try {
        return await prisma.$transaction(async (tx) => {
          const { result, entry } = await fn(tx as unknown as PrismaClient);
          if (entry.outcome === 'refused') throw new Refused(result, entry);
          await tx.auditEntry.create({ data: row(entry) });
          return result;
        });
      } catch (err) {
        if (!(err instanceof Refused)) throw err;
        await prisma.auditEntry.create({ data: row(err.entry) });
        return err.result as T;
      }
    },

    /** Newest first; `nextCursor` pages on. */
    async list(f: AuditFilter): Promise<{ entries: AuditEntryView[]; nextCursor: string | null }> {
      const limit = Math.min(Math.max(f.limit ?? 100, 1), 1000);
      const where = {
        ...(f.actor ? { OR: [{ actorName: f.actor }, { actorId: f.actor }, { tokenId: f.actor }] } : {}),
        ...(f.action ? (f.action.endsWith('.*') ? { action: { startsWith: f.action.slice(0, -1) } } : { action: f.action }) : {}),
        ...(f.targetKind ? { targetKind: f.targetKind } : {}),
        ...(f.targetId ? { targetId: f.targetId } : {}),
        ...(f.outcome ? { outcome: f.outcome } : {}),
        ...(f.from || f.to ? { at: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } } : {}),
        ...(f.cursor ? { id: { lt: BigInt(f.cursor) } } : {}),
      };
      const rows = await prisma.auditEntry.findMany({ where, orderBy: { id: 'desc' }, take: limit + 1 });
      const entries = rows.slice(0, limit).map(view);
      return { entries, nextCursor: rows.length > limit ? entries.at(-1)!.id : null };
    },

    /** Who did each operator action on these upgrades (accepted ones), oldest first. */
    async actionsOn(targetKind: TargetKind, targetIds: string[]) {
      if (targetIds.length === 0) return [];
      const rows = await prisma.auditEntry.findMany({
        where: { targetKind, targetId: { in: targetIds }, outcome: 'accepted' },
        orderBy: { id: 'asc' },
        select: { targetId: true, action: true, actorName: true, tokenName: true, at: true },
      });
      return rows;
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;

// ---------------------------------------------------------------- requests

export const clientAddress = (req: Request) => req.ip ?? req.socket.remoteAddress ?? null;

/** Who made the request, as the audit log names them. */
export function actorOf(req: Request): AuditActor {
  const op = req.operator;
  if (!op) return { actorKind: 'anonymous' };
  return {
    actorKind: op.via === 'token' ? 'token' : 'operator',
    actorId: op.id,
    actorName: op.email,
    tokenId: op.tokenId ?? null,
    tokenName: op.tokenName ?? null,
  };
}

/** The common fields of an entry for this request: who, from where, the route's action and target. */
export function entryFor(req: Request, fields: Partial<NewAuditEntry> & { outcome: Outcome }): NewAuditEntry {
  const m = req.route_;
  return {
    ...actorOf(req),
    clientAddress: clientAddress(req),
    action: (m && auditAction(m)) ?? `${req.method} ${req.baseUrl}${req.path}`,
    targetKind: m?.rule.audit?.target ?? null,
    targetId: m?.params.id ?? null,
    ...fields,
  };
}

export interface AuditLocals {
  /** Set by a route that wrote its own entry (in its transaction). */
  audited?: boolean;
  /** The target when it is not the path's :id (e.g. the upgrade a start created). */
  auditTarget?: { kind: TargetKind; id: string };
  auditBefore?: Record<string, unknown> | null;
  auditAfter?: Record<string, unknown> | null;
}

export const auditLocals = (res: Response) => res.locals as AuditLocals;

/**
 * A route's change and its entry for this request in one transaction (both or
 * neither); the request is then marked recorded, so the middleware adds none.
 */
export async function changeAudited<T>(
  audit: AuditLog,
  req: Request,
  res: Response,
  fn: (tx: PrismaClient) => Promise<{ result: T; entry: Partial<NewAuditEntry> & { outcome: Outcome } }>,
): Promise<T> {
  const result = await audit.transaction(async (tx) => {
    const r = await fn(tx);
    return { result: r.result, entry: entryFor(req, r.entry) };
  });
  auditLocals(res).audited = true;
  return result;
}

/**
 * Records every state-changing request the table names an audit action for:
 * accepted for 2xx/3xx, refused (with the error the caller got) otherwise.
 * A JSON answer goes out only once its entry is written, so whoever got an
 * answer can find it in the log. Routes that wrote their own entry (in their
 * transaction) set res.locals.audited.
 */
export function auditRequests(audit: AuditLog, log?: (m: string) => void): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    let recorded: Promise<void> | undefined;
    const record = (refusal?: string): Promise<void> => {
      if (recorded) return recorded;
      const m = req.route_;
      const locals = auditLocals(res);
      if (locals.audited || !m?.rule.audit) return (recorded = Promise.resolve());
      const accepted = res.statusCode < 400;
      const target = locals.auditTarget;
      recorded = audit
        .write(
          entryFor(req, {
            outcome: accepted ? 'accepted' : 'refused',
            reason: accepted ? null : (refusal ?? `HTTP ${res.statusCode}`),
            ...(target ? { targetKind: target.kind, targetId: target.id } : {}),
            before: locals.auditBefore ?? null,
            after: locals.auditAfter ?? null,
          }),
        )
        .catch((err: Error) => log?.(`audit: could not record ${req.method} ${req.originalUrl}: ${err.message}`));
      return recorded;
    };
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const error = res.statusCode >= 400 && body && typeof body === 'object' ? (body as { error?: unknown }).error : undefined;
      void record(typeof error === 'string' ? error : undefined).then(() => json(body));
      return res;
    };
    // Answers without JSON (204, a stream) are recorded once sent.
    res.on('finish', () => void record());
    next();
  };
}

// ---------------------------------------------------------------- export

const CSV_COLUMNS = ['id', 'at', 'actorKind', 'actorId', 'actorName', 'tokenId', 'tokenName', 'action', 'targetKind', 'targetId', 'clientAddress', 'outcome', 'reason', 'before', 'after'] as const;

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'string' ? v : JSON.stringify(v);
  // A spreadsheet must not run a cell as a formula.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvHeader = () => `${CSV_COLUMNS.join(',')}\r\n`;
export const csvLine = (e: AuditEntryView) => `${CSV_COLUMNS.map((c) => csvCell((e as unknown as Record<string, unknown>)[c])).join(',')}\r\n`;
export const ndjsonLine = (e: AuditEntryView) => `${JSON.stringify(e)}\n`;
