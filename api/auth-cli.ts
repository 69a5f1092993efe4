/**
 * `npm run operator -- <command>`: operator accounts and API tokens from the
 * command line, on the same database `npm start` uses (DATABASE_URL, or the
 * embedded one under DRYDOCK_DATA_DIR, default .data/). Every change is
 * written to the audit log (actor: system "cli") in its transaction.
 *
 *   create --email E [--name N] [--role R]
 *                                   a new operator (role viewer, operator or
 *                                   admin; default: admin for the first
 *                                   operator, viewer after); the password is
 *                                   prompted (or read from stdin with
 *                                   --password-stdin, or DRYDOCK_OPERATOR_PASSWORD)
 *   set-role --email E --role R     change an operator's role; ends its sessions
 *   set-password --email E          a new password; ends the operator's sessions
 *   disable --email E | enable --email E
 *   list                            operators and their API tokens
 *   token --email E --name N [--role R] [--expires-in-days D]
 *                                   (the token's role: at most the operator's)
 *                                   a new API token, printed once
 *   revoke-token --id ID
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../prisma/db.js';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { createAuthStore, type AuthStore, type OperatorRecord } from './auth-store.js';
import { newApiToken, sha256, TOKEN_PREFIX } from './credentials.js';
import { PID_FILE } from './first-operator.js';
import { EMAIL_RE, hashPassword, normalizeEmail, passwordProblem } from './passwords.js';
import { createAuditLog, type AuditLog, type NewAuditEntry } from './audit.js';
import { isRole, lowerRole, type Role } from './roles.js';

const USAGE = `usage: npm run operator -- <command> [options]
  create --email E [--name N] [--role viewer|operator|admin] [--password-stdin]
  set-role --email E --role viewer|operator|admin
  set-password --email E [--password-stdin]
  disable --email E
  enable --email E
  list
  token --email E --name N [--role R] [--expires-in-days D]
  revoke-token --id ID
The password is prompted on a terminal, read from stdin with --password-stdin, or taken from DRYDOCK_OPERATOR_PASSWORD.`;

class UsageError extends Error {}

function fail(message: string): never {
  throw new UsageError(message);
}

async function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.replace(/\r?\n$/, '');
}

async function newPassword(fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) password = await readStdin();
  else if (process.env.DRYDOCK_OPERATOR_PASSWORD) password = process.env.DRYDOCK_OPERATOR_PASSWORD;
  else if (process.stdin.isTTY) {
    password = await readHidden('password: ');
    const problem = passwordProblem(password);
    if (problem) fail(`the password ${problem}`);
    if ((await readHidden('again: ')) !== password) fail('the passwords differ');
  } else fail('no password: use a terminal, --password-stdin or DRYDOCK_OPERATOR_PASSWORD');
  const problem = passwordProblem(password);
  if (problem) fail(`the password ${problem}`);
  return password;
}

function emailOf(value: string | undefined): string {
  if (!value) fail('--email is required');
  const email = normalizeEmail(value);
  if (!EMAIL_RE.test(email)) fail(`--email ${value} is not an email address`);
  return email;
}

/** PGlite is one process's: refuse while `npm start` holds the embedded database. */
function checkEmbeddedFree(dataDir: string) {
  const pidFile = path.join(dataDir, PID_FILE);
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // a stale file: that process is gone
  }
  fail(
    `npm start (pid ${pid}) is using the embedded database in ${dataDir}; stop it first, ` +
      'or set DRYDOCK_ADMIN_EMAIL and DRYDOCK_ADMIN_PASSWORD for its next start',
  );
}

function roleOf(value: string | undefined): Role | undefined {
  if (value === undefined) return undefined;
  if (!isRole(value)) fail(`--role ${value} is not a role: use viewer, operator or admin`);
  return value;
}

const CLI_ACTOR = { actorKind: 'system', actorName: 'cli' } as const;
const settings = (o: OperatorRecord) => ({ email: o.email, name: o.name, role: o.role, disabled: o.disabledAt !== null });

async function run(store: AuthStore, audit: AuditLog, command: string, v: Record<string, string | boolean | undefined>) {
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const entry = (e: Omit<NewAuditEntry, 'actorKind' | 'outcome'> & { outcome?: NewAuditEntry['outcome'] }): NewAuditEntry => ({ ...CLI_ACTOR, outcome: 'accepted', ...e });
  async function change(email: string, c: { role?: Role; disabled?: boolean }, action: string) {
    const op = await store.findOperatorByEmail(email);
    if (!op) fail(`no operator ${email}`);
    if (op.role === 'admin' && !op.disabledAt && ((c.role && c.role !== 'admin') || c.disabled) && (await store.countActiveAdmins(op.id)) === 0) {
      fail(`${email} is the last active admin: make another operator admin first`);
    }
    await audit.transaction(async (tx) => {
      const r = (await createAuthStore(tx).updateOperator(op.id, c))!;
      return { result: r, entry: entry({ action, targetKind: 'operator', targetId: op.id, before: settings(r.before), after: settings(r.after) }) };
    });
  }
  switch (command) {
    case 'create': {
      const email = emailOf(str('email'));
      if (await store.findOperatorByEmail(email)) fail(`an operator ${email} exists already (use set-password)`);
      const role = roleOf(str('role')) ?? ((await store.countOperators()) === 0 ? 'admin' : 'viewer');
      const password = await newPassword(v['password-stdin'] === true);
      const passwordHash = await hashPassword(password);
      const created = await audit.transaction(async (tx) => {
        const c = await createAuthStore(tx).createOperator({ email, name: str('name') ?? null, role, passwordHash });
        return {
          result: c,
          entry: c
            ? entry({ action: 'operator.create', targetKind: 'operator', targetId: c.id, after: { ...settings(c), password: 'set' } })
            : entry({ action: 'operator.create', targetKind: 'operator', outcome: 'refused', reason: `an operator ${email} exists already` }),
        };
      });
      if (!created) fail(`an operator ${email} exists already`);
      console.log(`created operator ${email} (${role})`);
      return;
    }
    case 'set-role': {
      const email = emailOf(str('email'));
      const role = roleOf(str('role')) ?? fail('--role is required (viewer, operator or admin)');
      await change(email, { role }, 'operator.set-role');
      console.log(`${email} is now ${role}; its sessions have ended`);
      return;
    }
    case 'set-password': {
      const email = emailOf(str('email'));
      const op = await store.findOperatorByEmail(email);
      if (!op) fail(`no operator ${email}`);
      const password = await newPassword(v['password-stdin'] === true);
      await store.setPassword(email, await hashPassword(password));
      await audit.write(entry({ action: 'operator.set-password', targetKind: 'operator', targetId: op.id, after: { password: 'set' } }));
      console.log(`password of ${email} set; its sessions have ended`);
      return;
    }
    case 'disable':
    case 'enable': {
      const email = emailOf(str('email'));
      await change(email, { disabled: command === 'disable' }, `operator.${command}`);
      console.log(`${email} ${command}d${command === 'disable' ? '; its sessions have ended and its tokens stop working' : ''}`);
      return;
    }
    case 'list': {
      const tokens = await store.listTokens();
      for (const o of await store.listOperators()) {
        console.log(`${o.email}${o.name ? ` (${o.name})` : ''} ${o.role}${o.disabledAt ? ' [disabled]' : ''}, created ${o.createdAt.toISOString()}`);
        for (const t of tokens.filter((t) => t.operatorId === o.id)) {
          const state = t.revokedAt ? `revoked ${t.revokedAt.toISOString()}` : t.expiresAt ? `expires ${t.expiresAt.toISOString()}` : 'active';
          console.log(`  token ${t.id} "${t.name}" ${t.prefix}… ${t.role} ${state}`);
        }
      }
      return;
    }
    case 'token': {
      const email = emailOf(str('email'));
      const name = str('name')?.trim();
      if (!name) fail('--name is required');
      const op = await store.findOperatorByEmail(email);
      if (!op) fail(`no operator ${email}`);
      const days = str('expires-in-days') ? Number(str('expires-in-days')) : undefined;
      if (days !== undefined && !(Number.isInteger(days) && days > 0)) fail('--expires-in-days must be a whole number of days');
      const opRole = isRole(op.role) ? op.role : 'viewer';
      const role = roleOf(str('role')) ?? opRole;
      if (lowerRole(role, opRole) !== role) fail(`a token's role can be at most its operator's (${opRole}), not ${role}`);
      const token = newApiToken();
      await audit.transaction(async (tx) => {
        const t = await createAuthStore(tx).createToken({
          name,
          tokenHash: sha256(token),
          prefix: token.slice(0, TOKEN_PREFIX.length + 6),
          operatorId: op.id,
          role,
          expiresAt: days ? new Date(Date.now() + days * 86_400_000) : null,
        });
        return {
          result: t,
          entry: entry({ action: 'token.create', targetKind: 'token', targetId: t.id, after: { name, operator: email, role, expiresAt: t.expiresAt?.toISOString() ?? null, token: 'set' } }),
        };
      });
      console.error(`API token "${name}" for ${email}; it is shown this once, keep it now:`);
      console.log(token);
      return;
    }
    case 'revoke-token': {
      const id = str('id') ?? fail('--id is required');
      const revoked = await audit.transaction(async (tx) => {
        const r = await createAuthStore(tx).revokeToken(id, 'cli');
        return { result: r, entry: entry({ action: 'token.revoke', targetKind: 'token', targetId: id, ...(r ? { after: { revokedAt: r.revokedAt?.toISOString() ?? null } } : { outcome: 'refused', reason: 'no unrevoked token with this id' }) }) };
      });
      if (!revoked) fail(`no unrevoked token ${id}`);
      console.log(`revoked token ${id} "${revoked.name}"`);
      return;
    }
    default:
      fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      id: { type: 'string' },
      'expires-in-days': { type: 'string' },
      role: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (!command || values.help) {
    console.log(USAGE);
    return;
  }
  const url = process.env.DATABASE_URL || undefined;
  const dataDir = process.env.DRYDOCK_DATA_DIR || path.join(REPO_ROOT, '.data');
  if (!url) checkEmbeddedFree(dataDir);
  const db = await openDatabase({ url, dataDir: path.join(dataDir, 'pglite') });
  try {
    await run(createAuthStore(db.prisma), createAuditLog(db.prisma), command, values);
  } finally {
    await db.close();
  }
}

try {
  await main();
} catch (err) {
  console.error(err instanceof UsageError ? err.message : `operator: ${(err as Error).message}`);
  process.exit(1);
}
