import { useState, type ReactNode } from 'react';
import type { ApiError } from '../api.js';

const STATUS_CLASS: Record<string, string> = {
  queued: 'neutral',
  running: 'info',
  'needs-attention': 'warn',
  'rolling-back': 'warn',
  succeeded: 'ok',
  failed: 'bad',
  cancelled: 'neutral',
  'rolled-back': 'neutral',
  pending: 'warn',
  approved: 'ok',
  rejected: 'neutral',
  revoked: 'bad',
  unchanged: 'neutral',
  // drift
  'in-sync': 'ok',
  drifted: 'warn',
  unknown: 'neutral',
  modified: 'warn',
  created: 'ok',
  unused: 'info',
  used: 'neutral',
  expired: 'neutral',
  active: 'ok',
  // rollouts
  baking: 'info',
  'awaiting-approval': 'warn',
  paused: 'warn',
  aborted: 'neutral',
  updated: 'ok',
  skipped: 'neutral',
};

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'neutral';

export function Badge(props: { status: string; label?: string; tone?: Tone }) {
  return (
    <span className={`badge badge-${props.tone ?? STATUS_CLASS[props.status] ?? 'neutral'}`} data-status={props.status}>
      {props.label ?? props.status}
    </span>
  );
}

/** A message next to what caused it. Renders an empty, space-keeping line when there is none, so nothing jumps. */
export function ErrorNote(props: { error?: string | null; keepSpace?: boolean; id?: string }) {
  if (!props.error) return props.keepSpace ? <p className="error-note error-note-empty" aria-hidden="true" /> : null;
  return (
    <p className="error-note" role="alert" id={props.id}>
      {props.error}
    </p>
  );
}

/** The message for one field of an ApiError (from the API's 400 or the local schema check). */
export function fieldError(err: unknown, field: string): string | undefined {
  const e = err as ApiError | undefined;
  return e && typeof e.field === 'function' ? e.field(field) : undefined;
}

/** What is left of an error once its field messages are shown beside their fields. */
export function generalError(err: unknown, shownFields: string[]): string | undefined {
  if (!err) return undefined;
  const e = err as ApiError;
  if (Array.isArray(e.fields) && e.fields.length > 0 && e.fields.every((f) => shownFields.includes(f.field))) return undefined;
  return (err as Error).message;
}

export function Field(props: { label: string; htmlFor: string; error?: string; hint?: ReactNode; children: ReactNode }) {
  return (
    <div className={`field${props.error ? ' field-invalid' : ''}`}>
      <label htmlFor={props.htmlFor}>{props.label}</label>
      {props.children}
      {props.hint && !props.error && <p className="field-hint">{props.hint}</p>}
      {props.error && (
        <p className="error-note" role="alert" id={`${props.htmlFor}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/** A secret shown once: read-only, selectable, with a copy button. */
export function SecretBox(props: { label: string; value: string; note: ReactNode; testId?: string }) {
  const [copied, setCopied] = useState<string>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.value);
      setCopied('Copied');
    } catch {
      setCopied('Select the text and copy it');
    }
  };
  return (
    <div className="secret-box" data-testid={props.testId}>
      <label className="secret-label">{props.label}</label>
      <div className="secret-row">
        <input className="mono" readOnly value={props.value} onFocus={(e) => e.currentTarget.select()} aria-label={props.label} />
        <button type="button" onClick={copy}>
          Copy
        </button>
      </div>
      <p className="field-hint" aria-live="polite">
        {copied ?? props.note}
      </p>
    </div>
  );
}

export function Empty(props: { children: ReactNode }) {
  return <p className="empty">{props.children}</p>;
}
