/**
 * One fleet rollout: its waves and instances live (polled from the workflow's
 * own query), its log, and pause / resume / approve / abort.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { api, messageOf } from '../api.js';
import { Badge, ErrorNote, type Tone } from '../components/bits.js';
import { Modal } from '../components/Modal.js';
import { executionLabel, MODE_LABEL, plural, splitLogLine, when } from '../format.js';
import { useLoad } from '../hooks.js';
import { useCan } from '../role.js';
import { linkProps } from '../router.js';
import { isLive, Progress, shortId, shownStatus, TERMINAL, type View } from './rollout-state.js';

type Action = 'pause' | 'resume' | 'approve' | 'abort';

const ACTIVE_TONE: Record<string, Tone> = { pending: 'neutral', running: 'info' };

const ACTION_LABEL: Record<Action, string> = { pause: 'Pause', resume: 'Resume', approve: 'Approve next wave', abort: 'Abort' };

export function RolloutDetailPage(props: { id: string }) {
  const [fast, setFast] = useState(true);
  const loaded = useLoad(
    async () => {
      const v = await api.rollout(props.id);
      setFast(isLive(v));
      return v;
    },
    [props.id],
    fast ? 1000 : false,
  );
  const r = loaded.data;

  if (!r) {
    return (
      <section>
        <p className="crumbs">
          <a {...linkProps('/rollouts')}>← Rollouts</a>
        </p>
        {loaded.error ? <ErrorNote error={loaded.error} /> : <p className="muted">Loading…</p>}
      </section>
    );
  }

  const s = shownStatus(r);
  return (
    <section className="rollout" data-testid="rollout" data-status={r.status}>
      <p className="crumbs">
        <a {...linkProps('/rollouts')}>← Rollouts</a>
      </p>
      <div className="page-head rollout-head">
        <h1>
          Rollout <span className="mono">{shortId(r.rolloutId)}</span>
        </h1>
        <div className="facts">
          <span data-testid="rollout-status">
            <Badge status={s.status} label={s.label} tone={s.tone} />
          </span>
          {r.temporalUrl && (
            <a className="temporal-link" href={r.temporalUrl} target="_blank" rel="noreferrer">
              Open in Temporal ↗
            </a>
          )}
        </div>
      </div>
      <p className="muted rollout-meta">
        {MODE_LABEL[r.mode] ?? r.mode}
        {r.startedAt ? ` · started ${when(r.startedAt)}` : ''}
        {r.requestedBy ? ` by ${r.requestedBy}` : ''}
        {r.reason ? ` · “${r.reason}”` : ''}
      </p>

      <Controls view={r} onChanged={loaded.reload} loadError={loaded.error} />

      <div className="rollout-body">
        <div className="waves" aria-label="Waves">
          {r.waves.map((w) => (
            <Wave key={w.index} view={r} index={w.index} />
          ))}
        </div>
        <Log lines={r.log} />
      </div>
    </section>
  );
}

/** What each control does, and when it fits. */
function available(r: View): Record<Action, boolean> & { aborting: boolean } {
  const live = isLive(r) && !TERMINAL.has(r.status);
  // The workflow notes the abort at once but keeps its status until running instances finish.
  const aborting = live && r.log.some((l) => / aborted by /.test(l));
  const go = live && !aborting;
  return {
    aborting,
    // Pausing while it waits for approval would only hide the approval it waits for.
    pause: go && (r.status === 'running' || r.status === 'baking'),
    resume: go && r.status === 'paused',
    approve: go && r.status === 'awaiting-approval',
    abort: go,
  };
}

function note(r: View, aborting: boolean): string {
  const n = r.waves.length;
  const wave = r.currentWave + 1;
  if (!isLive(r) && !TERMINAL.has(r.status)) return `The rollout's workflow ended (${executionLabel(r.execution ?? '')}) before the rollout did.`;
  if (TERMINAL.has(r.status)) {
    return `${r.closedAt ? `Finished ${when(r.closedAt)}` : 'Finished'}: ${r.counts.updated} updated, ${r.counts.failed} failed, ${r.counts.skipped} skipped${
      r.counts.pending ? `, ${r.counts.pending} not started` : ''
    }.`;
  }
  if (aborting) return 'Aborting: no new instance starts; running ones finish or park.';
  switch (r.status) {
    case 'awaiting-approval':
      return `Wave ${wave} of ${n} is done. Approve to start wave ${wave + 1}.`;
    case 'baking':
      return `Wave ${wave} of ${n} is done; baking before wave ${wave + 1} starts by itself.`;
    case 'paused':
      return r.log.some((l) => l.includes('exceed the failure budget'))
        ? 'Paused: failures exceed the budget. Resume to carry on, or abort.'
        : 'Paused: running instances finish; no new one starts until you resume.';
    default:
      return `Wave ${wave} of ${n} is running.`;
  }
}

const CONFIRM_ABORT =
  'No new instance starts. Instances upgrading now finish (or park for an operator); instances not started stay as they are. An aborted rollout cannot be resumed.';

function Controls(props: { view: View; onChanged: () => Promise<void>; loadError?: string }) {
  const r = props.view;
  const can = available(r);
  const [busy, setBusy] = useState<Action>();
  const [error, setError] = useState<string>();
  const [confirming, setConfirming] = useState(false);

  const act = async (action: Action) => {
    setConfirming(false);
    setBusy(action);
    setError(undefined);
    try {
      await api.rolloutAction(r.rolloutId, action);
      await props.onChanged();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(undefined);
    }
  };

  const canOperate = useCan('operator');
  const button = (a: Action, className?: string) => canOperate && (
    // Labels stay put while a request is out (aria-busy says so): the row of buttons never moves.
    <button
      type="button"
      className={className}
      disabled={!can[a] || busy !== undefined}
      aria-busy={busy === a}
      onClick={() => (a === 'abort' ? setConfirming(true) : void act(a))}
    >
      {a === 'abort' ? 'Abort…' : ACTION_LABEL[a]}
    </button>
  );

  return (
    <div className="card rollout-controls" data-testid="rollout-controls">
      <div className="controls-row">
        <div className="control-buttons">
          {button('pause')}
          {button('resume')}
          {button('approve', 'primary')}
          {button('abort', 'danger')}
        </div>
        <Progress view={r} />
      </div>
      <p className="control-note" aria-live="polite" data-testid="rollout-note">
        {note(r, can.aborting)}
      </p>
      <ErrorNote error={error ?? props.loadError} keepSpace />
      {confirming && (
        <Modal
          title="Abort the rollout?"
          onClose={() => setConfirming(false)}
          footer={
            <>
              <button type="button" onClick={() => setConfirming(false)}>
                Keep going
              </button>
              <button type="button" className="danger" data-autofocus onClick={() => act('abort')}>
                Abort rollout
              </button>
            </>
          }
        >
          <p>{CONFIRM_ABORT}</p>
        </Modal>
      )}
    </div>
  );
}

const ROWS_SHOWN = 100;

function waveState(r: View, index: number): { status: string; label: string; tone: Tone } {
  const w = r.waves[index]!;
  const live = isLive(r) && !TERMINAL.has(r.status);
  if (w.running > 0) return { status: 'running', label: 'running', tone: 'info' };
  if (w.pending === 0) {
    return w.failed > 0 ? { status: 'failed', label: 'done, with failures', tone: 'bad' } : { status: 'done', label: 'done', tone: 'ok' };
  }
  if (!live) return { status: 'not-started', label: 'not started', tone: 'neutral' };
  if (r.status === 'awaiting-approval' && index === r.currentWave + 1) return { status: 'awaiting-approval', label: 'awaiting approval', tone: 'warn' };
  if (index === r.currentWave && r.status === 'paused') return { status: 'paused', label: 'paused', tone: 'warn' };
  if (index === r.currentWave) return { status: 'running', label: 'running', tone: 'info' };
  return { status: 'upcoming', label: 'upcoming', tone: 'neutral' };
}

function Wave(props: { view: View; index: number }) {
  const r = props.view;
  const w = r.waves[props.index]!;
  const [all, setAll] = useState(false);
  const members = r.instances.filter((i) => i.wave === props.index);
  const shown = all ? members : members.slice(0, ROWS_SHOWN);
  const st = waveState(r, props.index);
  const headingId = `wave-${props.index + 1}-title`;
  return (
    <article className="card wave" data-wave={props.index + 1} data-state={st.status} aria-labelledby={headingId}>
      <header className="wave-head">
        <h2 id={headingId}>
          Wave {props.index + 1} <span className="muted">of {r.waves.length}</span>
        </h2>
        <span className="wave-counts muted num">
          {plural(w.size, 'instance')} · {w.updated} updated
          {w.failed > 0 ? ` · ${w.failed} failed` : ''}
          {w.skipped > 0 ? ` · ${w.skipped} skipped` : ''}
        </span>
        <Badge status={st.status} label={st.label} tone={st.tone} />
      </header>
      <div className="table-scroll">
        <table className="table wave-table">
          <thead>
            <tr>
              <th>Instance</th>
              <th>Status</th>
              <th>Reason</th>
              <th>Upgrade</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((i) => (
              <tr key={i.instanceId} data-slug={i.slug} data-status={i.status}>
                <td data-label="Instance">
                  <a className="mono strong" {...linkProps(`/instances/${i.instanceId}`)}>
                    {i.slug}
                  </a>
                </td>
                <td data-label="Status">
                  <Badge status={i.status} tone={ACTIVE_TONE[i.status]} />
                </td>
                <td data-label="Reason" className="reason">
                  {i.reason ? <span className={i.status === 'failed' ? 'bad-text' : undefined}>{i.reason}</span> : <span className="muted">–</span>}
                </td>
                <td data-label="Upgrade">
                  {i.upgradeId ? (
                    <a {...linkProps(`/instances/${i.instanceId}?upgrade=${i.upgradeId}`)} aria-label={`the upgrade of ${i.slug}`}>
                      steps →
                    </a>
                  ) : (
                    <span className="muted">–</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {members.length > shown.length && (
        <button type="button" className="link-button show-all" onClick={() => setAll(true)}>
          Show all {members.length} instances of this wave
        </button>
      )}
    </article>
  );
}

/** The workflow's log, newest last, in a box of fixed height that follows new lines unless the operator scrolled up. */
function Log(props: { lines: string[] }) {
  const box = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = box.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [props.lines.length, props.lines[props.lines.length - 1]]);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const onScroll = () => void (atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 8);
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => el.removeEventListener('scroll', onScroll);
  }, []);
  return (
    <section className="card rollout-log-card" aria-labelledby="rollout-log-title">
      <h2 id="rollout-log-title">Log</h2>
      <div className="rollout-log" ref={box} role="log" tabIndex={0} aria-label="Rollout log" data-testid="rollout-log">
        {props.lines.length === 0 ? (
          <p className="muted">Nothing yet.</p>
        ) : (
          <ol>
            {props.lines.map((line, n) => {
              const { at, text } = splitLogLine(line);
              return (
                <li key={n}>
                  {at && <time className="num muted">{at}</time>} <span>{text}</span>
                </li>
              );
            })}
          </ol>
        )}
      </div>
    </section>
  );
}
