/**
 * Roles on the real control plane: every route the app registers is in the
 * role table (api/roles.ts), and a viewer, an operator and an admin are each
 * let through or refused (403, naming the role needed) exactly as the table
 * says. Tokens: at most their creator's role, their own or (admins) everyone's.
 * Operators: created, invited, re-roled and disabled by an admin, with audit
 * entries.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../api/audit.js';
import { ROLES, ROUTE_RULES, atLeast, type Role } from '../api/roles.js';
import { sessionOf, startTestControlPlane, uniqueName, type TestControlPlane, type TestOperator } from './support.js';

/** Every route of the routers the app mounts (all under /api), as "METHOD /api/path". */
function registeredRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: any[], inRouter: boolean) => {
    for (const layer of stack) {
      if (layer.route && inRouter) {
        for (const m of Object.keys(layer.route.methods)) if (m !== '_all') out.push(`${m.toUpperCase()} /api${layer.route.path}`);
      } else if (layer.handle?.stack && (inRouter || layer.match('/api/instances'))) walk(layer.handle.stack, true);
    }
  };
  // The app's own routes (GET /healthz) and the codec server (/codec, which any signed-in
  // operator may use: test/codec.test.ts) are outside /api.
  walk((app as any).router.stack, false);
  return out;
}

const REPO = path.join(import.meta.dirname, '..');

/** `npm run operator -- <args>` on the test's database: exit code and output. */
async function operatorCli(databaseUrl: string, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(path.join(REPO, 'node_modules', '.bin', 'tsx'), ['api/auth-cli.ts', ...args], {
      cwd: REPO,
      env: { ...process.env, DATABASE_URL: databaseUrl, ...env },
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

const concrete = (p: string) => p.replace(/:action/g, 'retry').replace(/:[a-zA-Z]+/g, randomUUID());

describe('roles on every route', () => {
  let cp: TestControlPlane;
  const as: Record<Role, TestOperator> = {} as Record<Role, TestOperator>;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    for (const role of ROLES) as[role] = await cp.createOperator(`${role}-${uniqueName('')}@drydock.test`, uniqueName('pw-'), role);
  });
  afterAll(async () => cp?.stop());

  it('has every registered route in the role table, and no row without a route', () => {
    const registered = registeredRoutes(cp.app);
    const table = ROUTE_RULES.map((r) => `${r.method} ${r.path}`);
    expect(registered.filter((r) => !table.includes(r)), 'routes missing from api/roles.ts').toEqual([]);
    expect(table.filter((r) => !registered.includes(r)), 'rows of api/roles.ts without a route').toEqual([]);
    expect(new Set(table).size).toBe(table.length);
  });

  it('lets each role through exactly where the table allows it, and refuses the rest with 403 naming the role needed', async () => {
    const wrong: string[] = [];
    const walked: string[] = [];
    for (const rule of ROUTE_RULES.filter((r) => r.role !== 'public')) {
      for (const role of ROLES) {
        const path = concrete(rule.path);
        const res = await cp.request(rule.method, path, {
          headers: { authorization: `Bearer ${as[role].token}` },
          body: rule.method === 'GET' ? undefined : {},
        });
        walked.push(`${role} ${rule.method} ${rule.path} -> ${res.status}`);
        const allowed = atLeast(role, rule.role as Role);
        if (allowed && (res.status === 403 || res.status === 401 || res.status >= 500)) {
          // The one 403 an allowed caller may get is not about roles: tokens are minted by sessions only.
          if (!(rule.path === '/api/tokens' && res.status === 403 && /signed-in operator/.test(res.body?.error))) wrong.push(`${role} allowed but ${rule.method} ${rule.path} -> ${res.status} ${JSON.stringify(res.body)}`);
        }
        if (!allowed) {
          if (res.status !== 403) wrong.push(`${role} should be refused ${rule.method} ${rule.path} -> ${res.status}`);
          else {
            expect(res.body.needs, `${rule.method} ${rule.path}`).toBe(rule.role);
            expect(res.body.error).toContain(`needs the ${rule.role} role`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
    // Every role was tried on every guarded route.
    expect(walked.length).toBe(ROUTE_RULES.filter((r) => r.role !== 'public').length * 3);
  });

  it('records a refused change with the role it needed', async () => {
    const res = await cp.request('POST', '/api/agents/invites', { headers: { authorization: `Bearer ${as.operator.token}` }, body: {} });
    expect(res.status).toBe(403);
    const { entries } = await createAuditLog(cp.db.prisma).list({ actor: as.operator.email, action: 'invite.create' });
    expect(entries[0]).toMatchObject({ outcome: 'refused', actorKind: 'token', tokenName: 'tests', targetKind: 'invite' });
    expect(entries[0]!.reason).toMatch(/needs the admin role/);
  });

  it("gives a token at most its creator's role; operators see and revoke their own tokens, admins everyone's", async () => {
    const opSession = await sessionOf(cp, as.operator);
    const tooHigh = await cp.request('POST', '/api/tokens', { headers: opSession, body: { name: 'escalate', role: 'admin' } });
    expect(tooHigh.status).toBe(403);
    expect(tooHigh.body.error).toMatch(/at most yours \(operator\)/);
    const viewerToken = await cp.request('POST', '/api/tokens', { headers: opSession, body: { name: 'read-only', role: 'viewer' } });
    expect(viewerToken.status).toBe(201);
    expect(viewerToken.body.role).toBe('viewer');
    // The token's role limits what it can do, whatever its operator may.
    const bearer = { authorization: `Bearer ${viewerToken.body.token}` };
    expect((await cp.request('GET', '/api/instances', { headers: bearer })).status).toBe(200);
    expect((await cp.request('POST', '/api/rollouts/preview', { headers: bearer, body: {} })).status).toBe(403);

    // Demoting the operator demotes its tokens with it.
    const adminSession = await sessionOf(cp, as.admin);
    const opToken = await cp.request('POST', '/api/tokens', { headers: opSession, body: { name: 'ops' } });
    expect(opToken.body.role).toBe('operator');

    const mine = await cp.request('GET', '/api/tokens', { headers: opSession });
    expect(new Set(mine.body.map((t: { operatorEmail: string }) => t.operatorEmail))).toEqual(new Set([as.operator.email]));
    const all = await cp.request('GET', '/api/tokens', { headers: adminSession });
    expect(all.body.map((t: { operatorEmail: string }) => t.operatorEmail)).toEqual(expect.arrayContaining([as.operator.email, as.admin.email, as.viewer.email]));

    const adminsToken = all.body.find((t: { operatorEmail: string }) => t.operatorEmail === as.admin.email);
    const notYours = await cp.request('POST', `/api/tokens/${adminsToken.id}/revoke`, { headers: opSession });
    expect(notYours.status).toBe(403);
    expect(notYours.body.error).toMatch(/needs the admin role/);
    expect((await cp.request('POST', `/api/tokens/${opToken.body.id}/revoke`, { headers: adminSession })).body.revokedBy).toBe(as.admin.email);
    expect((await cp.request('POST', `/api/tokens/${viewerToken.body.id}/revoke`, { headers: opSession })).body.revokedBy).toBe(as.operator.email);

    const entries = (await createAuditLog(cp.db.prisma).list({ targetKind: 'token' })).entries;
    const created = entries.find((e) => e.targetId === viewerToken.body.id && e.action === 'token.create');
    expect(created).toMatchObject({ outcome: 'accepted', actorName: as.operator.email, after: { name: 'read-only', role: 'viewer', token: 'set' } });
    expect(JSON.stringify(entries)).not.toContain(viewerToken.body.token);
  });

  it('manages roles from the command line: create --role, set-role, disable, token roles, each with an audit entry', async () => {
    const email = `${uniqueName('cli-')}@drydock.test`;
    const pw = { DRYDOCK_OPERATOR_PASSWORD: 'a long enough password' };
    expect(await operatorCli(cp.db.url, ['create', '--email', email, '--role', 'operator'], pw)).toMatchObject({ code: 0, out: expect.stringContaining('(operator)') });
    expect(await operatorCli(cp.db.url, ['create', '--email', `x${email}`, '--role', 'root'], pw)).toMatchObject({ code: 1, out: expect.stringContaining('--role root is not a role') });
    const high = await operatorCli(cp.db.url, ['token', '--email', email, '--name', 'ci', '--role', 'admin']);
    expect(high).toMatchObject({ code: 1, out: expect.stringContaining("at most its operator's (operator)") });
    expect(await operatorCli(cp.db.url, ['set-role', '--email', email, '--role', 'admin'])).toMatchObject({ code: 0 });
    expect((await operatorCli(cp.db.url, ['list'])).out).toContain(`${email} admin`);
    expect(await operatorCli(cp.db.url, ['disable', '--email', email])).toMatchObject({ code: 0 });
    expect((await operatorCli(cp.db.url, ['list'])).out).toContain(`${email} admin [disabled]`);

    const op = (await cp.api('GET', '/api/operators')).body.find((o: { email: string }) => o.email === email);
    const { entries } = await createAuditLog(cp.db.prisma).list({ targetKind: 'operator', targetId: op.id });
    expect(entries.map((e) => [e.action, e.actorName, e.before && (e.before as { role: string }).role, (e.after as { role: string }).role])).toEqual([
      ['operator.disable', 'cli', 'admin', 'admin'],
      ['operator.set-role', 'cli', 'operator', 'admin'],
      ['operator.create', 'cli', null, 'operator'],
    ]);
  });

  it('lets an admin create, invite, re-role and disable operators, and never demote the last admin', async () => {
    const admin = await sessionOf(cp, as.admin);
    const email = `${uniqueName('new-')}@drydock.test`;
    const invited = await cp.request('POST', '/api/operators', { headers: admin, body: { email, role: 'viewer' } });
    expect(invited.status).toBe(201);
    expect(invited.body.oneTimePassword).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect((await cp.request('POST', '/api/operators', { headers: admin, body: { email, role: 'viewer' } })).status).toBe(409);

    const newcomer = await sessionOf(cp, { email, password: invited.body.oneTimePassword });
    expect((await cp.request('POST', '/api/rollouts/preview', { headers: newcomer, body: {} })).status).toBe(403);
    const promoted = await cp.request('PATCH', `/api/operators/${invited.body.id}`, { headers: admin, body: { role: 'operator' } });
    expect(promoted.body.role).toBe('operator');
    // A role change ends the operator's sessions: it signs in again with the new role.
    expect((await cp.request('GET', '/api/instances', { headers: newcomer })).status).toBe(401);
    const again = await sessionOf(cp, { email, password: invited.body.oneTimePassword });
    expect((await cp.request('POST', '/api/rollouts/preview', { headers: again, body: {} })).status).toBe(400);

    const disabled = await cp.request('PATCH', `/api/operators/${invited.body.id}`, { headers: admin, body: { disabled: true } });
    expect(disabled.body.disabledAt).not.toBeNull();
    expect((await cp.anon('POST', '/api/auth/login', { email, password: invited.body.oneTimePassword })).status).toBe(401);

    // The harness's operator and as.admin are admins; demote one, then the last one is refused.
    const ops = (await cp.request('GET', '/api/operators', { headers: admin })).body as { id: string; email: string; role: string }[];
    for (const o of ops.filter((o) => o.role === 'admin' && o.email !== as.admin.email)) {
      expect((await cp.request('PATCH', `/api/operators/${o.id}`, { headers: admin, body: { role: 'operator' } })).status).toBe(200);
    }
    const last = await cp.request('PATCH', `/api/operators/${as.admin.id}`, { headers: admin, body: { role: 'viewer' } });
    expect(last.status).toBe(409);
    expect(last.body.error).toMatch(/last active admin/);

    const { entries } = await createAuditLog(cp.db.prisma).list({ targetKind: 'operator', targetId: invited.body.id });
    expect(entries.map((e) => [e.action, e.outcome])).toEqual([
      ['operator.update', 'accepted'],
      ['operator.update', 'accepted'],
      ['operator.create', 'accepted'],
    ]);
    expect(entries[1]).toMatchObject({ before: { role: 'viewer' }, after: { role: 'operator' }, actorName: as.admin.email, actorKind: 'operator' });
    expect(entries[2]!.after).toMatchObject({ email, role: 'viewer', password: 'set' });
    expect(JSON.stringify(entries)).not.toContain(invited.body.oneTimePassword);
  });
});
