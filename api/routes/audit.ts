/**
 * The audit log: `GET /api/audit` (filters: actor, action — `upgrade.*` for a
 * prefix —, targetKind, targetId, outcome, from/to; newest first, paged by
 * `cursor` = the previous page's nextCursor) and `GET /api/audit/export`
 * (`format=csv|ndjson`, every matching entry, streamed page by page).
 */
import { Router } from 'express';
import { csvHeader, csvLine, ndjsonLine, type AuditLog } from '../audit.js';
import { auditQuery } from '../schemas.js';

const EXPORT_PAGE = 1000;

export function createAuditRouter(deps: { audit: AuditLog }): Router {
  const router = Router();

  router.get('/audit', async (req, res) => {
    const { format: _format, ...filter } = auditQuery.parse(req.query);
    res.json(await deps.audit.list(filter));
  });

  router.get('/audit/export', async (req, res) => {
    const { format = 'ndjson', limit: _limit, ...filter } = auditQuery.parse(req.query);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="drydock-audit-${stamp}.${format}"`);
    if (format === 'csv') res.write(csvHeader());
    let cursor = filter.cursor;
    for (;;) {
      const page = await deps.audit.list({ ...filter, cursor, limit: EXPORT_PAGE });
      for (const e of page.entries) res.write(format === 'csv' ? csvLine(e) : ndjsonLine(e));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    res.end();
  });

  return router;
}
