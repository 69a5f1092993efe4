import { Component, useCallback, useEffect, useState, type ReactNode } from 'react';
import type { OperatorView } from '../../api/responses.js';
import { api, messageOf, setSignedOutHandler } from './api.js';
import { linkProps, useLocation } from './router.js';
import { AgentsPage } from './pages/Agents.js';
import { DriftReportPage } from './pages/DriftReport.js';
import { InstanceDetailPage } from './pages/InstanceDetail.js';
import { InstancesPage } from './pages/Instances.js';
import { ReleasesPage } from './pages/Releases.js';
import { RolloutDetailPage } from './pages/RolloutDetail.js';
import { RolloutsPage } from './pages/Rollouts.js';
import { SignInPage } from './pages/SignIn.js';
import { TokensPage } from './pages/Tokens.js';
import { AuditPage } from './pages/Audit.js';
import { OperatorsPage } from './pages/Operators.js';
import { NotificationsPage } from './pages/Notifications.js';
import { OperatorContext } from './role.js';

type Session = { state: 'loading' } | { state: 'signed-out'; reason?: string; setupNeeded?: boolean } | { state: 'signed-in'; operator: OperatorView };

export function App() {
  const [session, setSession] = useState<Session>({ state: 'loading' });

  const check = useCallback(async () => {
    try {
      const me = await api.me();
      setSession({ state: 'signed-in', operator: me.operator });
    } catch (err) {
      const e = err as { status?: number; extra?: { setupNeeded?: boolean } };
      if (e.status === 401) setSession({ state: 'signed-out', setupNeeded: e.extra?.setupNeeded });
      else setSession({ state: 'signed-out', reason: messageOf(err) });
    }
  }, []);

  useEffect(() => {
    setSignedOutHandler(() => setSession((s) => (s.state === 'signed-in' ? { state: 'signed-out', reason: 'Your session has ended; sign in again.' } : s)));
    void check();
  }, [check]);

  if (session.state === 'loading') return <div className="boot">Loading…</div>;
  if (session.state === 'signed-out') {
    return <SignInPage reason={session.reason} setupNeeded={session.setupNeeded} onSignedIn={(operator) => setSession({ state: 'signed-in', operator })} />;
  }
  return <Shell operator={session.operator} onSignedOut={() => setSession({ state: 'signed-out' })} />;
}

function Shell(props: { operator: OperatorView; onSignedOut: () => void }) {
  const { path } = useLocation();
  const [signOutError, setSignOutError] = useState<string>();
  const signOut = async () => {
    try {
      await api.logout();
      props.onSignedOut();
    } catch (err) {
      setSignOutError(messageOf(err));
    }
  };

  let page: ReactNode;
  let section = 'instances';
  const m = /^\/instances\/([^/]+)\/?$/.exec(path);
  const drift = /^\/instances\/([^/]+)\/drift\/?$/.exec(path);
  const rollout = /^\/rollouts\/([^/]+)\/?$/.exec(path);
  if (m) page = <InstanceDetailPage id={decodeURIComponent(m[1]!)} />;
  else if (drift) page = <DriftReportPage id={decodeURIComponent(drift[1]!)} />;
  else if (rollout) {
    page = <RolloutDetailPage id={decodeURIComponent(rollout[1]!)} />;
    section = 'rollouts';
  } else if (path === '/rollouts') {
    page = <RolloutsPage />;
    section = 'rollouts';
  } else if (path === '/releases') {
    page = <ReleasesPage />;
    section = 'releases';
  } else if (path === '/agents') {
    page = <AgentsPage />;
    section = 'agents';
  } else if (path === '/tokens') {
    page = <TokensPage operator={props.operator} />;
    section = 'tokens';
  } else if (path === '/operators') {
    page = <OperatorsPage operator={props.operator} />;
    section = 'operators';
  } else if (path === '/notifications') {
    page = <NotificationsPage operator={props.operator} />;
    section = 'notifications';
  } else if (path === '/audit') {
    page = <AuditPage />;
    section = 'audit';
  } else if (path === '/' || path === '/instances') page = <InstancesPage />;
  else page = <NotFound path={path} />;

  const nav = (to: string, key: string, label: string) => (
    <a {...linkProps(to)} className={section === key ? 'active' : undefined} aria-current={section === key ? 'page' : undefined}>
      {label}
    </a>
  );

  return (
    <OperatorContext.Provider value={props.operator}>
      <header className="topbar">
        <a className="brand" {...linkProps('/')}>
          drydock
        </a>
        <nav aria-label="Main">
          {nav('/', 'instances', 'Instances')}
          {nav('/rollouts', 'rollouts', 'Rollouts')}
          {nav('/releases', 'releases', 'Releases')}
          {nav('/agents', 'agents', 'Agents')}
          {nav('/tokens', 'tokens', 'API tokens')}
          {nav('/operators', 'operators', 'Operators')}
          {nav('/notifications', 'notifications', 'Notifications')}
          {nav('/audit', 'audit', 'Audit')}
        </nav>
        <div className="whoami">
          <span className="whoami-email" title={props.operator.email} data-testid="whoami">
            {props.operator.email}
          </span>
          <span className="muted" data-testid="whoami-role">
            {props.operator.role}
          </span>
          <button type="button" className="link-button" onClick={signOut}>
            Sign out
          </button>
          {signOutError && (
            <span className="error-note" role="alert">
              {signOutError}
            </span>
          )}
        </div>
      </header>
      <main className="page">
        <ErrorBoundary key={path}>{page}</ErrorBoundary>
      </main>
    </OperatorContext.Provider>
  );
}

function NotFound(props: { path: string }) {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{props.path}</code>. <a {...linkProps('/')}>Back to the instances</a>.
      </p>
    </section>
  );
}

/** A rendering bug shows as a message, never as a blank page. */
class ErrorBoundary extends Component<{ children: ReactNode }, { error?: Error }> {
  state: { error?: Error } = {};
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  render() {
    if (this.state.error) {
      return (
        <section className="alert alert-bad" role="alert">
          <h2>This page failed to render</h2>
          <p>{this.state.error.message}</p>
          <button type="button" onClick={() => this.setState({ error: undefined })}>
            Try again
          </button>
        </section>
      );
    }
    return this.props.children;
  }
}
