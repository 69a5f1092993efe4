/**
 * Setting up operators outside the API: the first operator from the
 * environment at start, and the pid file that keeps `npm run operator` off
 * an embedded database `npm start` holds open.
 */
import type { AuthStore } from './auth-store.js';
import { EMAIL_RE, hashPassword, normalizeEmail, passwordProblem } from './passwords.js';

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
  const created = await store.createOperator({ email, role: 'admin', passwordHash: await hashPassword(first.password) });
  if (created) log(`created the first operator, ${email}`);
}
