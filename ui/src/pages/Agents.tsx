import { useState, type FormEvent } from 'react';
import type { AgentRegistrationView, AgentReplacementView } from '../../../api/responses.js';
import { api, ApiError, messageOf } from '../api.js';
import { Badge, Empty, ErrorNote, Field, fieldError, generalError, SecretBox } from '../components/bits.js';
import { Modal } from '../components/Modal.js';
import { when } from '../format.js';
import { useLoad } from '../hooks.js';
import { useCan } from '../role.js';
import { linkProps } from '../router.js';

const EXPIRY = [
  { label: '1 hour', minutes: 60 },
  { label: '24 hours', minutes: 24 * 60 },
  { label: '7 days', minutes: 7 * 24 * 60 },
];

export function AgentsPage() {
  const registrations = useLoad(() => api.registrations(), [], 5000);
  const invites = useLoad(() => api.invites(), [], 15000);
  const all = registrations.data ?? [];
  const pending = all.filter((r) => r.status === 'pending');
  const approved = all.filter((r) => r.status === 'approved');
  const decided = all.filter((r) => r.status === 'rejected' || r.status === 'revoked');

  return (
    <section className="agents">
      <div className="page-head">
        <h1>Agents</h1>
      </div>
      <p className="muted lead">
        A tenant host runs an agent that registers with an invite code; once an operator approves it, its instance is upgraded through it over mutual
        TLS.
      </p>

      <InviteSection onCreated={invites.reload} invites={invites} />

      <h2 className="section-title">Pending registrations</h2>
      <ErrorNote error={registrations.error} />
      {pending.length === 0 ? (
        <Empty>{registrations.loading ? 'Loading…' : 'No registration is waiting for approval.'}</Empty>
      ) : (
        <RegistrationTable rows={pending} onChanged={registrations.reload} kind="pending" />
      )}

      <h2 className="section-title">Approved agents</h2>
      {approved.length === 0 ? <Empty>No approved agent.</Empty> : <RegistrationTable rows={approved} onChanged={registrations.reload} kind="approved" />}

      {decided.length > 0 && (
        <details className="decided">
          <summary>Rejected and revoked ({decided.length})</summary>
          <RegistrationTable rows={decided} onChanged={registrations.reload} kind="decided" />
        </details>
      )}
    </section>
  );
}

function InviteSection(props: { onCreated: () => Promise<void>; invites: ReturnType<typeof useLoad<Awaited<ReturnType<typeof api.invites>>>> }) {
  const isAdmin = useCan('admin');
  const [minutes, setMinutes] = useState(24 * 60);
  const [slug, setSlug] = useState('');
  const [anySlug, setAnySlug] = useState(false);
  const [note, setNote] = useState('');
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<{ code: string; fingerprint?: string; expiresAt: string; slug?: string | null }>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const inv = await api.createInvite({
        expiresInMinutes: minutes,
        ...(anySlug ? { anySlug: true } : { slug: slug.trim() || undefined }),
        note: note.trim() || undefined,
      });
      setCreated({ code: inv.code, fingerprint: inv.caFingerprint256, expiresAt: inv.expiresAt, slug: inv.slug });
      setSlug('');
      setAnySlug(false);
      setNote('');
      await props.onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const list = props.invites.data ?? [];
  return (
    <div className="card">
      <h2>Invite codes</h2>
      <form className="invite-form" onSubmit={submit} noValidate>
        <Field label="Valid for" htmlFor="invite-expiry" error={fieldError(error, 'expiresInMinutes')}>
          <select id="invite-expiry" value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
            {EXPIRY.map((x) => (
              <option key={x.minutes} value={x.minutes}>
                {x.label}
              </option>
            ))}
          </select>
        </Field>
        <Field label="For slug" htmlFor="invite-slug" error={fieldError(error, 'slug')}>
          <input
            id="invite-slug"
            className="mono"
            value={anySlug ? '' : slug}
            disabled={anySlug}
            onChange={(e) => setSlug(e.target.value)}
            placeholder={anySlug ? 'any slug' : 'the instance this agent serves'}
          />
          <label className="check">
            <input type="checkbox" checked={anySlug} onChange={(e) => setAnySlug(e.target.checked)} data-testid="invite-any-slug" /> Any slug (whoever
            holds the code picks one)
          </label>
        </Field>
        <Field label="Note (optional)" htmlFor="invite-note" error={fieldError(error, 'note')}>
          <input id="invite-note" value={note} onChange={(e) => setNote(e.target.value)} placeholder="e.g. the tenant's host" />
        </Field>
        <div className="invite-submit">
          {isAdmin && (
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Creating…' : 'Create invite code'}
            </button>
          )}
        </div>
      </form>
      <ErrorNote error={generalError(error, ['expiresInMinutes', 'slug', 'note'])} />
      {created && (
        <div className="created-secret">
          <SecretBox
            label="Invite code"
            value={created.code}
            testId="invite-code"
            note={`Shown this once: copy it now. Single use${created.slug ? ` for ${created.slug}` : ''}, valid until ${when(created.expiresAt)}.`}
          />
          {created.fingerprint && (
            <p className="field-hint">
              The code carries the control plane's CA fingerprint (<code className="wrap">{created.fingerprint}</code>): the agent pins it from the code
              alone.
            </p>
          )}
          <button type="button" className="link-button" onClick={() => setCreated(undefined)}>
            Done, hide it
          </button>
        </div>
      )}
      <ErrorNote error={props.invites.error} />
      {list.length > 0 && (
        <div className="table-scroll">
          <table className="table invites-table">
            <thead>
              <tr>
                <th>Created</th>
                <th>By</th>
                <th>Slug</th>
                <th>Note</th>
                <th>Expires</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {list.slice(0, 20).map((i) => (
                <tr key={i.id}>
                  <td data-label="Created">{when(i.createdAt)}</td>
                  <td data-label="By">{i.createdBy ?? '–'}</td>
                  <td data-label="Slug" className="mono">
                    {i.slug ?? 'any'}
                  </td>
                  <td data-label="Note">{i.note ?? ''}</td>
                  <td data-label="Expires">{when(i.expiresAt)}</td>
                  <td data-label="State">{i.state ? <Badge status={i.state} /> : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

type Decision = { kind: 'reject' | 'revoke'; reg: AgentRegistrationView };

function RegistrationTable(props: { rows: AgentRegistrationView[]; onChanged: () => Promise<void>; kind: 'pending' | 'approved' | 'decided' }) {
  const isAdmin = useCan('admin');
  const [busy, setBusy] = useState<string>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [deciding, setDeciding] = useState<Decision>();
  const [reason, setReason] = useState('');
  /** A 409 from approving: what the approval would replace, to confirm. */
  const [replacing, setReplacing] = useState<AgentReplacementView>();

  const run = async (id: string, fn: () => Promise<unknown>) => {
    setBusy(id);
    setErrors((e) => ({ ...e, [id]: '' }));
    try {
      await fn();
      await props.onChanged();
    } catch (err) {
      setErrors((e) => ({ ...e, [id]: messageOf(err) }));
    } finally {
      setBusy(undefined);
    }
  };

  const approve = (id: string) =>
    run(id, async () => {
      try {
        await api.approve(id);
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && err.extra.replaces) return setReplacing(err.extra.replaces);
        throw err;
      }
    });

  const confirmReplace = async () => {
    if (!replacing) return;
    const id = replacing.replacement.registrationId;
    setReplacing(undefined);
    await run(id, () => api.approve(id, true));
  };

  const decide = async () => {
    if (!deciding) return;
    const { kind, reg } = deciding;
    setDeciding(undefined);
    await run(reg.id, () => (kind === 'reject' ? api.reject(reg.id, { reason: reason.trim() || undefined }) : api.revoke(reg.id, { reason: reason.trim() || undefined })));
    setReason('');
  };

  return (
    <div className="table-scroll">
      <table className="table registrations-table" data-testid={`registrations-${props.kind}`}>
        <thead>
          <tr>
            <th>Slug</th>
            <th>Name</th>
            <th>Agent URL</th>
            <th>{props.kind === 'pending' ? 'From' : 'Decided'}</th>
            <th>{props.kind === 'pending' ? 'Requested' : 'Status'}</th>
            <th className="actions-col">{props.kind === 'decided' ? '' : 'Actions'}</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr key={r.id} data-slug={r.slug}>
              <td data-label="Slug" className="mono strong">
                {r.instanceId && props.kind === 'approved' ? <a {...linkProps(`/instances/${r.instanceId}`)}>{r.slug}</a> : r.slug}
              </td>
              <td data-label="Name">{r.name}</td>
              <td data-label="Agent URL" className="mono wrap">
                {r.agentUrl}
                {props.kind === 'pending' && r.keyFingerprint256 && (
                  <div className="muted key-fingerprint" title="sha256 of the agent's key: the agent logged it when it registered">
                    key {r.keyFingerprint256}
                  </div>
                )}
              </td>
              <td data-label={props.kind === 'pending' ? 'From' : 'Decided'}>
                {props.kind === 'pending' ? (
                  <span className="mono">{r.clientAddress ?? '–'}</span>
                ) : (
                  <span>
                    {r.status === 'revoked' ? `revoked by ${r.revokedBy ?? '–'} ${when(r.revokedAt)}` : `by ${r.decidedBy ?? '–'} ${when(r.decidedAt)}`}
                    {r.reason ? ` (${r.reason})` : ''}
                  </span>
                )}
              </td>
              <td data-label={props.kind === 'pending' ? 'Requested' : 'Status'}>
                {props.kind === 'pending' ? when(r.createdAt) : <Badge status={r.status} />}
              </td>
              <td data-label="Actions" className="actions-col">
                <div className="row-actions">
                  {isAdmin && props.kind === 'pending' && (
                    <>
                      <button type="button" className="primary" disabled={busy === r.id} onClick={() => approve(r.id)}>
                        Approve
                      </button>
                      <button type="button" disabled={busy === r.id} onClick={() => setDeciding({ kind: 'reject', reg: r })}>
                        Reject
                      </button>
                    </>
                  )}
                  {isAdmin && props.kind === 'approved' && (
                    <button type="button" className="danger" disabled={busy === r.id} onClick={() => setDeciding({ kind: 'revoke', reg: r })}>
                      Revoke
                    </button>
                  )}
                </div>
                <ErrorNote error={errors[r.id]} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {replacing && (
        <Modal
          title={`Approving re-points ${replacing.slug}`}
          onClose={() => setReplacing(undefined)}
          footer={
            <>
              <button type="button" onClick={() => setReplacing(undefined)}>
                Keep the current one
              </button>
              <button type="button" className="danger" onClick={confirmReplace} data-testid="confirm-replace">
                Replace it
              </button>
            </>
          }
        >
          <p>
            {replacing.current.instance
              ? `The instance ${replacing.slug} (${replacing.current.instance.name}) exists already${replacing.current.instance.isRemote ? '' : ' and runs on the control-plane host'}.`
              : `${replacing.slug} has an approved agent.`}{' '}
            Approving sends every later upgrade of it to the new agent instead. Compare the key fingerprint with what the agent logged on its host
            before you replace anything.
          </p>
          <table className="table replace-table" data-testid="replacement">
            <thead>
              <tr>
                <th />
                <th>Now</th>
                <th>After approval</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <th scope="row">Agent URL</th>
                <td className="mono wrap" data-testid="replace-old-url">
                  {replacing.current.agent?.agentUrl ?? replacing.current.instance?.agentUrl ?? 'none (run locally)'}
                </td>
                <td className="mono wrap" data-testid="replace-new-url">
                  {replacing.replacement.agentUrl}
                </td>
              </tr>
              <tr>
                <th scope="row">Agent key fingerprint</th>
                <td className="mono wrap" data-testid="replace-old-fingerprint">
                  {replacing.current.agent?.keyFingerprint256 ?? 'none'}
                </td>
                <td className="mono wrap" data-testid="replace-new-fingerprint">
                  {replacing.replacement.keyFingerprint256 ?? 'unknown'}
                </td>
              </tr>
              {replacing.current.agent?.certFingerprint256 && (
                <tr>
                  <th scope="row">Certificate</th>
                  <td className="mono wrap">{replacing.current.agent.certFingerprint256}</td>
                  <td>a new one, revoking the current one</td>
                </tr>
              )}
            </tbody>
          </table>
        </Modal>
      )}
      {deciding && (
        <Modal
          title={`${deciding.kind === 'reject' ? 'Reject the registration of' : 'Revoke the agent of'} ${deciding.reg.slug}?`}
          onClose={() => setDeciding(undefined)}
          footer={
            <>
              <button type="button" onClick={() => setDeciding(undefined)}>
                Keep it
              </button>
              <button type="button" className="danger" onClick={decide}>
                {deciding.kind === 'reject' ? 'Reject' : 'Revoke'}
              </button>
            </>
          }
        >
          <p>
            {deciding.kind === 'reject'
              ? 'The agent is told it was rejected and stops polling.'
              : "The control plane stops calling this agent at once, and refuses its calls; its instance can't be upgraded until a new agent is approved."}
          </p>
          <Field label="Reason (optional)" htmlFor="decision-reason">
            <input id="decision-reason" value={reason} onChange={(e) => setReason(e.target.value)} data-autofocus />
          </Field>
        </Modal>
      )}
    </div>
  );
}
