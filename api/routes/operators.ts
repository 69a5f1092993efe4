/**
 * Operators and their roles (`/api/operators`, admins only by the role table):
 * list, create or invite, change role, disable and enable. Each change is
 * written with its audit entry in one transaction.
 */
import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { conflict, notFound } from '../../core/errors.js';
import { createAuthStore, type AuthStore, type OperatorRecord } from '../auth-store.js';
import { hashPassword } from '../passwords.js';
import { auditLocals, entryFor, type AuditLog } from '../audit.js';
import { createOperatorBody, idParam, patchOperatorBody } from '../schemas.js';

export interface OperatorsRouterDeps {
  store: AuthStore;
  audit: AuditLog;
  log?: (m: string) => void;
}

const settings = (o: OperatorRecord) => ({ email: o.email, name: o.name, role: o.role, disabled: o.disabledAt !== null });

export function createOperatorsRouter(deps: OperatorsRouterDeps): Router {
  const router = Router();

  router.get('/operators', async (_req, res) => {
    res.json(await deps.store.listOperators());
  });

  // Without a password this is an invitation: a one-time password, shown in this answer only.
  router.post('/operators', async (req, res) => {
    const body = createOperatorBody.parse(req.body ?? {});
    const oneTimePassword = body.password ? undefined : randomBytes(12).toString('base64url');
    const passwordHash = await hashPassword(body.password ?? oneTimePassword!);
    const created = await deps.audit.transaction(async (tx) => {
      const op = await createAuthStore(tx).createOperator({ email: body.email, name: body.name ?? null, role: body.role, passwordHash });
      return {
        result: op,
        entry: op
          ? entryFor(req, { outcome: 'accepted', targetId: op.id, after: { ...settings(op), password: 'set' } })
          : entryFor(req, { outcome: 'refused', targetId: null, reason: `an operator ${body.email} exists already`, after: { email: body.email } }),
      };
    });
    auditLocals(res).audited = true;
    if (!created) throw conflict(`an operator ${body.email} exists already`);
    deps.log?.(`operator ${created.email} (${created.role}) created by ${req.operator!.email}`);
    res.status(201).json({ ...created, ...(oneTimePassword ? { oneTimePassword } : {}) });
  });

  router.patch('/operators/:id', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const body = patchOperatorBody.parse(req.body ?? {});
    const me = req.operator!;
    type Changed = 'missing' | { refused: string } | { before: OperatorRecord; after: OperatorRecord };
    const changed = await deps.audit.transaction<Changed>(async (tx) => {
      const store = createAuthStore(tx);
      const current = await store.getOperator(id);
      if (!current) return { result: 'missing' as const, entry: entryFor(req, { outcome: 'refused', reason: 'no such operator' }) };
      const losesAdmin = current.role === 'admin' && current.disabledAt === null && ((body.role && body.role !== 'admin') || body.disabled === true);
      if (losesAdmin && (await store.countActiveAdmins(id)) === 0) {
        const reason = `${current.email} is the last active admin: make another operator admin first`;
        return { result: { refused: reason }, entry: entryFor(req, { outcome: 'refused', reason, before: settings(current) }) };
      }
      const r = (await store.updateOperator(id, body))!;
      return { result: r, entry: entryFor(req, { outcome: 'accepted', before: settings(r.before), after: settings(r.after) }) };
    });
    auditLocals(res).audited = true;
    // A role change or disabling must reach this process's credential cache at once.
    deps.store.forget();
    if (changed === 'missing') throw notFound(`no operator with id ${id}`);
    if ('refused' in changed) throw conflict(changed.refused);
    deps.log?.(`operator ${changed.after.email} changed by ${me.email}: role ${changed.after.role}${changed.after.disabledAt ? ', disabled' : ''}`);
    res.json(changed.after);
  });

  return router;
}
