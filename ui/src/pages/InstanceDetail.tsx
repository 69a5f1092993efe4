import { useRef, useState, type FormEvent } from 'react';
import type { InstanceView, UpgradeView } from '../../../api/responses.js';
import { api, messageOf } from '../api.js';
import { Badge, ErrorNote, Field, fieldError, generalError } from '../components/bits.js';
import { Modal } from '../components/Modal.js';
import { changedSecrets, textFromValues, ValuesFields, valuesFromText, type JsonSchema, type SecretsDraft, type ValuesText } from '../components/ValuesForm.js';
import { Tooltip } from '../components/Tooltip.js';
import { between, MODE_LABEL, when } from '../format.js';
import { useLoad, useTick } from '../hooks.js';
import { useCan } from '../role.js';
import { linkProps, navigate, useLocation } from '../router.js';
import { ReleaseModal } from './ReleaseModal.js';

const ACTIVE = new Set(['queued', 'running', 'needs-attention', 'rolling-back']);
export const isActive = (u: UpgradeView | undefined) => !!u && ACTIVE.has(u.status);

export function InstanceDetailPage(props: { id: string }) {
  const { search } = useLocation();
  const tab = search.get('tab') === 'settings' ? 'settings' : 'updates';
  const instance = useLoad(() => api.instance(props.id), [props.id], 10_000);
  const i = instance.data;

  if (!i) {
    return (
      <section>
        <p>
          <a {...linkProps('/')}>← Instances</a>
        </p>
        {instance.error ? <ErrorNote error={instance.error} /> : <p className="muted">Loading…</p>}
      </section>
    );
  }

  const tabLink = (key: 'updates' | 'settings', label: string) => (
    <a
      role="tab"
      aria-selected={tab === key}
      className={tab === key ? 'tab active' : 'tab'}
      {...linkProps(key === 'updates' ? `/instances/${i.id}` : `/instances/${i.id}?tab=settings`)}
    >
      {label}
    </a>
  );

  return (
    <section>
      <p className="crumbs">
        <a {...linkProps('/')}>← Instances</a>
      </p>
      <div className="page-head instance-head">
        <h1>
          <span className="mono">{i.slug}</span> <span className="muted head-name">{i.name}</span>
        </h1>
        <div className="facts">
          <span className="chip">{i.isRemote ? 'remote' : 'local'}</span>
          <span>
            tag <span className="mono strong">{i.effectiveImageTag}</span>
            {i.usesDefaultImageTag && <span className="chip">default</span>}
          </span>
          <a {...linkProps(`/instances/${i.id}/drift`)} data-testid="drift-link">
            <Badge status={i.drift?.status ?? 'unknown'} label={i.drift ? `drift: ${i.drift.status === 'in-sync' ? 'in sync' : i.drift.status}` : 'drift: not checked'} />
          </a>
        </div>
      </div>
      <ErrorNote error={instance.error} />
      <div className="tabs" role="tablist" aria-label="Instance">
        {tabLink('updates', 'Updates')}
        {tabLink('settings', 'Settings')}
      </div>
      {tab === 'updates' ? (
        <UpdatesTab
          key={search.get('upgrade') ?? ''}
          instance={i}
          onInstanceChanged={instance.reload}
          initialUpgradeId={search.get('upgrade') ?? undefined}
          initialDialog={search.get('reconcile') ? 'release' : undefined}
        />
      ) : (
        <SettingsTab instance={i} onChanged={instance.reload} />
      )}
    </section>
  );
}

type Dialog = 'full' | 'quick' | 'release' | undefined;

function UpdatesTab(props: { instance: InstanceView; onInstanceChanged: () => Promise<void>; initialUpgradeId?: string; initialDialog?: Dialog }) {
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

type Action = 'retry' | 'rollback' | 'abort' | 'cancel';
const ACTION_LABEL: Record<Action, string> = { retry: 'Retry step', rollback: 'Roll back', abort: 'Abort', cancel: 'Cancel upgrade' };
const CONFIRM: Partial<Record<Action, string>> = {
  rollback: 'Roll back restores the snapshot taken before the upgrade: the managed files and .env byte for byte, the previous image tag and images, then starts and verifies the services.',
  abort: 'Abort ends the upgrade as failed and leaves the tenant as it is now. Nothing is rolled back.',
  cancel: 'Cancel stops the running step (a compose command is stopped cleanly) and ends the upgrade as cancelled, leaving the tenant as it is at that point.',
};

function UpgradeCard(props: { upgradeId: string; initial?: UpgradeView; onChanged: () => Promise<void> }) {
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

const DECIDED_LABEL: Record<string, string> = { retry: 'retried', rollback: 'rolled back', abort: 'aborted' };
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

function FullUpgradeDialog(props: { instance: InstanceView; onClose: () => void; onStarted: (id: string) => void }) {
  const [reason, setReason] = useState('');
  const [autoRollback, setAutoRollback] = useState(false);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const started = await api.upgradeNow(props.instance.id, { reason: reason || undefined, autoRollback });
      props.onStarted(started.upgradeId);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title="Upgrade Now" onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <p>
          A full upgrade of <strong className="mono">{props.instance.slug}</strong> at image tag{' '}
          <strong className="mono">{props.instance.effectiveImageTag}</strong>: pre-flight checks, a snapshot, every managed file rendered and
          written, all services pulled, started and verified, then the front door probed.
        </p>
        <Field label="Reason (optional)" htmlFor="full-reason" error={fieldError(error, 'reason')}>
          <input id="full-reason" value={reason} onChange={(e) => setReason(e.target.value)} data-autofocus />
        </Field>
        <label className="check">
          <input type="checkbox" checked={autoRollback} onChange={(e) => setAutoRollback(e.target.checked)} /> Roll back by itself if verification
          fails (instead of waiting for an operator)
        </label>
        <ErrorNote error={generalError(error, ['reason'])} />
        <div className="modal-actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Starting…' : 'Start full upgrade'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function QuickUpgradeDialog(props: { instance: InstanceView; onClose: () => void; onStarted: (id: string) => void }) {
  const [imageTag, setImageTag] = useState(props.instance.effectiveImageTag);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const started = await api.quickUpgrade(props.instance.id, { imageTag: imageTag.trim(), reason: reason || undefined });
      props.onStarted(started.upgradeId);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title="Quick Upgrade" onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <p>
          Pulls the images at this tag and recreates only the core services ({props.instance.coreServices.join(', ')}) of{' '}
          <strong className="mono">{props.instance.slug}</strong>. No file is written; use it for releases that change only image versions.
        </p>
        <Field label="Image tag" htmlFor="quick-tag" error={fieldError(error, 'imageTag')}>
          <input
            id="quick-tag"
            className="mono"
            value={imageTag}
            onChange={(e) => setImageTag(e.target.value)}
            data-autofocus
            aria-invalid={!!fieldError(error, 'imageTag')}
            aria-describedby={fieldError(error, 'imageTag') ? 'quick-tag-error' : undefined}
          />
        </Field>
        <Field label="Reason (optional)" htmlFor="quick-reason" error={fieldError(error, 'reason')}>
          <input id="quick-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
        </Field>
        <ErrorNote error={generalError(error, ['imageTag', 'reason'])} />
        <div className="modal-actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Starting…' : 'Start Quick Upgrade'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function SettingsTab(props: { instance: InstanceView; onChanged: () => Promise<void> }) {
  const i = props.instance;
  const [tag, setTag] = useState(i.imageTag ?? '');
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const [busy, setBusy] = useState(false);
  const canOperate = useCan('operator');

  const save = async (imageTag: string | null) => {
    setBusy(true);
    setError(undefined);
    setSaved(undefined);
    try {
      const updated = await api.patchInstance(i.id, { imageTag });
      setTag(updated.imageTag ?? '');
      setSaved(updated.imageTag ? `Saved: the instance now uses ${updated.imageTag}.` : `Saved: the instance follows the default tag (${updated.effectiveImageTag}).`);
      await props.onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="settings">
      <form
        className="card"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void save(tag.trim() === '' ? null : tag.trim());
        }}
      >
        <h2>Image tag</h2>
        <p className="muted">The tag the next upgrade uses. Empty: follow the control plane's default (IMAGE_TAG).</p>
        <Field label="Image tag of this instance" htmlFor="settings-tag" error={fieldError(error, 'imageTag')}>
          <input id="settings-tag" className="mono" value={tag} placeholder={`default (${i.effectiveImageTag})`} onChange={(e) => setTag(e.target.value)} />
        </Field>
        <ErrorNote error={generalError(error, ['imageTag'])} />
        {saved && <p className="ok-note">{saved}</p>}
        {canOperate && (
          <div className="form-actions">
            <button type="submit" className="primary" disabled={busy}>
              Save
            </button>
            <button type="button" disabled={busy || i.imageTag === null} onClick={() => void save(null)}>
              Use the default
            </button>
          </div>
        )}
      </form>
      <EditInstanceCard instance={i} onChanged={props.onChanged} />
      <ValuesCard instance={i} />
      <div className="card">
        <h2>Instance</h2>
        <dl className="facts-list">
          <dt>Compose project</dt>
          <dd className="mono">{i.composeProjectName}</dd>
          <dt>Compose directory</dt>
          <dd className="mono">{i.composeDir}</dd>
          <dt>Release</dt>
          <dd className="mono">{i.effectiveRelease ?? '–'}</dd>
          <dt>Core services</dt>
          <dd className="mono">{i.coreServices.join(', ')}</dd>
          <dt>Reached</dt>
          <dd>{i.isRemote ? (i.agentUrl ? <span className="mono">{i.agentUrl}</span> : 'remote, no approved agent') : 'locally, by the control plane'}</dd>
          <dt>Added</dt>
          <dd>{when(i.createdAt)}</dd>
        </dl>
        <p>
          <button type="button" className="link-button" onClick={() => navigate(`/instances/${i.id}`)}>
            Back to the updates
          </button>
        </p>
      </div>
    </div>
  );
}

/** The instance's values, as a form generated from its release's values.schema.json. */
function ValuesCard(props: { instance: InstanceView }) {
  const i = props.instance;
  const canOperate = useCan('operator');
  const loaded = useLoad(() => api.values(i.id), [i.id]);
  const [text, setText] = useState<ValuesText>();
  const [secrets, setSecrets] = useState<SecretsDraft>({});
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const [busy, setBusy] = useState(false);
  const v = loaded.data;
  const schema = v?.schema as JsonSchema | null | undefined;
  const shownText = text ?? (v ? textFromValues(schema, v.values) : {});

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setSaved(undefined);
    try {
      const changed = changedSecrets(secrets);
      const answer = await api.putValues(i.id, { values: valuesFromText(schema, shownText), ...(Object.keys(changed).length > 0 ? { secrets: changed } : {}) });
      setText(textFromValues(schema, answer.values));
      setSecrets({});
      setSaved(`Saved. The next upgrade renders release ${answer.release ?? ''} with these values.`);
      await loaded.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const fields = (schema?.properties ? Object.keys(schema.properties) : []).map((k) => `/${k}`);
  const shown = (f: string) => f.startsWith('/') && fields.some((p) => f === p || f.startsWith(`${p}/`));
  const general = error && (error as { fields?: { field: string }[] }).fields?.every((f) => shown(f.field)) ? undefined : error;

  return (
    <form className="card" noValidate onSubmit={save} data-testid="values-card">
      <h2>Values</h2>
      {loaded.error && <ErrorNote error={loaded.error} />}
      {!v ? (
        !loaded.error && <p className="muted">Loading…</p>
      ) : !schema ? (
        <p className="muted">The release of this instance has no values.schema.json: it takes no values.</p>
      ) : (
        <>
          <p className="muted">
            Checked against the values schema of release <span className="mono">{v.release}</span>. Secrets are stored encrypted and never shown again.
          </p>
          <ValuesFields
            schema={schema}
            text={shownText}
            onText={setText}
            secrets={secrets}
            onSecrets={setSecrets}
            secretState={v.secrets}
            secretsElsewhere={i.isRegistered}
            error={error}
            idPrefix="values"
          />
          <ErrorNote error={general ? generalError(general, []) : undefined} />
          {saved && <p className="ok-note">{saved}</p>}
          {canOperate && (
            <div className="form-actions">
              <button type="submit" className="primary" disabled={busy}>
                {busy ? 'Storing…' : 'Store values'}
              </button>
            </div>
          )}
        </>
      )}
    </form>
  );
}

/** Name, core services and labels; the slug, directory and agent name the tenant and stay as created. */
function EditInstanceCard(props: { instance: InstanceView; onChanged: () => Promise<void> }) {
  const i = props.instance;
  const canOperate = useCan('operator');
  const [name, setName] = useState(i.name);
  const [core, setCore] = useState(i.coreServices.join(', '));
  const [labels, setLabels] = useState(i.labels.join(', '));
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const [busy, setBusy] = useState(false);
  const list = (t: string) => t.split(/[\s,]+/).filter(Boolean);
  const sub = (field: string) =>
    fieldError(error, field) ??
    ((error as { fields?: { field: string; message: string }[] } | undefined)?.fields ?? [])
      .filter((f) => f.field.startsWith(`${field}.`))
      .map((f) => f.message)
      .join('; ') ??
    undefined;

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setSaved(undefined);
    try {
      const updated = await api.patchInstance(i.id, { name: name.trim(), coreServices: list(core), labels: list(labels) });
      setSaved(`Saved: ${updated.name}, core services ${updated.coreServices.join(', ')}.`);
      await props.onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card" noValidate onSubmit={save} data-testid="edit-instance">
      <h2>Name and services</h2>
      <Field label="Name" htmlFor="edit-name" error={sub('name') || undefined}>
        <input id="edit-name" value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field label="Core services" htmlFor="edit-core" error={sub('coreServices') || undefined} hint="What a Quick Upgrade recreates.">
        <input id="edit-core" className="mono" value={core} onChange={(e) => setCore(e.target.value)} />
      </Field>
      <Field label="Labels" htmlFor="edit-labels" error={sub('labels') || undefined} hint="Rollouts can target a label.">
        <input id="edit-labels" className="mono" value={labels} onChange={(e) => setLabels(e.target.value)} />
      </Field>
      <ErrorNote error={generalError(error, ['name', 'coreServices', 'labels', ...((error as { fields?: { field: string }[] } | undefined)?.fields ?? []).map((f) => f.field).filter((f) => /^(coreServices|labels)\./.test(f))])} />
      {saved && <p className="ok-note">{saved}</p>}
      {canOperate && (
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Updating…' : 'Update instance'}
          </button>
        </div>
      )}
    </form>
  );
}
