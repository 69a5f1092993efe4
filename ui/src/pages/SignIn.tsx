import { useState, type FormEvent } from 'react';
import type { OperatorView } from '../../../api/responses.js';
import { api, ApiError } from '../api.js';
import { ErrorNote, Field, fieldError, generalError } from '../components/bits.js';

export function SignInPage(props: { reason?: string; setupNeeded?: boolean; onSignedIn: (op: OperatorView) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const me = await api.login({ email, password });
      props.onSignedIn(me.operator);
    } catch (err) {
      setError(err);
      if (err instanceof ApiError && err.status === 401) setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form className="card signin-card" onSubmit={submit} noValidate aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to drydock</h1>
        {props.reason && <p className="alert alert-info">{props.reason}</p>}
        {props.setupNeeded && (
          <div className="alert alert-warn">
            No operator account exists yet. Create one with <code>npm run operator -- create --email you@example.com</code>, or set{' '}
            <code>DRYDOCK_ADMIN_EMAIL</code> and <code>DRYDOCK_ADMIN_PASSWORD</code> and restart the control plane.
          </div>
        )}
        <Field label="Email" htmlFor="signin-email" error={fieldError(error, 'email')}>
          <input id="signin-email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} autoFocus required />
        </Field>
        <Field label="Password" htmlFor="signin-password" error={fieldError(error, 'password')}>
          <input
            id="signin-password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </Field>
        <ErrorNote error={generalError(error, ['email', 'password'])} id="signin-error" />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
