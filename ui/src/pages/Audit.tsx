import { useEffect, useState, type FormEvent } from 'react';
import type { AuditEntryViewAnswer } from '../../../api/responses.js';
import { api, messageOf, type AuditQuery } from '../api.js';
import { Badge, Empty, ErrorNote, Field } from '../components/bits.js';
import { when } from '../format.js';

const PAGE = 50;

/** Settings before → after, compactly (secrets are only ever "set"/"unset" in the log). */
function change(e: AuditEntryViewAnswer): string {
  const show = (v: unknown) => (v === null || v === undefined ? '' : JSON.stringify(v));
  if (e.before == null && e.after == null) return '';
  if (e.before == null) return show(e.after);
  return `${show(e.before)} → ${show(e.after)}`;
}

/** The audit log: filters, newest first, more on demand, and exports of exactly what the filters select. */
export function AuditPage() {
  const [form, setForm] = useState<AuditQuery>({});
  const [query, setQuery] = useState<AuditQuery>({});
  const [entries, setEntries] = useState<AuditEntryViewAnswer[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);

  const load = async (q: AuditQuery, cursor?: string) => {
    setLoading(true);
    setError(undefined);
    try {
      const page = await api.audit({ ...q, cursor, limit: PAGE });
      setEntries((old) => (cursor ? [...old, ...page.entries] : page.entries));
      setNext(page.nextCursor);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void load({});
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setQuery(form);
    void load(form);
  };
  const set = (k: keyof AuditQuery) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value || undefined }));

  return (
    <section>
      <div className="page-head">
        <h1>Audit log</h1>
        <div className="export-links">
          <a href={api.auditExportUrl(query, 'csv')} download data-testid="export-csv">
            Export CSV
          </a>{' '}
          ·{' '}
          <a href={api.auditExportUrl(query, 'ndjson')} download data-testid="export-ndjson">
            Export NDJSON
          </a>
        </div>
      </div>
      <p className="muted lead">Every sign-in and every change, accepted or refused: who, from where, and settings before and after. Entries cannot be changed or deleted.</p>
      <form className="card token-form" onSubmit={apply} noValidate data-testid="audit-filters">
        <Field label="Actor (email or id)" htmlFor="audit-actor">
          <input id="audit-actor" value={form.actor ?? ''} onChange={set('actor')} />
        </Field>
        <Field label="Action (e.g. upgrade.* or instance.update)" htmlFor="audit-action">
          <input id="audit-action" value={form.action ?? ''} onChange={set('action')} />
        </Field>
        <Field label="Target kind" htmlFor="audit-target-kind">
          <select id="audit-target-kind" value={form.targetKind ?? ''} onChange={set('targetKind')}>
            <option value="">any</option>
            {['upgrade', 'rollout', 'instance', 'agent', 'invite', 'token', 'operator', 'release', 'session', 'notification'].map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Target id" htmlFor="audit-target-id">
          <input id="audit-target-id" value={form.targetId ?? ''} onChange={set('targetId')} />
        </Field>
        <Field label="From" htmlFor="audit-from">
          <input id="audit-from" type="datetime-local" value={form.from ?? ''} onChange={set('from')} />
        </Field>
        <Field label="To" htmlFor="audit-to">
          <input id="audit-to" type="datetime-local" value={form.to ?? ''} onChange={set('to')} />
        </Field>
        <div className="invite-submit">
          <button type="submit" className="primary" disabled={loading}>
            Filter
          </button>
        </div>
      </form>
      <ErrorNote error={error} />
      {entries.length === 0 ? (
        <Empty>{loading ? 'Loading…' : 'No entry matches.'}</Empty>
      ) : (
        <div className="table-scroll">
          <table className="table audit-table" data-testid="audit">
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>Action</th>
                <th>Target</th>
                <th>From</th>
                <th>Outcome</th>
                <th>Change</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id}>
                  <td data-label="When">{when(e.at)}</td>
                  <td data-label="Who">
                    {e.actorName ?? e.actorKind}
                    {e.tokenName ? <span className="muted"> (token {e.tokenName})</span> : null}
                  </td>
                  <td data-label="Action" className="mono">
                    {e.action}
                  </td>
                  <td data-label="Target" className="mono">
                    {e.targetKind ? `${e.targetKind} ${e.targetId ?? ''}` : '–'}
                  </td>
                  <td data-label="From" className="mono">
                    {e.clientAddress ?? '–'}
                  </td>
                  <td data-label="Outcome">
                    <Badge status={e.outcome} tone={e.outcome === 'accepted' ? 'ok' : 'bad'} label={e.outcome === 'refused' && e.reason ? `refused: ${e.reason}` : e.outcome} />
                  </td>
                  <td data-label="Change" className="mono audit-change">
                    {change(e)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next && (
        <button type="button" onClick={() => void load(query, next)} disabled={loading}>
          Older entries
        </button>
      )}
    </section>
  );
}
