/**
 * The release catalog: every published release (immutable), one release's
 * notes, files and values schema, the diff between two releases (the same
 * masked diff view as a preview; an image-only one says Quick Upgrade fits),
 * and publishing a bundle uploaded as a .tar.gz.
 */
import { useRef, useState, type FormEvent } from 'react';
import type { ReleaseDiff } from '../../../api/responses.js';
import { api, messageOf } from '../api.js';
import { Badge, Empty, ErrorNote } from '../components/bits.js';
import { DiffView } from '../components/DiffView.js';
import { when } from '../format.js';
import { useLoad } from '../hooks.js';
import { useCan } from '../role.js';
import { linkProps, navigate, useLocation } from '../router.js';

export function ReleasesPage() {
  // Publishing is an admin's (api/roles.ts); others see the catalog only.
  const canPublish = useCan('admin');
  const { search } = useLocation();
  const releases = useLoad(() => api.releases(), []);
  const list = releases.data ?? [];
  const selected = search.get('version') ?? undefined;

  return (
    <section>
      <div className="page-head">
        <h1>Releases</h1>
      </div>
      <p className="muted">
        A release is a bundle: release.json, the templates and their manifest, and values.schema.json. A published version never changes; publish a new
        version instead.
      </p>
      <ErrorNote error={releases.error} />
      {releases.loading && !releases.data ? (
        <p className="muted">Loading…</p>
      ) : list.length === 0 ? (
        <Empty>No release yet. Upload a bundle below.</Empty>
      ) : (
        <div className="table-scroll">
          <table className="table releases-table" data-testid="releases-table">
            <thead>
              <tr>
                <th>Version</th>
                <th>Name</th>
                <th>Published</th>
                <th>From</th>
                <th>Content</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.version} data-version={r.version} className={r.version === selected ? 'selected' : undefined}>
                  <td data-label="Version">
                    <a className="mono strong" {...linkProps(`/releases?version=${encodeURIComponent(r.version)}`)}>
                      {r.version}
                    </a>{' '}
                    {r.isDefault && (
                      <span className="chip" title="New instances run it unless they name another release">
                        default
                      </span>
                    )}
                  </td>
                  <td data-label="Name">{r.name}</td>
                  <td data-label="Published">{r.createdAt ? when(r.createdAt) : '–'}</td>
                  <td data-label="From">{r.source ?? '–'}</td>
                  <td data-label="Content" className="mono" title={r.contentHash}>
                    {r.contentHash.slice(0, 12)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {selected && <ReleaseCard key={selected} version={selected} />}
      {list.length > 1 && <CompareCard versions={list.map((r) => r.version)} initialFrom={search.get('from')} initialTo={search.get('to')} />}
      {canPublish && (
        <UploadCard onPublished={(version) => {
          void releases.reload();
          navigate(`/releases?version=${encodeURIComponent(version)}`);
        }} />
      )}
    </section>
  );
}

function ReleaseCard(props: { version: string }) {
  const r = useLoad(() => api.release(props.version), [props.version]);
  const d = r.data;
  const [open, setOpen] = useState<string>();
  if (!d) {
    return <div className="card">{r.error ? <ErrorNote error={r.error} /> : <p className="muted">Loading…</p>}</div>;
  }
  const managed = new Map(d.managed.map((m) => [m.template, m]));
  return (
    <article className="card release-card" data-testid="release-card" aria-labelledby="release-title">
      <h2 id="release-title">
        <span className="mono">{d.version}</span> <span className="muted">{d.name}</span>
      </h2>
      {d.notes && <p className="release-notes" data-testid="release-notes">{d.notes}</p>}
      <dl className="facts-list">
        <dt>Image tag</dt>
        <dd className="mono">{d.release.imageTag ?? "the control plane's default"}</dd>
        <dt>Core services</dt>
        <dd className="mono">{d.release.coreServices.join(', ') || '–'}</dd>
        <dt>Orphans</dt>
        <dd>{d.release.allowRemoveOrphans ? 'removed on upgrade (--remove-orphans)' : 'kept'}</dd>
        <dt>Secrets</dt>
        <dd className="mono">{d.secrets.join(', ') || 'none'}</dd>
        <dt>Content hash</dt>
        <dd className="mono break">{d.contentHash}</dd>
      </dl>
      <h3>Files</h3>
      <ul className="bundle-files" data-testid="release-files">
        {Object.keys(d.files)
          .sort()
          .map((name) => {
            const m = managed.get(name);
            return (
              <li key={name} data-file={name}>
                <button type="button" className="link-button mono" aria-expanded={open === name} onClick={() => setOpen(open === name ? undefined : name)}>
                  {name}
                </button>{' '}
                {m && <span className="muted">→ writes {m.path}</span>}
                {open === name && <pre className="file-content">{d.files[name]}</pre>}
              </li>
            );
          })}
      </ul>
      <h3>Values schema</h3>
      <pre className="file-content" data-testid="release-schema">{JSON.stringify(d.schema, null, 2)}</pre>
    </article>
  );
}

function CompareCard(props: { versions: string[]; initialFrom: string | null; initialTo: string | null }) {
  const { versions } = props;
  const [from, setFrom] = useState(props.initialFrom ?? versions[1] ?? versions[0]!);
  const [to, setTo] = useState(props.initialTo ?? versions[0]!);
  const [diff, setDiff] = useState<ReleaseDiff>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const compare = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setDiff(await api.releaseDiff(from, to));
    } catch (err) {
      setDiff(undefined);
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const changed = diff?.files.filter((f) => f.status !== 'unchanged') ?? [];

  return (
    <section className="card" data-testid="release-compare" aria-labelledby="compare-title">
      <h2 id="compare-title">Compare two releases</h2>
      <form className="compare-form" onSubmit={compare} noValidate>
        <div className="field">
          <label htmlFor="compare-from">From</label>
          <select id="compare-from" value={from} onChange={(e) => setFrom(e.target.value)}>
            {versions.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="compare-to">To</label>
          <select id="compare-to" value={to} onChange={(e) => setTo(e.target.value)}>
            {versions.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={busy}>
          {busy ? 'Comparing…' : 'Compare'}
        </button>
      </form>
      <ErrorNote error={error} />
      {diff && (
        <div className="preview" data-testid="release-diff" data-image-only={diff.imageOnly}>
          {diff.imageOnly ? (
            <div className="alert alert-info" data-testid="image-only">
              <strong>Image-only:</strong> {diff.to} changes only image references (tag {diff.imageTag.from} → {diff.imageTag.to}). Quick Upgrade fits: it
              pulls the new images and recreates the core services, no file is rewritten.
            </div>
          ) : (
            <p className="muted">
              {diff.to} changes {changed.length === 0 ? 'no managed file' : `${changed.length} managed file${changed.length === 1 ? '' : 's'}`}
              {diff.images.length > 0 ? ` and ${diff.images.length} image${diff.images.length === 1 ? '' : 's'}` : ''}: use Upgrade to Release (or Upgrade
              Now), not Quick Upgrade.
            </p>
          )}
          {diff.images.length > 0 && (
            <div className="table-scroll">
              <table className="table" data-testid="release-images">
                <thead>
                  <tr>
                    <th>Service</th>
                    <th>{diff.from}</th>
                    <th>{diff.to}</th>
                  </tr>
                </thead>
                <tbody>
                  {diff.images.map((i) => (
                    <tr key={i.service}>
                      <td data-label="Service" className="mono">
                        {i.service}
                      </td>
                      <td data-label={diff.from} className="mono break">
                        {i.from ?? '–'}
                      </td>
                      <td data-label={diff.to} className="mono break">
                        {i.to ?? '–'}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <ul className="files">
            {diff.files.map((f) => (
              <li key={f.path} className="file" data-path={f.path} data-status={f.status}>
                <div className="file-head">
                  <Badge status={f.status} tone={f.status === 'removed' ? 'bad' : undefined} />
                  <span className="mono file-path">{f.path}</span>
                  {f.truncated && <span className="chip chip-warn">diff truncated</span>}
                </div>
                {f.diff && <DiffView diff={f.diff} truncated={f.truncated} />}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

function UploadCard(props: { onPublished: (version: string) => void }) {
  const file = useRef<HTMLInputElement>(null);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const upload = async (e: FormEvent) => {
    e.preventDefault();
    const f = file.current?.files?.[0];
    setError(undefined);
    setDone(undefined);
    if (!f) {
      setError('Choose a .tar.gz of a bundle directory first.');
      return;
    }
    setBusy(true);
    try {
      const r = await api.publishRelease(f);
      setDone(r.outcome === 'created' ? `Published ${r.version}.` : `${r.version} is already published with this content: nothing changed.`);
      props.onPublished(r.version);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={upload} noValidate data-testid="release-upload">
      <h2>Publish a release</h2>
      <p className="muted">
        A bundle directory as a .tar.gz (<code>tar -czf bundle.tar.gz -C my-release .</code>). It is checked whole before anything is stored: schema,
        manifest rules, templates, a render with the defaults.
      </p>
      <div className="field">
        <label htmlFor="release-file">Bundle (.tar.gz)</label>
        <input id="release-file" ref={file} type="file" accept=".tar.gz,.tgz,application/gzip" />
      </div>
      <ErrorNote error={error} />
      {done && <p className="ok-note">{done}</p>}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Publishing…' : 'Publish'}
        </button>
      </div>
    </form>
  );
}
