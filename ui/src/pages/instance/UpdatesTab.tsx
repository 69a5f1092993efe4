/** The Updates tab: the start buttons, the upgrade shown (running, picked or latest) and the history. */
import { useState } from 'react';
import type { InstanceView, UpgradeView } from '../../../../api/responses.js';
import { api } from '../../api.js';
import { Badge, ErrorNote } from '../../components/bits.js';
import { Tooltip } from '../../components/Tooltip.js';
import { between, MODE_LABEL, when } from '../../format.js';
import { useLoad, useTick } from '../../hooks.js';
import { useCan } from '../../role.js';
import { FullUpgradeDialog } from './FullUpgradeDialog.js';
import { QuickUpgradeDialog } from './QuickUpgradeDialog.js';
import { ReleaseModal } from './ReleaseModal.js';
import { isActive, UpgradeCard } from './UpgradeCard.js';

type Dialog = 'full' | 'quick' | 'release' | undefined;

export function UpdatesTab(props: { instance: InstanceView; onInstanceChanged: () => Promise<void>; initialUpgradeId?: string; initialDialog?: Dialog }) {
  const i = props.instance;
  const history = useLoad(() => api.upgrades(i.id), [i.id], 3000);
  // ?upgrade=<id> (a rollout links its instances' upgrades) shows that one first.
  const [selectedId, setSelectedId] = useState<string | undefined>(props.initialUpgradeId);
  // ?reconcile=1 (the drift report's Reconcile): Upgrade to Release of the instance's own release and tag, preview first.
  const [dialog, setDialog] = useState<Dialog>(props.initialDialog);
  const list = history.data ?? [];
  const running = list.find(isActive);
  const shownId = selectedId ?? running?.id ?? list[0]?.id;

  const canOperate = useCan('operator');
  const started = (upgradeId: string) => {
    setDialog(undefined);
    setSelectedId(upgradeId);
    void history.reload();
  };

  return (
    <div className="updates" data-testid="updates-tab">
      {canOperate ? (
      <div className="actions-row">
        <button type="button" className="primary" disabled={!!running} onClick={() => setDialog('full')}>
          Upgrade Now
        </button>
        <Tooltip text="For releases that change only image versions, not orchestration: pulls the new images and recreates the core app services. No file is written.">
          {(describedBy) => (
            <button type="button" disabled={!!running} aria-describedby={describedBy} onClick={() => setDialog('quick')}>
              Quick Upgrade
            </button>
          )}
        </Tooltip>
        <button type="button" disabled={!!running} onClick={() => setDialog('release')}>
          Upgrade to Release
        </button>
        <p className="actions-note muted" aria-live="polite">
          {running ? 'An upgrade of this instance is in progress; one runs at a time.' : '\u00a0'}
        </p>
      </div>
      ) : (
        <p className="muted" data-testid="viewer-note">
          You are a viewer: you see the upgrades; starting or acting on them needs the operator role.
        </p>
      )}
      <ErrorNote error={history.error} />

      <div className="upgrade-panel">
        {shownId ? (
          <UpgradeCard
            key={shownId}
            upgradeId={shownId}
            initial={list.find((u) => u.id === shownId)}
            onChanged={async () => {
              // An upgrade that ended may have moved the instance's tag.
              await Promise.all([history.reload(), props.onInstanceChanged()]);
            }}
          />
        ) : (
          <div className="card upgrade-card upgrade-card-empty">
            <p className="muted">{history.loading ? 'Loading…' : 'This instance has not been upgraded through drydock yet.'}</p>
          </div>
        )}
      </div>

      <h2 className="section-title">History</h2>
      <History upgrades={list} selectedId={shownId} onSelect={setSelectedId} />

      {dialog === 'full' && <FullUpgradeDialog instance={i} onClose={() => setDialog(undefined)} onStarted={started} />}
      {dialog === 'quick' && <QuickUpgradeDialog instance={i} onClose={() => setDialog(undefined)} onStarted={started} />}
      {dialog === 'release' && <ReleaseModal instance={i} onClose={() => setDialog(undefined)} onStarted={started} />}
    </div>
  );
}

const ACTION_DONE: Record<string, string> = { start: 'started', retry: 'retried', rollback: 'rolled back', abort: 'aborted', cancel: 'cancelled' };

function History(props: { upgrades: UpgradeView[]; selectedId?: string; onSelect: (id: string) => void }) {
  const now = useTick(props.upgrades.some(isActive));
  if (props.upgrades.length === 0) return <p className="muted">No upgrades yet.</p>;
  return (
    <div className="table-scroll">
      <table className="table history-table" data-testid="history">
        <thead>
          <tr>
            <th>Started</th>
            <th>Path</th>
            <th>Tag</th>
            <th>Status</th>
            <th>By</th>
            <th>Took</th>
            <th>Temporal</th>
          </tr>
        </thead>
        <tbody>
          {props.upgrades.map((u) => (
            <tr key={u.id} className={u.id === props.selectedId ? 'selected' : undefined} data-upgrade={u.id}>
              <td data-label="Started">
                <button type="button" className="link-button" onClick={() => props.onSelect(u.id)} aria-pressed={u.id === props.selectedId}>
                  {when(u.startedAt)}
                </button>
              </td>
              <td data-label="Path">{MODE_LABEL[u.mode] ?? u.mode}</td>
              <td data-label="Tag" className="mono">
                {u.imageTag}
              </td>
              <td data-label="Status">
                <Badge status={u.status} />
              </td>
              <td data-label="By">
                {u.actions && u.actions.length > 0 ? (
                  <ul className="plain-list" data-testid="history-actions">
                    {u.actions.map((a, n) => (
                      <li key={n}>
                        {ACTION_DONE[a.action] ?? a.action} by {a.by ?? '–'}
                        {a.via ? <span className="muted"> ({a.via})</span> : null}
                      </li>
                    ))}
                  </ul>
                ) : (
                  (u.requestedBy ?? '–')
                )}
              </td>
              <td data-label="Took" className="num">
                {between(u.startedAt, u.finishedAt, now)}
              </td>
              <td data-label="Temporal">
                {u.temporalUrl ? (
                  <a href={u.temporalUrl} target="_blank" rel="noreferrer" aria-label={`workflow of the upgrade started ${when(u.startedAt)} in Temporal`}>
                    workflow ↗
                  </a>
                ) : (
                  '–'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
