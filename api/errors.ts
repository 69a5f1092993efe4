/**
 * The one error middleware: typed errors become status codes, infrastructure
 * failures become 503 naming what is down, and nothing leaks a stack trace.
 */
import type { ErrorRequestHandler } from 'express';
import { ZodError } from 'zod';
import { DrydockError, type ErrorKind } from '../core/errors.js';

const STATUS: Record<ErrorKind, number> = {
  'bad-request': 400,
  'not-found': 404,
  conflict: 409,
  unavailable: 503,
  'payload-too-large': 413,
  forbidden: 403,
};

const DB_DOWN = /ECONNREFUSED|ECONNRESET|Connection terminated|Can't reach database|connect ETIMEDOUT|Connection refused|database system is (starting|shutting)/i;

/** Errors thrown by Prisma or pg when the database is down carry no common type; their messages do. */
function databaseDown(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string; cause?: unknown };
  if (!e || typeof e !== 'object') return false;
  const fromDb = /Prisma|DriverAdapter|DatabaseError/.test(e.name ?? '') || e.code === 'ECONNREFUSED';
  return fromDb && DB_DOWN.test(`${e.message ?? ''} ${String((e.cause as Error | undefined)?.message ?? '')}`);
}

export function zodDetails(err: ZodError) {
  return err.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
}

export const errorMiddleware =
  (log: (m: string) => void = console.error): ErrorRequestHandler =>
  (err, _req, res, _next) => {
    if (err instanceof ZodError) {
      const fields = zodDetails(err);
      res.status(400).json({ error: fields.map((f) => `${f.field}: ${f.message}`).join('; '), fields });
      return;
    }
    if (err instanceof DrydockError) {
      res.status(STATUS[err.kind]).json({ error: err.message, ...(err.details ?? {}) });
      return;
    }
    // body-parser's own errors carry a status and a type.
    const status = (err as { status?: number }).status;
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') {
      res.status(413).json({ error: 'request body is too large' });
      return;
    }
    if (type === 'entity.parse.failed') {
      res.status(400).json({ error: 'request body is not valid JSON' });
      return;
    }
    if (status && status >= 400 && status < 500) {
      res.status(status).json({ error: (err as Error).message });
      return;
    }
    if (databaseDown(err)) {
      res.status(503).json({ error: 'the database is unreachable; try again shortly', dependency: 'database' });
      return;
    }
    log(`unhandled error: ${(err as Error)?.stack ?? String(err)}`);
    res.status(500).json({ error: 'internal error; see the control-plane log' });
  };
