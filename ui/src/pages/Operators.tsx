import { useState, type FormEvent } from 'react';
import type { OperatorView } from '../../../api/responses.js';
import { api, messageOf } from '../api.js';
import { Badge, Empty, ErrorNote, Field, fieldError, generalError, SecretBox } from '../components/bits.js';
import { when } from '../format.js';
import { useLoad } from '../hooks.js';
import { useCan, type Role } from '../role.js';

const ROLE_HELP: Record<Role, string> = {
  viewer: 'reads everything, changes nothing',
  operator: 'also starts, retries, rolls back, aborts and cancels upgrades and rollouts; sets tags',
  admin: 'also operators and roles, agents and invites, everyone’s API tokens',
};

/** Operators and their roles: admins create or invite, change roles, disable; others see why they cannot. */
export function OperatorsPage(props: { operator: OperatorView }) {
  const isAdmin = useCan('admin');
  if (!isAdmin) {
    return (
      <section>
        <div className="page-head">
          <h1>Operators</h1>
        </div>
        <p className="muted lead" data-testid="operators-admin-only">
          Managing operators needs the admin role; you are signed in as {props.operator.email} ({props.operator.role}).
        </p>
      </section>
    );
  }
  return <OperatorsAdmin operator={props.operator} />;
}

function OperatorsAdmin(props: { operator: OperatorView }) {
  const ops = useLoad(() => api.operators(), []);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [error, setError] = useState<unknown>();
  const [invited, setInvited] = useState<{ email: string; password: string }>();
  const [busy, setBusy] = useState<string>();
  const [rowErrors, setRowErrors] = useState<Record<string, string>>({});

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy('create');
    setError(undefined);
    try {
      const created = await api.createOperator({ email: email.trim(), role });
      if (created.oneTimePassword) setInvited({ email: created.email, password: created.oneTimePassword });
      setEmail('');
      await ops.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const change = async (id: string, body: { role?: Role; disabled?: boolean }) => {
    setBusy(id);
    setRowErrors((r) => ({ ...r, [id]: '' }));
    try {
      await api.patchOperator(id, body);
      await ops.reload();
    } catch (err) {
      setRowErrors((r) => ({ ...r, [id]: messageOf(err) }));
    } finally {
      setBusy(undefined);
    }
  };

  const list = ops.data ?? [];
  return (
    <section>
      <div className="page-head">
        <h1>Operators</h1>
      </div>
      <p className="muted lead">
        Roles: <strong>viewer</strong> {ROLE_HELP.viewer}; <strong>operator</strong> {ROLE_HELP.operator}; <strong>admin</strong> {ROLE_HELP.admin}. A role
        change or disabling ends the operator’s sessions; its API tokens never do more than its role.
      </p>
      <form className="card token-form" onSubmit={submit} noValidate>
        <Field label="Email" htmlFor="operator-email" error={fieldError(error, 'email')}>
          <input id="operator-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} placeholder="colleague@example.com" />
        </Field>
        <Field label="Role" htmlFor="operator-role" error={fieldError(error, 'role')}>
          <select id="operator-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="viewer">viewer</option>
            <option value="operator">operator</option>
            <option value="admin">admin</option>
          </select>
        </Field>
        <div className="invite-submit">
          <button type="submit" className="primary" disabled={busy === 'create'}>
            Invite operator
          </button>
        </div>
        <ErrorNote error={generalError(error, ['email', 'role'])} />
      </form>
      {invited && (
        <div className="card created-secret">
          <SecretBox
            label={`One-time password for ${invited.email}`}
            value={invited.password}
            testId="one-time-password"
            note="Shown this once: hand it over safely; they can change it with npm run operator -- set-password."
          />
          <button type="button" className="link-button" onClick={() => setInvited(undefined)}>
            Done, hide it
          </button>
        </div>
      )}
      <ErrorNote error={ops.error} />
      {list.length === 0 ? (
        <Empty>{ops.loading ? 'Loading…' : 'No operator.'}</Empty>
      ) : (
        <div className="table-scroll">
          <table className="table operators-table" data-testid="operators">
            <thead>
              <tr>
                <th>Email</th>
                <th>Role</th>
                <th>Created</th>
                <th>State</th>
                <th className="actions-col" />
              </tr>
            </thead>
            <tbody>
              {list.map((o) => (
                <tr key={o.id} data-email={o.email}>
                  <td data-label="Email">
                    {o.email}
                    {o.id === props.operator.id ? ' (you)' : ''}
                  </td>
                  <td data-label="Role">
                    <select
                      aria-label={`Role of ${o.email}`}
                      value={o.role}
                      disabled={busy === o.id}
                      onChange={(e) => void change(o.id, { role: e.target.value as Role })}
                    >
                      <option value="viewer">viewer</option>
                      <option value="operator">operator</option>
                      <option value="admin">admin</option>
                    </select>
                  </td>
                  <td data-label="Created">{when(o.createdAt)}</td>
                  <td data-label="State">
                    <Badge status={o.disabledAt ? 'disabled' : 'active'} tone={o.disabledAt ? 'bad' : 'ok'} label={o.disabledAt ? `disabled ${when(o.disabledAt)}` : 'active'} />
                  </td>
                  <td className="actions-col" data-label="">
                    <button type="button" className={o.disabledAt ? undefined : 'danger'} disabled={busy === o.id} onClick={() => void change(o.id, { disabled: !o.disabledAt })}>
                      {o.disabledAt ? 'Enable' : 'Disable'}
                    </button>
                    <ErrorNote error={rowErrors[o.id]} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
