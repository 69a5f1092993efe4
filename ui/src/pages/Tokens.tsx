import { useState, type FormEvent } from 'react';
import type { OperatorView } from '../../../api/responses.js';
import { api, messageOf } from '../api.js';
import { Badge, Empty, ErrorNote, Field, fieldError, generalError, SecretBox } from '../components/bits.js';
import { when } from '../format.js';
import { useLoad } from '../hooks.js';

export function TokensPage(props: { operator: OperatorView }) {
  const tokens = useLoad(() => api.tokens(), []);
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [role, setRole] = useState<'' | 'viewer' | 'operator' | 'admin'>('');
  const ROLE_ORDER = ['viewer', 'operator', 'admin'] as const;
  const roles = ROLE_ORDER.slice(0, ROLE_ORDER.indexOf(props.operator.role) + 1);
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<{ token: string; name: string }>();
  const [busy, setBusy] = useState<string>();
  const [rowErrors, setRowErrors] = useState<Record<string, string>>({});

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy('create');
    setError(undefined);
    try {
      const t = await api.createToken({ name: name.trim(), expiresInDays: days ? Number(days) : undefined, role: role || undefined });
      setCreated({ token: t.token, name: t.name });
      setName('');
      setDays('');
      await tokens.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const revoke = async (id: string) => {
    setBusy(id);
    setRowErrors((r) => ({ ...r, [id]: '' }));
    try {
      await api.revokeToken(id);
      await tokens.reload();
    } catch (err) {
      setRowErrors((r) => ({ ...r, [id]: messageOf(err) }));
    } finally {
      setBusy(undefined);
    }
  };

  const list = tokens.data ?? [];
  return (
    <section>
      <div className="page-head">
        <h1>API tokens</h1>
      </div>
      <p className="muted lead">
        For scripts: send <code>Authorization: Bearer &lt;token&gt;</code>. What a token does is recorded as done by its operator ({props.operator.email}{' '}
        for tokens you create).
      </p>
      <form className="card token-form" onSubmit={submit} noValidate>
        <Field label="Name" htmlFor="token-name" error={fieldError(error, 'name')}>
          <input id="token-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. nightly rollout script" />
        </Field>
        <Field label="Expires after (days, optional)" htmlFor="token-days" error={fieldError(error, 'expiresInDays')}>
          <input id="token-days" type="number" min={1} max={3650} value={days} onChange={(e) => setDays(e.target.value)} placeholder="never" />
        </Field>
        <Field label="Role (at most yours)" htmlFor="token-role" error={fieldError(error, 'role')}>
          <select id="token-role" value={role} onChange={(e) => setRole(e.target.value as typeof role)}>
            <option value="">{props.operator.role} (yours)</option>
            {roles
              .filter((r) => r !== props.operator.role)
              .map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
          </select>
        </Field>
        <div className="invite-submit">
          <button type="submit" className="primary" disabled={busy === 'create'}>
            Create token
          </button>
        </div>
        <ErrorNote error={generalError(error, ['name', 'expiresInDays', 'role'])} />
      </form>
      {created && (
        <div className="card created-secret">
          <SecretBox label={`Token "${created.name}"`} value={created.token} testId="new-token" note="Shown this once: copy it now. Only its hash is kept." />
          <button type="button" className="link-button" onClick={() => setCreated(undefined)}>
            Done, hide it
          </button>
        </div>
      )}
      <ErrorNote error={tokens.error} />
      {list.length === 0 ? (
        <Empty>{tokens.loading ? 'Loading…' : 'No API token yet.'}</Empty>
      ) : (
        <div className="table-scroll">
          <table className="table tokens-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Token</th>
                <th>Operator</th>
                <th>Role</th>
                <th>Created</th>
                <th>Last used</th>
                <th>State</th>
                <th className="actions-col" />
              </tr>
            </thead>
            <tbody>
              {list.map((t) => {
                const expired = t.expiresAt !== null && Date.parse(t.expiresAt) <= Date.now();
                const state = t.revokedAt ? 'revoked' : expired ? 'expired' : 'active';
                return (
                  <tr key={t.id}>
                    <td data-label="Name">{t.name}</td>
                    <td data-label="Token" className="mono">
                      {t.prefix}…
                    </td>
                    <td data-label="Operator">{t.operatorEmail}</td>
                    <td data-label="Role">{t.role ?? '–'}</td>
                    <td data-label="Created">{when(t.createdAt)}</td>
                    <td data-label="Last used">{when(t.lastUsedAt)}</td>
                    <td data-label="State">
                      <Badge status={state} label={t.revokedAt ? `revoked by ${t.revokedBy ?? '–'}` : t.expiresAt && !expired ? `active until ${when(t.expiresAt)}` : state} />
                    </td>
                    <td className="actions-col" data-label="">
                      {state === 'active' && (
                        <button type="button" className="danger" disabled={busy === t.id} onClick={() => revoke(t.id)}>
                          Revoke
                        </button>
                      )}
                      <ErrorNote error={rowErrors[t.id]} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
