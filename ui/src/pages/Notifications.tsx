import { useState, type FormEvent } from 'react';
import type { z } from 'zod';
import type { OperatorView, notificationEndpointView } from '../../../api/responses.js';
import { NOTIFICATION_EVENTS } from '../../../api/schemas.js';
import { api, messageOf } from '../api.js';
import { Badge, Empty, ErrorNote, Field, fieldError, generalError } from '../components/bits.js';
import { when } from '../format.js';
import { useLoad } from '../hooks.js';
import { useCan } from '../role.js';

type Endpoint = z.output<typeof notificationEndpointView>;
type Kind = Endpoint['kind'];

const EVENT_HELP: Record<(typeof NOTIFICATION_EVENTS)[number], string> = {
  'upgrade.parked': 'an upgrade waits for an operator (step, error, links)',
  'upgrade.failed': 'an upgrade failed',
  'upgrade.succeeded': 'an upgrade succeeded',
  'upgrade.rolled-back': 'an upgrade was rolled back',
  'rollout.paused': 'a rollout paused: failures over its budget',
  'rollout.awaiting-approval': 'a rollout waits for approval of its next wave',
  'rollout.finished': 'a rollout ended',
  'agent.awaiting-approval': 'an agent registered and waits for approval',
  'agent.offline': 'an agent has not answered past the threshold',
  'drift.found': 'a tenant drifted from its release',
};

/** Notification endpoints: admins add, change and delete them and see each one's recent deliveries. */
export function NotificationsPage(props: { operator: OperatorView }) {
  if (!useCan('admin')) {
    return (
      <section>
        <div className="page-head">
          <h1>Notifications</h1>
        </div>
        <p className="muted lead" data-testid="notifications-admin-only">
          Notification endpoints are an admin’s; you are signed in as {props.operator.email} ({props.operator.role}).
        </p>
      </section>
    );
  }
  return <NotificationsAdmin />;
}

function NotificationsAdmin() {
  const endpoints = useLoad(() => api.notificationEndpoints(), []);
  const [editing, setEditing] = useState<Endpoint | 'new' | undefined>();
  const [shown, setShown] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [rowErrors, setRowErrors] = useState<Record<string, string>>({});
  const [notes, setNotes] = useState<Record<string, string>>({});

  const act = async (id: string, fn: () => Promise<unknown>, done?: string) => {
    setBusy(id);
    setRowErrors((r) => ({ ...r, [id]: '' }));
    try {
      await fn();
      if (done) setNotes((n) => ({ ...n, [id]: done }));
      await endpoints.reload();
    } catch (err) {
      setRowErrors((r) => ({ ...r, [id]: messageOf(err) }));
    } finally {
      setBusy(undefined);
    }
  };

  const list = endpoints.data ?? [];
  return (
    <section>
      <div className="page-head">
        <h1>Notifications</h1>
        {editing === undefined && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            Add endpoint
          </button>
        )}
      </div>
      <p className="muted lead">
        Events go to each endpoint in the order they happened, retried until the receiver takes them. A webhook gets drydock’s JSON, signed with
        its secret (<code>X-Drydock-Signature</code> over <code>&lt;timestamp&gt;.&lt;body&gt;</code>, see docs/NOTIFICATIONS.md); a Slack
        endpoint gets an incoming-webhook message.
      </p>
      {editing !== undefined && (
        <EndpointForm
          key={editing === 'new' ? 'new' : editing.id}
          endpoint={editing === 'new' ? undefined : editing}
          onDone={async () => {
            setEditing(undefined);
            await endpoints.reload();
          }}
          onCancel={() => setEditing(undefined)}
        />
      )}
      <ErrorNote error={endpoints.error} />
      {list.length === 0 ? (
        <Empty>{endpoints.loading ? 'Loading…' : 'No endpoint yet: nobody is told when an upgrade parks.'}</Empty>
      ) : (
        <div className="table-scroll">
          <table className="table notifications-table" data-testid="notification-endpoints">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Sends to</th>
                <th>Events</th>
                <th>Labels</th>
                <th>Secret</th>
                <th className="actions-col" />
              </tr>
            </thead>
            <tbody>
              {list.map((e) => (
                <EndpointRow
                  key={e.id}
                  e={e}
                  busy={busy === e.id}
                  error={rowErrors[e.id]}
                  note={notes[e.id]}
                  deliveriesShown={shown === e.id}
                  onEdit={() => setEditing(e)}
                  onToggleDeliveries={() => setShown(shown === e.id ? undefined : e.id)}
                  onTest={() => act(e.id, () => api.testNotificationEndpoint(e.id), 'Test event queued: see its delivery below.').then(() => setShown(e.id))}
                  onDelete={() => {
                    if (window.confirm(`Delete the endpoint “${e.name}”? Its pending deliveries are dropped.`)) void act(e.id, () => api.deleteNotificationEndpoint(e.id));
                  }}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function EndpointRow(props: {
  e: Endpoint;
  busy: boolean;
  error?: string;
  note?: string;
  deliveriesShown: boolean;
  onEdit(): void;
  onToggleDeliveries(): void;
  onTest(): void;
  onDelete(): void;
}) {
  const { e } = props;
  return (
    <>
      <tr data-endpoint={e.name}>
        <td data-label="Name">{e.name}</td>
        <td data-label="Kind">{e.kind === 'slack' ? 'Slack' : 'webhook'}</td>
        <td data-label="Sends to" className="mono">
          {e.urlOrigin}/…
        </td>
        <td data-label="Events">
          <span className="chips">
            {e.events.map((ev) => (
              <span key={ev} className="chip" title={EVENT_HELP[ev as keyof typeof EVENT_HELP]}>
                {ev}
              </span>
            ))}
          </span>
        </td>
        <td data-label="Labels">{e.labels.length > 0 ? e.labels.join(', ') : <span className="muted">any instance</span>}</td>
        <td data-label="Secret">{e.kind === 'slack' ? <span className="muted">not signed</span> : <Badge status={e.secret} tone={e.secret === 'set' ? 'ok' : 'warn'} />}</td>
        <td className="actions-col" data-label="">
          <button type="button" onClick={props.onToggleDeliveries} aria-expanded={props.deliveriesShown}>
            {props.deliveriesShown ? 'Hide deliveries' : 'Deliveries'}
          </button>{' '}
          <button type="button" onClick={props.onEdit} disabled={props.busy}>
            Edit
          </button>{' '}
          <button type="button" onClick={props.onTest} disabled={props.busy}>
            Send test
          </button>{' '}
          <button type="button" className="danger" onClick={props.onDelete} disabled={props.busy}>
            Delete
          </button>
          {props.note && <p className="muted">{props.note}</p>}
          <ErrorNote error={props.error} />
        </td>
      </tr>
      {props.deliveriesShown && (
        <tr className="selected">
          <td colSpan={7}>
            <Deliveries endpointId={e.id} />
          </td>
        </tr>
      )}
    </>
  );
}

/** The endpoint's recent deliveries, newest first, refreshed while shown. */
function Deliveries(props: { endpointId: string }) {
  const deliveries = useLoad(() => api.notificationDeliveries(props.endpointId), [props.endpointId], 3000);
  const list = deliveries.data ?? [];
  if (list.length === 0) return <Empty>{deliveries.loading ? 'Loading…' : 'Nothing sent yet.'}</Empty>;
  return (
    <>
      <ErrorNote error={deliveries.error} />
      <table className="table" data-testid="notification-deliveries">
        <thead>
          <tr>
            <th>Event</th>
            <th>What happened</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Last error</th>
            <th>Delivered</th>
          </tr>
        </thead>
        <tbody>
          {list.map((d) => (
            <tr key={d.id} data-event={d.eventType}>
              <td data-label="Event" className="mono">
                {d.eventType}
              </td>
              <td data-label="What happened">{d.summary}</td>
              <td data-label="Status">
                <Badge status={d.status} tone={d.status === 'delivered' ? 'ok' : 'warn'} label={d.status === 'pending' && d.attempts > 0 ? 'retrying' : d.status} />
              </td>
              <td data-label="Attempts">{d.attempts}</td>
              <td data-label="Last error">{d.lastError ?? <span className="muted">–</span>}</td>
              <td data-label="Delivered">{d.deliveredAt ? when(d.deliveredAt) : <span className="muted">not yet</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** A random signing secret, made in the browser: the admin copies it to the receiver before saving. */
function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function EndpointForm(props: { endpoint?: Endpoint; onDone(): Promise<void>; onCancel(): void }) {
  const current = props.endpoint;
  const [name, setName] = useState(current?.name ?? '');
  const [kind, setKind] = useState<Kind>(current?.kind ?? 'webhook');
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  const [events, setEvents] = useState<string[]>(current?.events ?? ['upgrade.parked', 'upgrade.failed', 'rollout.paused']);
  const [labels, setLabels] = useState((current?.labels ?? []).join(', '));
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const labelList = labels
      .split(/[\s,]+/)
      .map((l) => l.trim())
      .filter(Boolean);
    const chosen = NOTIFICATION_EVENTS.filter((ev) => events.includes(ev));
    try {
      if (current) {
        await api.patchNotificationEndpoint(current.id, {
          name: name.trim(),
          events: chosen,
          labels: labelList,
          ...(url.trim() ? { url: url.trim() } : {}),
          ...(secret ? { secret } : {}),
        });
      } else {
        await api.createNotificationEndpoint({ name: name.trim(), kind, url: url.trim(), events: chosen, labels: labelList, ...(kind === 'webhook' ? { secret } : {}) });
      }
      await props.onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const toggle = (ev: string, on: boolean) => setEvents((list) => (on ? [...list, ev] : list.filter((x) => x !== ev)));
  return (
    <form className="card" onSubmit={submit} noValidate data-testid="endpoint-form">
      <h2>{current ? `Edit “${current.name}”` : 'Add an endpoint'}</h2>
      <div className="form-grid">
        <Field label="Name" htmlFor="endpoint-name" error={fieldError(error, 'name')}>
          <input id="endpoint-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="on-call webhook" />
        </Field>
        <Field label="Kind" htmlFor="endpoint-kind" error={fieldError(error, 'kind')} hint={current ? 'An endpoint keeps its kind.' : undefined}>
          <select id="endpoint-kind" value={kind} disabled={Boolean(current)} onChange={(e) => setKind(e.target.value as Kind)}>
            <option value="webhook">Webhook (signed JSON)</option>
            <option value="slack">Slack incoming webhook</option>
          </select>
        </Field>
      </div>
      <Field
        label="URL"
        htmlFor="endpoint-url"
        error={fieldError(error, 'url')}
        hint={current ? `Now sends to ${current.urlOrigin}/…; leave empty to keep the URL.` : 'Stored encrypted; shown afterwards only as its origin.'}
      >
        <input
          id="endpoint-url"
          className="mono"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          placeholder={kind === 'slack' ? 'https://hooks.slack.com/services/…' : 'https://alerts.example.com/drydock'}
        />
      </Field>
      {kind === 'webhook' && (
        <Field
          label="Signing secret"
          htmlFor="endpoint-secret"
          error={fieldError(error, 'secret')}
          hint={current ? `The secret is ${current.secret}; leave empty to keep it.` : 'At least 16 characters. Give the receiver the same; drydock never shows it again.'}
        >
          <div className="inline-input">
            <input id="endpoint-secret" className="mono" type="text" autoComplete="off" value={secret} onChange={(e) => setSecret(e.target.value)} />{' '}
            <button type="button" onClick={() => setSecret(newSecret())}>
              Generate
            </button>
          </div>
        </Field>
      )}
      <fieldset className={`field${fieldError(error, 'events') ? ' field-invalid' : ''}`}>
        <legend>Events</legend>
        {NOTIFICATION_EVENTS.map((ev) => (
          <label key={ev} className="checkbox-line">
            <input type="checkbox" checked={events.includes(ev)} onChange={(e) => toggle(ev, e.target.checked)} /> <span className="mono">{ev}</span>{' '}
            <span className="muted">{EVENT_HELP[ev]}</span>
          </label>
        ))}
        <ErrorNote error={fieldError(error, 'events')} />
      </fieldset>
      <Field
        label="Only instances with these labels"
        htmlFor="endpoint-labels"
        error={fieldError(error, 'labels')}
        hint="Comma-separated; an instance must carry all of them. Empty: every instance. Rollout events are not filtered."
      >
        <input id="endpoint-labels" className="mono" value={labels} onChange={(e) => setLabels(e.target.value)} placeholder="eu, production" />
      </Field>
      <ErrorNote error={generalError(error, ['name', 'kind', 'url', 'secret', 'events', 'labels'])} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {current ? 'Save' : 'Add endpoint'}
        </button>{' '}
        <button type="button" onClick={props.onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
