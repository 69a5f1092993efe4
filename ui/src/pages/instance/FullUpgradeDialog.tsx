/** Upgrade Now: a full upgrade at the instance's tag, with an optional reason and automatic rollback. */
import { useState, type FormEvent } from 'react';
import type { InstanceView } from '../../../../api/responses.js';
import { api } from '../../api.js';
import { ErrorNote, Field, fieldError, generalError } from '../../components/bits.js';
import { Modal } from '../../components/Modal.js';
import { useSubmit } from '../../hooks.js';

export function FullUpgradeDialog(props: { instance: InstanceView; onClose: () => void; onStarted: (id: string) => void }) {
  const [reason, setReason] = useState('');
  const [autoRollback, setAutoRollback] = useState(false);
  const { busy, error, submit: run } = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const started = await api.upgradeNow(props.instance.id, { reason: reason || undefined, autoRollback });
      props.onStarted(started.upgradeId);
    });
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
