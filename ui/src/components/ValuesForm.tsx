/**
 * A form generated from a release's values.schema.json: one input per value
 * (nested objects as fieldsets), secrets as write-only fields that show only
 * whether they are set. Fields are keyed by their JSON path ("/queue/name"),
 * the path the API names in its errors, so each error lands beside its field.
 * The API (ajv) decides what is valid; the form only shapes the input.
 */
import { Badge, Field, fieldError } from './bits.js';

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  writeOnly?: boolean;
  'x-drydock-secret'?: boolean;
}

/** What the operator typed, by JSON path; blank means "the schema's default". */
export type ValuesText = Record<string, string>;
/** New secret values by name; null unsets a stored secret. */
export type SecretsDraft = Record<string, string | null>;

export const isSecret = (s: JsonSchema) => s['x-drydock-secret'] === true || s.writeOnly === true;
const typeOf = (s: JsonSchema) => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type);
const isGroup = (s: JsonSchema) => typeOf(s) === 'object' && !!s.properties;
const asText = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** The stored values as the form's text, path by path. */
export function textFromValues(schema: JsonSchema | null | undefined, values: Record<string, unknown>, base = ''): ValuesText {
  const out: ValuesText = {};
  for (const [key, s] of Object.entries(schema?.properties ?? {})) {
    if (isSecret(s)) continue;
    const v = values[key];
    if (isGroup(s)) Object.assign(out, textFromValues(s, (v && typeof v === 'object' ? v : {}) as Record<string, unknown>, `${base}/${key}`));
    else if (v !== undefined) out[`${base}/${key}`] = asText(v);
  }
  return out;
}

/** One typed input: numbers and booleans as such, JSON for lists; anything unparsable goes as typed so the API names the rule it breaks. */
function parse(s: JsonSchema, text: string): unknown {
  const t = typeOf(s);
  if (t === 'integer' || t === 'number') return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text.trim()) ? Number(text.trim()) : text;
  if (t === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  if (t === 'array' || (t === 'object' && !s.properties)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  if (s.enum && !s.enum.includes(text)) {
    const match = s.enum.find((e) => asText(e) === text);
    return match ?? text;
  }
  return text;
}

/** The values to store: only what was typed (blank keeps the default), nested as the schema nests them. */
export function valuesFromText(schema: JsonSchema | null | undefined, text: ValuesText, base = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(schema?.properties ?? {})) {
    if (isSecret(s)) continue;
    const path = `${base}/${key}`;
    if (isGroup(s)) {
      const inner = valuesFromText(s, text, path);
      if (Object.keys(inner).length > 0) out[key] = inner;
    } else if ((text[path] ?? '') !== '') out[key] = parse(s, text[path]!);
  }
  return out;
}

/** Only the secrets the operator typed or unset: the others keep their stored state. */
export function changedSecrets(draft: SecretsDraft): SecretsDraft {
  return Object.fromEntries(Object.entries(draft).filter(([, v]) => v === null || v !== ''));
}

const idOf = (prefix: string, path: string) => `${prefix}${path.replaceAll('/', '-')}`;

export function ValuesFields(props: {
  schema: JsonSchema;
  text: ValuesText;
  onText: (t: ValuesText) => void;
  secrets: SecretsDraft;
  onSecrets: (s: SecretsDraft) => void;
  /** set/unset per secret name, as the API reports it (absent for a new instance). */
  secretState?: Record<string, 'set' | 'unset'>;
  /** A registered tenant keeps its secrets in its own .env: drydock stores none. */
  secretsElsewhere?: boolean;
  error?: unknown;
  idPrefix: string;
}) {
  const entries = Object.entries(props.schema.properties ?? {});
  if (entries.length === 0) return <p className="muted">This release takes no values.</p>;
  return <div className="values-form">{entries.map(([key, s]) => <Node key={key} {...props} name={key} s={s} path={`/${key}`} required={props.schema.required ?? []} />)}</div>;
}

function Node(props: Parameters<typeof ValuesFields>[0] & { name: string; s: JsonSchema; path: string; required: string[] }) {
  const { s, path, name } = props;
  const id = idOf(props.idPrefix, path);
  const error = fieldError(props.error, path);
  const label = `${s.title ?? name}${props.required.includes(name) ? ' (required)' : ''}`;

  if (isSecret(s)) {
    const state = props.secretState?.[name];
    const draft = props.secrets[name];
    const status = draft === null ? 'unset on save' : draft ? 'replaced on save' : state;
    return (
      <Field
        label={label}
        htmlFor={id}
        error={error}
        hint={props.secretsElsewhere ? "A registered tenant keeps this secret in its own .env; drydock stores none." : (s.description ?? 'A secret: stored encrypted, never shown again.')}
      >
        <div className="secret-field">
          <input
            id={id}
            type="password"
            className="mono"
            autoComplete="new-password"
            value={draft ?? ''}
            disabled={props.secretsElsewhere}
            placeholder={state === 'set' ? 'set; type a new value to replace it' : 'unset; type a value to set it'}
            onChange={(e) => props.onSecrets({ ...props.secrets, [name]: e.target.value })}
            aria-invalid={!!error}
            aria-describedby={error ? `${id}-error` : undefined}
          />
          {status && <Badge status={status} tone={status === 'set' || status === 'replaced on save' ? 'ok' : 'warn'} label={status} />}
          {state === 'set' && draft !== null && !props.secretsElsewhere && (
            <button type="button" className="link-button" onClick={() => props.onSecrets({ ...props.secrets, [name]: null })}>
              Unset
            </button>
          )}
        </div>
      </Field>
    );
  }

  if (isGroup(s)) {
    return (
      <fieldset className="values-group">
        <legend>{s.title ?? name}</legend>
        {s.description && <p className="field-hint">{s.description}</p>}
        {error && (
          <p className="error-note" role="alert" id={`${id}-error`}>
            {error}
          </p>
        )}
        {Object.entries(s.properties ?? {}).map(([key, child]) => (
          <Node key={key} {...props} name={key} s={child} path={`${path}/${key}`} required={s.required ?? []} />
        ))}
      </fieldset>
    );
  }

  const value = props.text[path] ?? '';
  const set = (v: string) => props.onText({ ...props.text, [path]: v });
  const def = s.default === undefined ? undefined : asText(s.default);
  const hint = [s.description, def !== undefined ? `Blank: the default, ${def === '' ? '(empty)' : def}.` : undefined].filter(Boolean).join(' ');
  const t = typeOf(s);
  const common = { id, 'aria-invalid': !!error, 'aria-describedby': error ? `${id}-error` : undefined };
  let input;
  if (s.enum || t === 'boolean') {
    const options = s.enum ? s.enum.map(asText) : ['true', 'false'];
    input = (
      <select {...common} value={value} onChange={(e) => set(e.target.value)}>
        <option value="">{def !== undefined ? `default (${def})` : '(not set)'}</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  } else if (t === 'array' || t === 'object') {
    input = <textarea {...common} className="mono" rows={3} value={value} placeholder={def} onChange={(e) => set(e.target.value)} />;
  } else {
    input = (
      <input
        {...common}
        className={t === 'string' ? undefined : 'mono'}
        inputMode={t === 'integer' ? 'numeric' : t === 'number' ? 'decimal' : undefined}
        value={value}
        placeholder={def}
        onChange={(e) => set(e.target.value)}
      />
    );
  }
  return (
    <Field label={label} htmlFor={id} error={error} hint={hint || undefined}>
      {input}
    </Field>
  );
}
