/** One upgrade: its steps live, the error it parked on, and retry / roll back / abort / cancel. */
import { useRef, useState } from 'react';
import type { UpgradeView } from '../../../../api/responses.js';
import { api, messageOf } from '../../api.js';
import { Badge, ErrorNote } from '../../components/bits.js';
import { Modal } from '../../components/Modal.js';
import { between, MODE_LABEL, when } from '../../format.js';
import { useLoad, useTick } from '../../hooks.js';
import { useCan } from '../../role.js';

const ACTIVE = new Set(['queued', 'running', 'needs-attention', 'rolling-back']);
export const isActive = (u: UpgradeView | undefined) => !!u && ACTIVE.has(u.status);

type Action = 'retry' | 'rollback' | 'abort' | 'cancel';
const ACTION_LABEL: Record<Action, string> = { retry: 'Retry step', rollback: 'Roll back', abort: 'Abort', cancel: 'Cancel upgrade' };
const CONFIRM: Partial<Record<Action, string>> = {
  rollback: 'Roll back restores the snapshot taken before the upgrade: the managed files and .env byte for byte, the previous image tag and images, then starts and verifies the services.',
  abort: 'Abort ends the upgrade as failed and leaves the tenant as it is now. Nothing is rolled back.',
  cancel: 'Cancel stops the running step (a compose command is stopped cleanly) and ends the upgrade as cancelled, leaving the tenant as it is at that point.',
};
const DECIDED_LABEL: Record<string, string> = { retry: 'retried', rollback: 'rolled back', abort: 'aborted' };

export function UpgradeCard(props: { upgradeId: string; initial?: UpgradeView; onChanged: () => Promise<void> }) {
  const [fast, setFast] = useState(true);
  const wasActive = useRef(false);
  const loaded = useLoad(
    async () => {
      const u = await api.upgrade(props.upgradeId);
      const active = isActive(u);
      if (wasActive.current && !active) void props.onChanged();
      wasActive.current = active;
      setFast(active);
      return u;
    },
    [props.upgradeId],
    fast ? 1000 : false,
  );
  const u = loaded.data ?? props.initial;
  const live = isActive(u);
  const now = useTick(live);
  const [busy, setBusy] = useState<Action>();
  const [actionError, setActionError] = useState<string>();
  const [confirming, setConfirming] = useState<Action>();
  const canOperate = useCan('operator');

  const act = async (action: Action) => {
    setConfirming(undefined);
    setBusy(action);
    setActionError(undefined);
    try {
      await api.act(props.upgradeId, action);
      setFast(true);
      await loaded.reload();
      await props.onChanged();
    } catch (err) {
      setActionError(messageOf(err));
    } finally {
      setBusy(undefined);
    }
  };
  const ask = (action: Action) => (CONFIRM[action] ? setConfirming(action) : void act(action));

  if (!u) {
    return (
      <div className="card upgrade-card">
        {loaded.error ? <ErrorNote error={loaded.error} /> : <p className="muted">Loading…</p>}
      </div>
    );
  }

  const available: Action[] = !canOperate
    ? []
    : u.status === 'needs-attention'
      ? ['retry', 'rollback', 'abort']
      : u.status === 'queued' || u.status === 'running'
        ? ['cancel']
        : [];

  return (
    <article className="card upgrade-card" data-testid="upgrade-card" data-status={u.status} aria-labelledby="upgrade-title">
      <header className="upgrade-head">
        <div>
          <h2 id="upgrade-title">
            {MODE_LABEL[u.mode] ?? u.mode} <span className="muted">to</span> <span className="mono">{u.imageTag}</span>
          </h2>
          <p className="muted upgrade-meta">
            started {when(u.startedAt)}
            {u.requestedBy ? ` by ${u.requestedBy}` : ''} · <span className="num">{between(u.startedAt, u.finishedAt, now)}</span>
          </p>
        </div>
        <div className="upgrade-status">
          <Badge status={u.status} />
          {u.temporalUrl && (
            <a className="temporal-link" href={u.temporalUrl} target="_blank" rel="noreferrer">
              Open in Temporal ↗
            </a>
          )}
        </div>
      </header>

      {u.error && (u.status === 'needs-attention' || u.status === 'failed') && (
        <div className={`alert ${u.status === 'failed' ? 'alert-bad' : 'alert-warn'}`} role="alert">
          <strong>{u.status === 'needs-attention' ? `Parked at "${u.currentStep}" for an operator: ` : 'Failed: '}</strong>
          <pre className="error-text">{u.error}</pre>
        </div>
      )}

      <ol className="steps" data-testid="steps" aria-label="Steps">
        {u.steps.map((s, n) => (
          <li key={`${s.name}-${n}`} className={`step step-${s.status}`} data-step={s.name} data-status={s.status}>
            <span className="step-icon" aria-hidden="true">
              {s.status === 'succeeded' ? '✓' : s.status === 'failed' ? '✕' : <span className="spinner" />}
            </span>
            <span className="step-name mono">{s.name}</span>
            <span className="step-status">
              <Badge status={s.status} />
            </span>
            <span className="step-duration num">{between(s.startedAt, s.finishedAt, now)}</span>
            {s.error && <pre className="step-error error-text">{s.error}</pre>}
            {s.decision && (
              <span className="step-decision muted" data-testid="step-decision">
                {DECIDED_LABEL[s.decision]}
                {s.decidedBy ? ` by ${s.decidedBy}` : ''}
              </span>
            )}
          </li>
        ))}
        {u.steps.length === 0 && <li className="step step-placeholder muted">Waiting for the worker to pick it up…</li>}
      </ol>

      <footer className="upgrade-actions">
        <div className="upgrade-buttons">
          {available.map((a) => (
            <button key={a} type="button" className={a === 'retry' ? 'primary' : 'danger'} disabled={!!busy} onClick={() => ask(a)}>
              {busy === a ? `${ACTION_LABEL[a]}…` : ACTION_LABEL[a]}
            </button>
          ))}
          {available.length === 0 && (
            <span className="muted">{live ? 'Rolling back…' : u.finishedAt ? `Finished ${when(u.finishedAt)}` : '\u00a0'}</span>
          )}
        </div>
        <ErrorNote error={actionError ?? loaded.error} keepSpace />
      </footer>

      {confirming && (
        <Modal
          title={`${ACTION_LABEL[confirming]}?`}
          onClose={() => setConfirming(undefined)}
          footer={
            <>
              <button type="button" onClick={() => setConfirming(undefined)}>
                Keep going
              </button>
              <button type="button" className="danger" data-autofocus onClick={() => act(confirming)}>
                {ACTION_LABEL[confirming]}
              </button>
            </>
          }
        >
          <p>{CONFIRM[confirming]}</p>
        </Modal>
      )}
    </article>
  );
}
