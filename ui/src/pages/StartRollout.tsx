/**
 * Start a fleet rollout: the path, the target, the waves and their guards;
 * Preview shows which instances fall into each wave, and Start starts exactly
 * the previewed request (any change to the form needs a new preview).
 */
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import type { rolloutBody } from '../../../api/schemas.js';
import type { InstanceView, RolloutPreview } from '../../../api/responses.js';
import { api, ApiError, messageOf, type FieldError, type Input } from '../api.js';
import { ErrorNote } from '../components/bits.js';
import { Modal } from '../components/Modal.js';
import { MODE_LABEL, plural } from '../format.js';
import { useLoad } from '../hooks.js';

type Body = Input<typeof rolloutBody>;
type Mode = Body['mode'];
type TargetKind = 'pick' | 'all' | 'label';

const MODE_HINT: Record<Mode, string> = {
  'image-only': 'Pulls the new images and recreates the core app services; no file is written. For releases that change only image versions.',
  release: 'Renders the release’s managed files with this tag on every instance, then writes, pulls, starts and verifies.',
  full: 'Pre-flight, snapshot, every managed file rendered and written, all services pulled, started and verified, front door probed.',
};

/** The fields the form shows errors beside. */
const FIELDS = ['mode', 'imageTag', 'release', 'target', 'waves', 'maxParallel', 'failureBudget', 'bake', 'perInstanceTimeout', 'reason'] as const;
type FieldKey = (typeof FIELDS)[number];

function invalid(field: FieldKey, message: string): ApiError {
  return new ApiError(400, `${field}: ${message}`, [{ field, message }]);
}

/** "1, 10%, 50%, 100%" → [1, "10%", "50%", "100%"]; anything else is left for the API's schema to name. */
export function parseWaves(text: string): Body['waves'] {
  const tokens = text.split(/[\s,;]+/).filter(Boolean);
  if (tokens.length === 0) throw invalid('waves', 'give at least one wave, e.g. 1, 10%, 100%');
  return tokens.map((t) => (/^\d+$/.test(t) ? Number(t) : (t as `${number}%`)));
}

/** An optional whole number typed in a box: blank is undefined, garbage is reported beside the box. */
function wholeNumber(field: FieldKey, text: string, what: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (!/^\d+(\.\d+)?$/.test(t)) throw invalid(field, `${what} must be a number`);
  return Number(t);
}

/** The message for a form field: the schema's (field or field.sub), or an API 400 whose message names it ("waves: …"). */
function errorFor(err: unknown, key: FieldKey, waves?: Body['waves']): string | undefined {
  if (!(err instanceof ApiError)) return undefined;
  const mine = err.fields.filter((f) => f.field === key || f.field.startsWith(`${key}.`));
  if (mine.length > 0) {
    return mine
      .map((f: FieldError) => {
        const sub = f.field.slice(key.length + 1);
        if (key === 'waves' && /^\d+$/.test(sub) && waves) return `"${String(waves[Number(sub)])}" ${f.message}`;
        return sub && key !== 'target' ? `${sub}: ${f.message}` : f.message;
      })
      .join('; ');
  }
  if (err.fields.length === 0 && err.message.startsWith(`${key}: `)) return err.message.slice(key.length + 2);
  return undefined;
}

function generalFor(err: unknown): string | undefined {
  if (!err) return undefined;
  if (err instanceof ApiError) {
    const shown = (f: string) => FIELDS.some((k) => f === k || f.startsWith(`${k}.`));
    if (err.fields.length > 0 && err.fields.every((f) => shown(f.field))) return undefined;
    if (err.fields.length === 0 && FIELDS.some((k) => err.message.startsWith(`${k}: `))) return undefined;
  }
  return (err as Error).message;
}

export function StartRolloutModal(props: { onClose: () => void; onStarted: (rolloutId: string) => void }) {
  const instances = useLoad(() => api.instances(), []);
  const [mode, setMode] = useState<Mode>('image-only');
  const [imageTag, setImageTag] = useState('');
  const releases = useLoad(() => api.releases(), []);
  const [release, setRelease] = useState('');
  const [targetKind, setTargetKind] = useState<TargetKind>('pick');
  const [picked, setPicked] = useState<string[]>([]);
  const [label, setLabel] = useState('');
  const [waves, setWaves] = useState('1, 10%, 50%, 100%');
  const [maxParallel, setMaxParallel] = useState('10');
  const [budgetCount, setBudgetCount] = useState('0');
  const [budgetPercent, setBudgetPercent] = useState('');
  const [bakeKind, setBakeKind] = useState<'approval' | 'duration'>('approval');
  const [bakeFor, setBakeFor] = useState('10m');
  const [timeout, setTimeoutText] = useState('30m');
  const [reason, setReason] = useState('');

  const [preview, setPreview] = useState<{ key: string; body: Body; result: RolloutPreview }>();
  const [previewError, setPreviewError] = useState<unknown>();
  const [startError, setStartError] = useState<unknown>();
  const [busy, setBusy] = useState<'preview' | 'start'>();

  const all = instances.data ?? [];
  const labels = useMemo(() => [...new Set(all.flatMap((i) => i.labels))].sort(), [all]);

  /** The request as the form stands; throws an ApiError naming the field at fault. */
  const build = (): Body => {
    const ids = all.filter((i) => picked.includes(i.id)).map((i) => i.id);
    if (targetKind === 'pick' && ids.length === 0) throw invalid('target', 'pick at least one instance');
    if (targetKind === 'label' && label.trim() === '') throw invalid('target', 'give a label');
    if (bakeKind === 'duration' && bakeFor.trim() === '') throw invalid('bake', 'give a duration like 90s or 10m, or wait for approval');
    const count = wholeNumber('failureBudget', budgetCount, 'the count');
    const percent = wholeNumber('failureBudget', budgetPercent, 'the percentage');
    return {
      mode,
      ...(mode !== 'full' && imageTag.trim() !== '' ? { imageTag: imageTag.trim() } : {}),
      ...(release !== '' ? { release } : {}),
      target: targetKind === 'pick' ? { instanceIds: ids } : targetKind === 'all' ? { all: true } : { label: label.trim() },
      waves: parseWaves(waves),
      ...(maxParallel.trim() !== '' ? { maxParallel: wholeNumber('maxParallel', maxParallel, 'max parallel') } : {}),
      failureBudget: { ...(count !== undefined ? { count } : {}), ...(percent !== undefined ? { percent } : {}) },
      bake: bakeKind === 'approval' ? 'approval' : bakeFor.trim(),
      perInstanceTimeout: timeout.trim(),
      ...(reason.trim() ? { reason: reason.trim() } : {}),
    };
  };

  let current: string | undefined;
  try {
    current = JSON.stringify(build());
  } catch {
    current = undefined;
  }
  const stale = preview !== undefined && preview.key !== current;

  const runPreview = async (e?: FormEvent) => {
    e?.preventDefault();
    setBusy('preview');
    setPreviewError(undefined);
    setStartError(undefined);
    try {
      const body = build();
      setPreview({ key: JSON.stringify(body), body, result: await api.previewRollout(body) });
    } catch (err) {
      setPreview(undefined);
      setPreviewError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const start = async () => {
    if (!preview || stale) return;
    setBusy('start');
    setStartError(undefined);
    try {
      const started = await api.startRollout(preview.body);
      props.onStarted(started.rolloutId);
    } catch (err) {
      setStartError(err);
    } finally {
      setBusy(undefined);
    }
  };

  let parsedWaves: Body['waves'] | undefined;
  try {
    parsedWaves = parseWaves(waves);
  } catch {
    parsedWaves = undefined;
  }
  const err = (key: FieldKey) => errorFor(previewError, key, parsedWaves);
  const describedBy = (id: string, key: FieldKey, hint?: string) => (err(key) ? `${id}-error` : hint);
  const total = preview?.result.waves.reduce((n, w) => n + w.size, 0) ?? 0;

  return (
    <Modal
      title="Start a rollout"
      onClose={props.onClose}
      wide
      testId="start-rollout"
      footer={
        <div className="release-foot">
          <div className="release-foot-text">
            <ErrorNote error={startError ? messageOf(startError) : undefined} />
            {!startError && (
              <p className="muted">
                {!preview
                  ? 'Preview the waves first: Start starts exactly the previewed rollout.'
                  : stale
                    ? 'The form changed since the preview: preview again to start.'
                    : `Starts ${plural(total, 'instance')} in ${plural(preview.result.waves.length, 'wave')}.`}
              </p>
            )}
          </div>
          <div className="modal-actions">
            <button type="button" onClick={props.onClose}>
              Cancel
            </button>
            <button type="button" className="primary" disabled={!preview || stale || busy !== undefined} onClick={start}>
              {busy === 'start' ? 'Starting…' : 'Start rollout'}
            </button>
          </div>
        </div>
      }
    >
      <form className="rollout-form" onSubmit={runPreview} noValidate>
        <div className="form-grid">
          <div className={`field${err('mode') ? ' field-invalid' : ''}`}>
            <label htmlFor="rollout-mode">Upgrade path</label>
            <select id="rollout-mode" value={mode} onChange={(e) => setMode(e.target.value as Mode)} data-autofocus>
              {(['image-only', 'release', 'full'] as const).map((m) => (
                <option key={m} value={m}>
                  {MODE_LABEL[m]}
                </option>
              ))}
            </select>
            <p className="field-hint">{MODE_HINT[mode]}</p>
          </div>
          <div className={`field${err('imageTag') ? ' field-invalid' : ''}`}>
            <label htmlFor="rollout-tag">Image tag{mode === 'image-only' ? ' (optional)' : ''}</label>
            {mode === 'full' ? (
              <>
                <input id="rollout-tag" className="mono" value="" disabled placeholder="each instance’s own tag" />
                <p className="field-hint">Upgrade Now uses each instance’s own tag (its Settings).</p>
              </>
            ) : (
              <>
                <input
                  id="rollout-tag"
                  className="mono"
                  value={imageTag}
                  onChange={(e) => setImageTag(e.target.value)}
                  placeholder={mode === 'image-only' ? 'each instance’s own tag' : 'e.g. 1.4.0'}
                  aria-invalid={!!err('imageTag')}
                  aria-describedby={describedBy('rollout-tag', 'imageTag')}
                />
                {err('imageTag') ? (
                  <p className="error-note" role="alert" id="rollout-tag-error">
                    {err('imageTag')}
                  </p>
                ) : (
                  <p className="field-hint">{mode === 'image-only' ? 'Blank: each instance is pulled at its own tag.' : 'Every instance is upgraded to this release.'}</p>
                )}
              </>
            )}
          </div>
          <div className={`field${err('release') ? ' field-invalid' : ''}`}>
            <label htmlFor="rollout-release">Release</label>
            <select id="rollout-release" value={release} onChange={(e) => setRelease(e.target.value)}>
              <option value="">each instance’s own release</option>
              {(releases.data ?? []).map((r) => (
                <option key={r.version} value={r.version}>
                  {r.version}
                  {r.isDefault ? ' (default)' : ''}
                </option>
              ))}
            </select>
            {err('release') ? (
              <p className="error-note" role="alert" id="rollout-release-error">
                {err('release')}
              </p>
            ) : (
              <p className="field-hint">{release ? 'Every instance moves to this release of the catalog (its tag unless a tag is given).' : 'Instances keep the release they run.'}</p>
            )}
          </div>
        </div>

        <fieldset className={`field target${err('target') ? ' field-invalid' : ''}`} aria-describedby={err('target') ? 'rollout-target-error' : undefined}>
          <legend>Instances</legend>
          <div className="segmented" role="radiogroup" aria-label="Which instances">
            {(
              [
                ['pick', 'Pick instances'],
                ['all', 'All instances'],
                ['label', 'With a label'],
              ] as const
            ).map(([k, text]) => (
              <label key={k} className={targetKind === k ? 'on' : undefined}>
                <input type="radio" name="rollout-target" value={k} checked={targetKind === k} onChange={() => setTargetKind(k)} /> {text}
              </label>
            ))}
          </div>
          {targetKind === 'pick' && (
            <InstancePicker instances={all} loading={instances.loading} error={instances.error} picked={picked} onChange={setPicked} />
          )}
          {targetKind === 'all' && (
            <p className="field-hint">
              {instances.data ? `Every instance: ${plural(all.length, 'instance')} now, in slug order.` : 'Every instance, in slug order.'}
            </p>
          )}
          {targetKind === 'label' && (
            <div className="label-pick">
              <label htmlFor="rollout-label" className="sr-only">
                Label
              </label>
              <input
                id="rollout-label"
                className="mono"
                list="rollout-labels"
                value={label}
                onChange={(e) => setLabel(e.target.value)}
                placeholder={labels[0] ? `e.g. ${labels[0]}` : 'e.g. canary'}
              />
              <datalist id="rollout-labels">
                {labels.map((l) => (
                  <option key={l} value={l} />
                ))}
              </datalist>
              <p className="field-hint">{labels.length > 0 ? `Labels in use: ${labels.join(', ')}` : 'No instance has a label yet.'}</p>
            </div>
          )}
          {err('target') && (
            <p className="error-note" role="alert" id="rollout-target-error">
              {err('target')}
            </p>
          )}
        </fieldset>

        <div className="form-grid">
          <div className={`field${err('waves') ? ' field-invalid' : ''}`}>
            <label htmlFor="rollout-waves">Waves</label>
            <input
              id="rollout-waves"
              className="mono"
              value={waves}
              onChange={(e) => setWaves(e.target.value)}
              aria-invalid={!!err('waves')}
              aria-describedby={describedBy('rollout-waves', 'waves', 'rollout-waves-hint')}
            />
            {err('waves') ? (
              <p className="error-note" role="alert" id="rollout-waves-error">
                {err('waves')}
              </p>
            ) : (
              <p className="field-hint" id="rollout-waves-hint">
                A count is a wave’s size; a percentage is the share of the fleet done by the end of that wave.
              </p>
            )}
          </div>
          <div className={`field${err('maxParallel') ? ' field-invalid' : ''}`}>
            <label htmlFor="rollout-parallel">At most at once</label>
            <input
              id="rollout-parallel"
              inputMode="numeric"
              value={maxParallel}
              onChange={(e) => setMaxParallel(e.target.value)}
              aria-invalid={!!err('maxParallel')}
              aria-describedby={describedBy('rollout-parallel', 'maxParallel')}
            />
            {err('maxParallel') ? (
              <p className="error-note" role="alert" id="rollout-parallel-error">
                {err('maxParallel')}
              </p>
            ) : (
              <p className="field-hint">Instances upgrading at the same time.</p>
            )}
          </div>
        </div>

        <div className="form-grid">
          <fieldset className={`field${err('failureBudget') ? ' field-invalid' : ''}`}>
            <legend>Failure budget</legend>
            <div className="pair">
              <label>
                <span>failures</span>
                <input inputMode="numeric" value={budgetCount} onChange={(e) => setBudgetCount(e.target.value)} aria-label="Failure budget: count" />
              </label>
              <label>
                <span>% of attempted</span>
                <input
                  inputMode="decimal"
                  value={budgetPercent}
                  onChange={(e) => setBudgetPercent(e.target.value)}
                  placeholder="–"
                  aria-label="Failure budget: percent"
                />
              </label>
            </div>
            {err('failureBudget') ? (
              <p className="error-note" role="alert" id="rollout-budget-error">
                {err('failureBudget')}
              </p>
            ) : (
              <p className="field-hint">The rollout pauses when failures exceed either; blank means no limit of that kind.</p>
            )}
          </fieldset>
          <fieldset className={`field${err('bake') ? ' field-invalid' : ''}`}>
            <legend>Between waves</legend>
            <label className="check">
              <input type="radio" name="rollout-bake" checked={bakeKind === 'approval'} onChange={() => setBakeKind('approval')} /> Wait for an
              operator’s approval
            </label>
            <div className="check bake-for">
              <input
                type="radio"
                name="rollout-bake"
                id="rollout-bake-duration"
                checked={bakeKind === 'duration'}
                onChange={() => setBakeKind('duration')}
              />
              <label htmlFor="rollout-bake-duration">Bake for</label>
              <input
                className="mono"
                value={bakeFor}
                onChange={(e) => setBakeFor(e.target.value)}
                onFocus={() => setBakeKind('duration')}
                aria-label="Bake duration"
                aria-invalid={!!err('bake')}
              />
            </div>
            {err('bake') && (
              <p className="error-note" role="alert" id="rollout-bake-error">
                {err('bake')}
              </p>
            )}
          </fieldset>
        </div>

        <div className="form-grid">
          <div className={`field${err('perInstanceTimeout') ? ' field-invalid' : ''}`}>
            <label htmlFor="rollout-timeout">Per-instance timeout</label>
            <input
              id="rollout-timeout"
              className="mono"
              value={timeout}
              onChange={(e) => setTimeoutText(e.target.value)}
              aria-invalid={!!err('perInstanceTimeout')}
              aria-describedby={describedBy('rollout-timeout', 'perInstanceTimeout')}
            />
            {err('perInstanceTimeout') ? (
              <p className="error-note" role="alert" id="rollout-timeout-error">
                {err('perInstanceTimeout')}
              </p>
            ) : (
              <p className="field-hint">An instance not done by then counts as failed (an offline agent does not hold the wave); its upgrade goes on.</p>
            )}
          </div>
          <div className={`field${err('reason') ? ' field-invalid' : ''}`}>
            <label htmlFor="rollout-reason">Reason (optional)</label>
            <input id="rollout-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
            {err('reason') && (
              <p className="error-note" role="alert" id="rollout-reason-error">
                {err('reason')}
              </p>
            )}
          </div>
        </div>

        <div className="preview-bar">
          <button type="submit" disabled={busy !== undefined}>
            {busy === 'preview' ? 'Previewing…' : preview && !stale ? 'Preview again' : 'Preview waves'}
          </button>
          <ErrorNote error={generalFor(previewError)} />
        </div>
      </form>

      {preview && <WavePreview preview={preview.result} stale={stale} />}
    </Modal>
  );
}

function InstancePicker(props: { instances: InstanceView[]; loading: boolean; error?: string; picked: string[]; onChange: (ids: string[]) => void }) {
  const { instances, picked } = props;
  const toggle = (id: string, on: boolean) => props.onChange(on ? [...picked, id] : picked.filter((x) => x !== id));
  const allPicked = instances.length > 0 && instances.every((i) => picked.includes(i.id));
  if (props.error) return <ErrorNote error={props.error} />;
  if (instances.length === 0) return <p className="field-hint">{props.loading ? 'Loading the instances…' : 'No instance yet.'}</p>;
  return (
    <div className="picker">
      <div className="picker-head">
        <span className="muted">
          {picked.length} of {instances.length} picked
        </span>
        <button type="button" className="link-button" onClick={() => props.onChange(allPicked ? [] : instances.map((i) => i.id))}>
          {allPicked ? 'Pick none' : 'Pick all'}
        </button>
      </div>
      <ul className="picker-list" aria-label="Instances to upgrade">
        {instances.map((i) => (
          <li key={i.id}>
            <label className="picker-item" data-slug={i.slug}>
              <input type="checkbox" checked={picked.includes(i.id)} onChange={(e) => toggle(i.id, e.target.checked)} />
              <span className="mono strong picker-slug">{i.slug}</span>
              <span className="picker-name muted">{i.name}</span>
              <span className="picker-tag mono">{i.effectiveImageTag}</span>
              {i.isRemote && <span className="chip">remote</span>}
              {i.labels.map((l) => (
                <span key={l} className="chip">
                  {l}
                </span>
              ))}
            </label>
          </li>
        ))}
      </ul>
    </div>
  );
}

const PREVIEW_SLUGS = 40;

function WavePreview(props: { preview: RolloutPreview; stale: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  // A new preview lands below the form: bring it into view.
  useEffect(() => {
    ref.current?.scrollIntoView({ block: 'start' });
  }, [props.preview]);
  const total = props.preview.waves.reduce((n, w) => n + w.size, 0);
  let done = 0;
  return (
    <div ref={ref} className={`wave-preview${props.stale ? ' preview-stale' : ''}`} data-testid="wave-preview" aria-live="polite">
      <p className="preview-summary">
        {plural(total, 'instance')} in {plural(props.preview.waves.length, 'wave')}
      </p>
      <ol className="wave-list">
        {props.preview.waves.map((w) => {
          done += w.size;
          return (
            <li key={w.index} className="wave-item" data-wave={w.index + 1} data-size={w.size}>
              <div className="wave-item-head">
                <strong>Wave {w.index + 1}</strong>
                <span className="muted">
                  {plural(w.size, 'instance')} · {Math.round((done / Math.max(1, total)) * 100)}% done after it
                </span>
              </div>
              <div className="chips">
                {w.instances.slice(0, PREVIEW_SLUGS).map((i) => (
                  <span key={i.id} className="chip mono" data-slug={i.slug}>
                    {i.slug}
                  </span>
                ))}
                {w.instances.length > PREVIEW_SLUGS && <span className="muted">and {w.instances.length - PREVIEW_SLUGS} more</span>}
              </div>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
