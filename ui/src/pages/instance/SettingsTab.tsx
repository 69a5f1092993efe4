/** The Settings tab: the image tag, name / core services / labels, the values form and the instance's facts. */
import { useState, type FormEvent } from 'react';
import type { InstanceView } from '../../../../api/responses.js';
import { api } from '../../api.js';
import { ErrorNote, Field, fieldError, generalError } from '../../components/bits.js';
import { changedSecrets, textFromValues, ValuesFields, valuesFromText, type JsonSchema, type SecretsDraft, type ValuesText } from '../../components/ValuesForm.js';
import { when } from '../../format.js';
import { useLoad, useSubmit } from '../../hooks.js';
import { useCan } from '../../role.js';
import { navigate } from '../../router.js';

export function SettingsTab(props: { instance: InstanceView; onChanged: () => Promise<void> }) {
  const i = props.instance;
  const [tag, setTag] = useState(i.imageTag ?? '');
  const { busy, error, submit } = useSubmit();
  const [saved, setSaved] = useState<string>();
  const canOperate = useCan('operator');

  const save = (imageTag: string | null) => {
    setSaved(undefined);
    return submit(async () => {
      const updated = await api.patchInstance(i.id, { imageTag });
      setTag(updated.imageTag ?? '');
      setSaved(updated.imageTag ? `Saved: the instance now uses ${updated.imageTag}.` : `Saved: the instance follows the default tag (${updated.effectiveImageTag}).`);
      await props.onChanged();
    });
  };

  return (
    <div className="settings">
      <form
        className="card"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void save(tag.trim() === '' ? null : tag.trim());
        }}
      >
        <h2>Image tag</h2>
        <p className="muted">The tag the next upgrade uses. Empty: follow the control plane's default (IMAGE_TAG).</p>
        <Field label="Image tag of this instance" htmlFor="settings-tag" error={fieldError(error, 'imageTag')}>
          <input id="settings-tag" className="mono" value={tag} placeholder={`default (${i.effectiveImageTag})`} onChange={(e) => setTag(e.target.value)} />
        </Field>
        <ErrorNote error={generalError(error, ['imageTag'])} />
        {saved && <p className="ok-note">{saved}</p>}
        {canOperate && (
          <div className="form-actions">
            <button type="submit" className="primary" disabled={busy}>
              Save
            </button>
            <button type="button" disabled={busy || i.imageTag === null} onClick={() => void save(null)}>
              Use the default
            </button>
          </div>
        )}
      </form>
      <EditInstanceCard instance={i} onChanged={props.onChanged} />
      <ValuesCard instance={i} />
      <div className="card">
        <h2>Instance</h2>
        <dl className="facts-list">
          <dt>Compose project</dt>
          <dd className="mono">{i.composeProjectName}</dd>
          <dt>Compose directory</dt>
          <dd className="mono">{i.composeDir}</dd>
          <dt>Release</dt>
          <dd className="mono">{i.effectiveRelease ?? '–'}</dd>
          <dt>Core services</dt>
          <dd className="mono">{i.coreServices.join(', ')}</dd>
          <dt>Reached</dt>
          <dd>{i.isRemote ? (i.agentUrl ? <span className="mono">{i.agentUrl}</span> : 'remote, no approved agent') : 'locally, by the control plane'}</dd>
          <dt>Added</dt>
          <dd>{when(i.createdAt)}</dd>
        </dl>
        <p>
          <button type="button" className="link-button" onClick={() => navigate(`/instances/${i.id}`)}>
            Back to the updates
          </button>
        </p>
      </div>
    </div>
  );
}

/** The instance's values, as a form generated from its release's values.schema.json. */
function ValuesCard(props: { instance: InstanceView }) {
  const i = props.instance;
  const canOperate = useCan('operator');
  const loaded = useLoad(() => api.values(i.id), [i.id]);
  const [text, setText] = useState<ValuesText>();
  const [secrets, setSecrets] = useState<SecretsDraft>({});
  const { busy, error, submit } = useSubmit();
  const [saved, setSaved] = useState<string>();
  const v = loaded.data;
  const schema = v?.schema as JsonSchema | null | undefined;
  const shownText = text ?? (v ? textFromValues(schema, v.values) : {});

  const save = (e: FormEvent) => {
    e.preventDefault();
    setSaved(undefined);
    void submit(async () => {
      const changed = changedSecrets(secrets);
      const answer = await api.putValues(i.id, { values: valuesFromText(schema, shownText), ...(Object.keys(changed).length > 0 ? { secrets: changed } : {}) });
      setText(textFromValues(schema, answer.values));
      setSecrets({});
      setSaved(`Saved. The next upgrade renders release ${answer.release ?? ''} with these values.`);
      await loaded.reload();
    });
  };

  const fields = (schema?.properties ? Object.keys(schema.properties) : []).map((k) => `/${k}`);
  const shown = (f: string) => f.startsWith('/') && fields.some((p) => f === p || f.startsWith(`${p}/`));
  const general = error && (error as { fields?: { field: string }[] }).fields?.every((f) => shown(f.field)) ? undefined : error;

  return (
    <form className="card" noValidate onSubmit={save} data-testid="values-card">
      <h2>Values</h2>
      {loaded.error && <ErrorNote error={loaded.error} />}
      {!v ? (
        !loaded.error && <p className="muted">Loading…</p>
      ) : !schema ? (
        <p className="muted">The release of this instance has no values.schema.json: it takes no values.</p>
      ) : (
        <>
          <p className="muted">
            Checked against the values schema of release <span className="mono">{v.release}</span>. Secrets are stored encrypted and never shown again.
          </p>
          <ValuesFields
            schema={schema}
            text={shownText}
            onText={setText}
            secrets={secrets}
            onSecrets={setSecrets}
            secretState={v.secrets}
            secretsElsewhere={i.isRegistered}
            error={error}
            idPrefix="values"
          />
          <ErrorNote error={general ? generalError(general, []) : undefined} />
          {saved && <p className="ok-note">{saved}</p>}
          {canOperate && (
            <div className="form-actions">
              <button type="submit" className="primary" disabled={busy}>
                {busy ? 'Storing…' : 'Store values'}
              </button>
            </div>
          )}
        </>
      )}
    </form>
  );
}

/** Name, core services and labels; the slug, directory and agent name the tenant and stay as created. */
function EditInstanceCard(props: { instance: InstanceView; onChanged: () => Promise<void> }) {
  const i = props.instance;
  const canOperate = useCan('operator');
  const [name, setName] = useState(i.name);
  const [core, setCore] = useState(i.coreServices.join(', '));
  const [labels, setLabels] = useState(i.labels.join(', '));
  const { busy, error, submit } = useSubmit();
  const [saved, setSaved] = useState<string>();
  const list = (t: string) => t.split(/[\s,]+/).filter(Boolean);
  const sub = (field: string) =>
    fieldError(error, field) ??
    ((error as { fields?: { field: string; message: string }[] } | undefined)?.fields ?? [])
      .filter((f) => f.field.startsWith(`${field}.`))
      .map((f) => f.message)
      .join('; ') ??
    undefined;

  const save = (e: FormEvent) => {
    e.preventDefault();
    setSaved(undefined);
    void submit(async () => {
      const updated = await api.patchInstance(i.id, { name: name.trim(), coreServices: list(core), labels: list(labels) });
      setSaved(`Saved: ${updated.name}, core services ${updated.coreServices.join(', ')}.`);
      await props.onChanged();
    });
  };

  return (
    <form className="card" noValidate onSubmit={save} data-testid="edit-instance">
      <h2>Name and services</h2>
      <Field label="Name" htmlFor="edit-name" error={sub('name') || undefined}>
        <input id="edit-name" value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field label="Core services" htmlFor="edit-core" error={sub('coreServices') || undefined} hint="What a Quick Upgrade recreates.">
        <input id="edit-core" className="mono" value={core} onChange={(e) => setCore(e.target.value)} />
      </Field>
      <Field label="Labels" htmlFor="edit-labels" error={sub('labels') || undefined} hint="Rollouts can target a label.">
        <input id="edit-labels" className="mono" value={labels} onChange={(e) => setLabels(e.target.value)} />
      </Field>
      <ErrorNote error={generalError(error, ['name', 'coreServices', 'labels', ...((error as { fields?: { field: string }[] } | undefined)?.fields ?? []).map((f) => f.field).filter((f) => /^(coreServices|labels)\./.test(f))])} />
      {saved && <p className="ok-note">{saved}</p>}
      {canOperate && (
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Updating…' : 'Update instance'}
          </button>
        </div>
      )}
    </form>
  );
}
