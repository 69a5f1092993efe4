/** What the rollout list and a rollout's page both show of its state: the status to show, its short id, its progress bar. */
import type { RolloutViewAnswer } from '../../../api/responses.js';
import { ENDED_ROLLOUT_STATUSES } from '../../../api/schemas.js';
import type { Tone } from '../components/bits.js';
import { executionLabel, ROLLOUT_STATUS_LABEL } from '../format.js';

export type View = RolloutViewAnswer;

export const TERMINAL = ENDED_ROLLOUT_STATUSES;

/** Still moving: its workflow runs (a rollout whose workflow ended otherwise is not coming back). */
export const isLive = (r: View) => (r.execution ? r.execution === 'RUNNING' : !TERMINAL.has(r.status));

/** The status to show: the workflow's own, unless its execution ended without it reaching one (terminated, timed out, …). */
export function shownStatus(r: View): { status: string; label: string; tone?: Tone } {
  if (r.execution && r.execution !== 'RUNNING' && r.execution !== 'COMPLETED' && !TERMINAL.has(r.status)) {
    return { status: r.execution.toLowerCase(), label: executionLabel(r.execution), tone: r.execution === 'CANCELLED' ? 'neutral' : 'bad' };
  }
  return { status: r.status, label: ROLLOUT_STATUS_LABEL[r.status] ?? r.status };
}

export const shortId = (id: string) => id.slice(0, 8);

/** A bar of updated / failed / skipped / running over the whole rollout, and the counts in words. */
export function Progress(props: { view: View; compact?: boolean }) {
  const { counts } = props.view;
  const total = Object.values(counts).reduce((a, b) => a + b, 0) || 1;
  const pct = (n: number) => `${(n / total) * 100}%`;
  const c = (k: string) => counts[k as keyof typeof counts] ?? 0;
  return (
    <div className={`progress${props.compact ? ' progress-compact' : ''}`}>
      <div className="progress-bar" role="img" aria-label={`${c('updated')} of ${total} updated`}>
        <span className="seg seg-ok" style={{ width: pct(c('updated')) }} />
        <span className="seg seg-bad" style={{ width: pct(c('failed')) }} />
        <span className="seg seg-neutral" style={{ width: pct(c('skipped')) }} />
        <span className="seg seg-info" style={{ width: pct(c('running')) }} />
      </div>
      <span className="progress-text num">
        {c('updated')}/{total} updated
        {c('failed') > 0 && <span className="bad-text"> · {c('failed')} failed</span>}
        {!props.compact && c('skipped') > 0 && ` · ${c('skipped')} skipped`}
      </span>
    </div>
  );
}
