/** Quick Upgrade: pull the images at a tag and recreate only the core services; no file is written. */
import { useState, type FormEvent } from 'react';
import type { InstanceView } from '../../../../api/responses.js';
import { api } from '../../api.js';
import { ErrorNote, Field, fieldError, generalError } from '../../components/bits.js';
import { Modal } from '../../components/Modal.js';
import { useSubmit } from '../../hooks.js';

export function QuickUpgradeDialog(props: { instance: InstanceView; onClose: () => void; onStarted: (id: string) => void }) {
  const [imageTag, setImageTag] = useState(props.instance.effectiveImageTag);
  const [reason, setReason] = useState('');
  const { busy, error, submit: run } = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const started = await api.quickUpgrade(props.instance.id, { imageTag: imageTag.trim(), reason: reason || undefined });
      props.onStarted(started.upgradeId);
    });
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
