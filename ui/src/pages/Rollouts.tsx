/** Fleet rollouts: the list, each row with its rollout's own state (polled while it runs), and the start dialog. */
import { useEffect, useRef, useState } from 'react';
import type { RolloutListItem } from '../../../api/responses.js';
import { api } from '../api.js';
import { Badge, Empty, ErrorNote, type Tone } from '../components/bits.js';
import { ago, executionLabel, MODE_LABEL } from '../format.js';
import { useLoad } from '../hooks.js';
import { useCan } from '../role.js';
import { linkProps, navigate } from '../router.js';
import { Progress, shortId, shownStatus } from './rollout-state.js';
import { StartRolloutModal } from './StartRollout.js';

const PAGE = 20;

export function RolloutsPage() {
  const list = useLoad(() => api.rollouts(), [], 5000);
  const [starting, setStarting] = useState(false);
  const [limit, setLimit] = useState(PAGE);
  const rows = list.data ?? [];
  const canOperate = useCan('operator');

  return (
    <section className="rollouts">
      <div className="page-head">
        <h1>Rollouts</h1>
        {canOperate && (
          <button type="button" className="primary" onClick={() => setStarting(true)}>
            Start a rollout
          </button>
        )}
      </div>
      <p className="muted lead">
        A rollout upgrades many instances in waves, at most so many at once, baking or waiting for approval between waves, and pauses itself when
        failures exceed its budget.
      </p>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? (
        <p className="muted">Loading…</p>
      ) : rows.length === 0 ? (
        <Empty>No rollout yet. Start one to upgrade several instances in waves.</Empty>
      ) : (
        <>
          <div className="table-scroll">
            <table className="table rollouts-table" data-testid="rollouts-table">
              <thead>
                <tr>
                  <th>Rollout</th>
                  <th>Started</th>
                  <th>Path</th>
                  <th>Status</th>
                  <th>Progress</th>
                  <th>By</th>
                </tr>
              </thead>
              <tbody>
                {rows.slice(0, limit).map((r) => (
                  <RolloutRow key={r.rolloutId} item={r} />
                ))}
              </tbody>
            </table>
          </div>
          {rows.length > limit && (
            <p>
              <button type="button" onClick={() => setLimit((n) => n + PAGE)}>
                Show {Math.min(PAGE, rows.length - limit)} older
              </button>
            </p>
          )}
        </>
      )}
      {starting && <StartRolloutModal onClose={() => setStarting(false)} onStarted={(id) => navigate(`/rollouts/${id}`)} />}
    </section>
  );
}

/** One row: what the list knows at once, and the rollout's own state (fetched for the row, polled while it runs). */
function RolloutRow(props: { item: RolloutListItem }) {
  const r = props.item;
  const running = r.execution === 'RUNNING';
  const detail = useLoad(() => api.rollout(r.rolloutId), [r.rolloutId], running ? 3000 : false);
  // Once its workflow ends, read its final state once more (the last poll may predate the end).
  const { reload } = detail;
  const seen = useRef(r.execution);
  useEffect(() => {
    if (seen.current !== r.execution) void reload();
    seen.current = r.execution;
  }, [r.execution, reload]);
  const v = detail.data;
  const s = v ? shownStatus(v) : { status: r.execution.toLowerCase(), label: executionLabel(r.execution), tone: running ? ('info' as Tone) : undefined };
  return (
    <tr data-rollout={r.rolloutId}>
      <td data-label="Rollout">
        <a className="mono strong" {...linkProps(`/rollouts/${r.rolloutId}`)} aria-label={`rollout ${shortId(r.rolloutId)}`}>
          {shortId(r.rolloutId)}
        </a>
      </td>
      <td data-label="Started">{ago(r.startTime)}</td>
      <td data-label="Path">{r.mode ? (MODE_LABEL[r.mode] ?? r.mode) : '–'}</td>
      <td data-label="Status">
        <Badge status={s.status} label={s.label} tone={s.tone} />
      </td>
      <td data-label="Progress">
        {v ? <Progress view={v} compact /> : <span className="muted">{detail.error ? 'state unavailable' : '…'}</span>}
      </td>
      <td data-label="By" className="wrap">
        {r.requestedBy ?? '–'}
      </td>
    </tr>
  );
}
