/**
 * Upgrade to Release: preview what the release would change on this tenant,
 * then apply exactly that plan (its planHash: the workflow refuses before
 * writing anything if the render or the tenant's files changed since).
 */
import { useState, type FormEvent } from 'react';
import type { InstanceView, ReleasePreview } from '../../../../api/responses.js';
import { api } from '../../api.js';
import { Badge, ErrorNote, Field, fieldError, generalError } from '../../components/bits.js';
import { DiffView } from '../../components/DiffView.js';
import { Modal } from '../../components/Modal.js';
import { useLoad } from '../../hooks.js';

/** What a preview asked for: a release of the catalog (blank: the instance's own) and a tag (blank: the release's own). */
interface Target {
  release: string;
  imageTag: string;
}
const sameTarget = (a: Target, b: Target) => a.release === b.release && a.imageTag === b.imageTag;

export function ReleaseModal(props: { instance: InstanceView; onClose: () => void; onStarted: (upgradeId: string) => void }) {
  const releases = useLoad(() => api.releases(), []);
  const [release, setRelease] = useState('');
  const current = props.instance.effectiveRelease;
  // From the release the instance runs to the one picked: an image-only step is a Quick Upgrade's job.
  const step = useLoad(
    () => (release && current && release !== current ? api.releaseDiff(current, release).catch(() => undefined) : Promise.resolve(undefined)),
    [release, current],
  );
  const [imageTag, setImageTag] = useState(props.instance.effectiveImageTag);
  const [preview, setPreview] = useState<{ target: Target; plan: ReleasePreview }>();
  const [previewError, setPreviewError] = useState<unknown>();
  const [applyError, setApplyError] = useState<unknown>();
  const [busy, setBusy] = useState<'preview' | 'apply'>();

  const target: Target = { release, imageTag: imageTag.trim() };
  const stale = preview !== undefined && !sameTarget(preview.target, target);
  const body = (t: Target) => ({ ...(t.release ? { release: t.release } : {}), ...(t.imageTag ? { imageTag: t.imageTag } : {}) });

  const pickRelease = (version: string) => {
    setRelease(version);
    // A release brings its own tag; the instance's own release keeps the instance's tag.
    setImageTag(version ? '' : props.instance.effectiveImageTag);
  };

  const runPreview = async (e?: FormEvent) => {
    e?.preventDefault();
    setBusy('preview');
    setPreviewError(undefined);
    setApplyError(undefined);
    try {
      setPreview({ target, plan: await api.previewRelease(props.instance.id, body(target)) });
    } catch (err) {
      setPreview(undefined);
      setPreviewError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const apply = async () => {
    if (!preview || stale) return;
    setBusy('apply');
    setApplyError(undefined);
    try {
      const started = await api.applyRelease(props.instance.id, {
        ...body(preview.target),
        imageTag: preview.plan.imageTag,
        planHash: preview.plan.planHash,
      });
      props.onStarted(started.upgradeId);
    } catch (err) {
      setApplyError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const plan = preview?.plan;
  const missing = plan?.envCoverage.missingInTenantEnv ?? [];
  const changed = plan?.files.filter((f) => f.status !== 'unchanged').length ?? 0;

  return (
    <Modal
      title="Upgrade to Release"
      onClose={props.onClose}
      wide
      testId="release-modal"
      footer={
        <div className="release-foot">
          <div className="release-foot-text">
            <ErrorNote error={generalError(applyError, [])} />
            {!applyError && (
              <p className="muted">
                {!preview
                  ? 'Preview first: Apply applies exactly the previewed plan.'
                  : stale
                    ? 'The release or tag changed since the preview: preview again to apply.'
                    : `Applies the previewed plan for ${preview.target.release ? `release ${preview.target.release}, ` : ''}${preview.plan.imageTag} (plan ${preview.plan.planHash.slice(0, 12)}…).`}
              </p>
            )}
          </div>
          <div className="modal-actions">
            <button type="button" onClick={props.onClose}>
              Close
            </button>
            <button type="button" className="primary" disabled={!preview || stale || busy !== undefined} onClick={apply}>
              {busy === 'apply' ? 'Applying…' : 'Apply'}
            </button>
          </div>
        </div>
      }
    >
      <form className="release-form" onSubmit={runPreview} noValidate>
        <Field
          label="Release"
          htmlFor="release-version"
          error={fieldError(previewError, 'release') ?? releases.error}
          hint={release ? 'A release of the catalog (see Releases): its templates, values schema and image tag.' : `The release this instance runs (${props.instance.effectiveRelease ?? 'the default'}), at the tag below.`}
        >
          <select id="release-version" value={release} onChange={(e) => pickRelease(e.target.value)}>
            <option value="">this instance's release ({props.instance.effectiveRelease ?? 'default'})</option>
            {(releases.data ?? []).map((r) => (
              <option key={r.version} value={r.version}>
                {r.version}
                {r.version === props.instance.effectiveRelease ? ' (runs now)' : ''}
                {r.isDefault ? ' (default)' : ''}
              </option>
            ))}
          </select>
        </Field>
        <Field
          label="Release image tag"
          htmlFor="release-tag"
          error={fieldError(previewError, 'imageTag')}
          hint="Renders the release's managed files with this tag (blank: the release's own) and compares them with the tenant's. Nothing is written."
        >
          <div className="inline-input">
            <input
              id="release-tag"
              className="mono"
              value={imageTag}
              onChange={(e) => setImageTag(e.target.value)}
              placeholder={release ? "the release's own tag" : undefined}
              data-autofocus
              aria-invalid={!!fieldError(previewError, 'imageTag')}
              aria-describedby={fieldError(previewError, 'imageTag') ? 'release-tag-error' : undefined}
            />
            <button type="submit" disabled={busy !== undefined}>
              {busy === 'preview' ? 'Previewing…' : 'Preview'}
            </button>
          </div>
        </Field>
        {step.data?.imageOnly && (
          <p className="alert alert-info" data-testid="release-image-only">
            From {step.data.from} to {step.data.to} only image references change (tag {step.data.imageTag.to}): Quick Upgrade fits, and writes no file.
          </p>
        )}
        <ErrorNote error={generalError(previewError, ['imageTag', 'release'])} />
      </form>

      {plan && (
        <div className={`preview${stale ? ' preview-stale' : ''}`} data-testid="release-preview">
          {missing.length > 0 && (
            <div className="alert alert-bad" role="alert" data-testid="env-alert">
              <strong>The tenant's .env lacks {missing.length === 1 ? 'a variable' : `${missing.length} variables`} this release needs:</strong>{' '}
              {missing.map((v, n) => (
                <span key={v}>
                  {n > 0 && ', '}
                  <code>{v}</code>
                </span>
              ))}
              . Compose will substitute an empty value (or refuse to start) until {missing.length === 1 ? 'it is' : 'they are'} defined on the tenant.
            </div>
          )}
          {plan.envCoverage.problems.length > 0 && (
            <div className="alert alert-warn">
              Reading the tenant's .env: {plan.envCoverage.problems.join('; ')}
            </div>
          )}
          {plan.envCoverage.unusedInTenantEnv.length > 0 && (
            <p className="muted">
              Defined in the tenant's .env but not used by the release: {plan.envCoverage.unusedInTenantEnv.map((v) => v).join(', ')}.
            </p>
          )}
          <p className="preview-summary">
            {changed === 0 ? 'Every managed file is already as this release would write it.' : `${changed} of ${plan.files.length} managed files would change.`}
          </p>
          <ul className="files">
            {plan.files.map((f) => (
              <li key={f.path} className="file" data-path={f.path} data-status={f.status}>
                <div className="file-head">
                  <Badge status={f.status} />
                  <span className="mono file-path">{f.path}</span>
                  {f.truncated && <span className="chip chip-warn">diff truncated</span>}
                </div>
                {f.diff && <DiffView diff={f.diff} truncated={f.truncated} />}
              </li>
            ))}
          </ul>
        </div>
      )}
    </Modal>
  );
}
