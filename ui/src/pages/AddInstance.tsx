/**
 * Add an instance: a compose directory this control plane reaches itself, or
 * (through the Agents page) a host with an agent. The release is picked from
 * the catalog; its values schema shapes the values form and its core
 * services are what a Quick Upgrade recreates.
 */
import { useEffect, useState, type FormEvent } from 'react';
import type { ApiError } from '../api.js';
import { api } from '../api.js';
import { ErrorNote, Field, fieldError } from '../components/bits.js';
import { Modal } from '../components/Modal.js';
import { changedSecrets, ValuesFields, valuesFromText, type JsonSchema, type SecretsDraft, type ValuesText } from '../components/ValuesForm.js';
import { useLoad } from '../hooks.js';
import { linkProps } from '../router.js';

const FIELDS = ['slug', 'name', 'composeDir', 'composeProjectName', 'coreServices', 'imageTag', 'release'];

export function AddInstanceModal(props: { onClose: () => void; onCreated: (id: string) => void }) {
  const releases = useLoad(() => api.releases(), []);
  const [where, setWhere] = useState<'local' | 'agent'>('local');
  const [slug, setSlug] = useState('');
  const [name, setName] = useState('');
  const [composeDir, setComposeDir] = useState('');
  const [project, setProject] = useState('');
  const [tag, setImageTag] = useState<string>();
  const [release, setRelease] = useState<string>();
  const [core, setCore] = useState<string>();
  const [text, setText] = useState<ValuesText>({});
  const [secrets, setSecrets] = useState<SecretsDraft>({});
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const version = release ?? releases.data?.find((r) => r.isDefault)?.version ?? releases.data?.[0]?.version;
  const detail = useLoad(() => (version ? api.release(version) : Promise.resolve(undefined)), [version]);
  const schema = detail.data?.schema as JsonSchema | undefined;
  // The release's core services, until the operator types others.
  const coreText = core ?? detail.data?.release.coreServices.join(', ') ?? '';
  // The release's tag too: an instance without a tag of its own follows the control plane's IMAGE_TAG.
  const imageTag = tag ?? detail.data?.release.imageTag ?? '';
  useEffect(() => {
    setText({});
    setSecrets({});
  }, [version]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const given = changedSecrets(secrets) as Record<string, string>;
      const values = valuesFromText(schema, text);
      const created = await api.createInstance({
        slug: slug.trim(),
        name: name.trim(),
        composeDir: composeDir.trim(),
        ...(project.trim() ? { composeProjectName: project.trim() } : {}),
        ...(coreText.trim() ? { coreServices: coreText.split(/[\s,]+/).filter(Boolean) } : {}),
        ...(imageTag.trim() ? { imageTag: imageTag.trim() } : {}),
        ...(version ? { release: version } : {}),
        ...(schema && Object.keys(values).length > 0 ? { values } : {}),
        ...(Object.keys(given).length > 0 ? { secrets: given } : {}),
      });
      props.onCreated(created.id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const err = (f: string) => {
    const own = fieldError(error, f);
    if (own) return own;
    // coreServices.2: the third service named
    const sub = (error as ApiError | undefined)?.fields?.filter((x) => x.field.startsWith(`${f}.`)) ?? [];
    return sub.length > 0 ? sub.map((x) => x.message).join('; ') : undefined;
  };
  const shown = (f: string) => FIELDS.some((k) => f === k || f.startsWith(`${k}.`)) || (f.startsWith('/') && !!schema?.properties?.[f.split('/')[1]!]);
  const fields = (error as ApiError | undefined)?.fields ?? [];
  const general = error && !(fields.length > 0 && fields.every((f) => shown(f.field))) ? (error as Error).message : undefined;
  const input = (id: string, field: string, value: string, set: (v: string) => void, extra: Record<string, unknown> = {}) => (
    <input id={id} value={value} onChange={(e) => set(e.target.value)} aria-invalid={!!err(field)} aria-describedby={err(field) ? `${id}-error` : undefined} {...extra} />
  );

  return (
    <Modal title="Add an instance" onClose={props.onClose} wide testId="add-instance">
      <form className="add-instance" onSubmit={submit} noValidate>
        <div className="segmented" role="radiogroup" aria-label="Where the tenant runs">
          {(
            [
              ['local', 'A compose directory on this host'],
              ['agent', 'A host with an agent'],
            ] as const
          ).map(([k, label]) => (
            <label key={k} className={where === k ? 'on' : undefined}>
              <input type="radio" name="add-where" value={k} checked={where === k} onChange={() => setWhere(k)} /> {label}
            </label>
          ))}
        </div>
        {where === 'agent' ? (
          <div className="alert alert-info" data-testid="add-agent-help">
            A tenant on another host is added by its agent: create an invite on the <a {...linkProps('/agents')}>Agents</a> page (name the slug there),
            run <code>npm run agent</code> on that host with the invite code, and approve its registration. The instance then appears here; pick its
            release and values in its Settings.
          </div>
        ) : (
          <>
            <div className="form-grid">
              <Field label="Slug" htmlFor="add-slug" error={err('slug')} hint="Lowercase letters, digits and dashes; names the instance in URLs and workflows.">
                {input('add-slug', 'slug', slug, setSlug, { className: 'mono', 'data-autofocus': true, autoComplete: 'off' })}
              </Field>
              <Field label="Name" htmlFor="add-name" error={err('name')}>
                {input('add-name', 'name', name, setName)}
              </Field>
              <Field label="Compose directory" htmlFor="add-dir" error={err('composeDir')} hint="Absolute path of the tenant's directory on this host.">
                {input('add-dir', 'composeDir', composeDir, setComposeDir, { className: 'mono', placeholder: '/srv/tenants/acme' })}
              </Field>
              <Field label="Compose project (optional)" htmlFor="add-project" error={err('composeProjectName')} hint="Blank: the slug.">
                {input('add-project', 'composeProjectName', project, setProject, { className: 'mono', placeholder: slug || undefined })}
              </Field>
              <Field label="Release" htmlFor="add-release" error={err('release') ?? releases.error}>
                <select id="add-release" value={version ?? ''} onChange={(e) => {
                    setRelease(e.target.value);
                    setCore(undefined);
                    setImageTag(undefined);
                  }}>
                  {(releases.data ?? []).map((r) => (
                    <option key={r.version} value={r.version}>
                      {r.version}
                      {r.isDefault ? ' (default)' : ''}
                    </option>
                  ))}
                </select>
              </Field>
              <Field label="Image tag" htmlFor="add-tag" error={err('imageTag')} hint="The release's tag unless changed. Blank: follow the control plane's default (IMAGE_TAG).">
                {input('add-tag', 'imageTag', imageTag, setImageTag, { className: 'mono' })}
              </Field>
              <Field label="Core services" htmlFor="add-core" error={err('coreServices')} hint="What a Quick Upgrade recreates; from the release unless changed.">
                {input('add-core', 'coreServices', coreText, setCore, { className: 'mono' })}
              </Field>
            </div>
            <h3>Values</h3>
            {detail.error && <ErrorNote error={detail.error} />}
            {schema ? (
              <ValuesFields schema={schema} text={text} onText={setText} secrets={secrets} onSecrets={setSecrets} error={error} idPrefix="add-values" />
            ) : (
              !detail.error && <p className="muted">Loading the release's values…</p>
            )}
          </>
        )}
        <ErrorNote error={general} />
        <div className="modal-actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          {where === 'local' && (
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Adding…' : 'Add instance'}
            </button>
          )}
        </div>
      </form>
    </Modal>
  );
}
