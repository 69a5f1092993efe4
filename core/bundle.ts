/**
 * A release bundle: what an operator publishes and drydock renders for each
 * tenant. Pure: a bundle comes in as a map of file name -> text (read from a
 * directory or a .tar.gz by api/releases.ts and templates/load.ts), and every
 * check here names the file and, where it can, the line.
 *
 * Files of a bundle:
 * - release.json       name, version, imageTag, images, coreServices, frontDoor, allowRemoveOrphans, notes
 * - manifest.json      the managed files and their templates (core/render.ts parseManifest)
 * - the templates the manifest names (eta)
 * - values.schema.json a JSON Schema of the per-instance values; secrets marked
 *                      `"x-drydock-secret": true` or `"writeOnly": true`
 * Nothing else of the directory is part of the bundle (templates/ also holds
 * its loader and tests).
 */
import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Eta } from 'eta/core';
import { parseManifest, type TemplateSet } from './render.js';
import { IMAGE_TAG_RE, SERVICE_NAME_RE } from './validation.js';

export const RELEASE_FILE = 'release.json';
export const MANIFEST_FILE = 'manifest.json';
export const SCHEMA_FILE = 'values.schema.json';

export interface FrontDoorSpec {
  service: string;
  port: number;
  path: string;
}

export interface ReleaseInfo {
  name: string;
  version: string;
  /** The tag app images take unless the instance or the request names another; absent: the control plane's IMAGE_TAG. */
  imageTag?: string;
  /** Service -> image reference (an eta template over the render context): the images the release sets. */
  images: Record<string, string>;
  /** What a Quick Upgrade recreates. */
  coreServices: string[];
  frontDoor?: FrontDoorSpec;
  /** `up -d --remove-orphans` only when true. */
  allowRemoveOrphans: boolean;
  notes: string;
}

export interface Bundle {
  release: ReleaseInfo;
  templates: TemplateSet;
  /** The values schema as published (with `additionalProperties: false` filled in where it was left out). */
  schema: JsonSchema;
  /** Top-level value names that are secrets. */
  secretKeys: string[];
  /** Secret name -> the `.env` variable that holds it in tenants created before drydock stored secrets. */
  secretEnvNames: Record<string, string>;
  /** Every file of the bundle, by name. */
  files: Record<string, string>;
  /** sha256 over the files: the same content always hashes the same. */
  contentHash: string;
}

export type JsonSchema = Record<string, unknown>;

/** A bundle problem, naming the file and, where it applies, the line. */
export class BundleError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly line?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${problem}`);
    this.name = 'BundleError';
  }
}

const VERSION_RE = '^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$';
const NAME_RE = '^[a-z0-9][a-z0-9._-]{0,62}$';

const RELEASE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'coreServices'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', pattern: NAME_RE },
    version: { type: 'string', pattern: VERSION_RE },
    imageTag: { type: 'string', pattern: IMAGE_TAG_RE.source },
    images: { type: 'object', propertyNames: { pattern: SERVICE_NAME_RE.source }, additionalProperties: { type: 'string', minLength: 1 } },
    coreServices: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: SERVICE_NAME_RE.source } },
    frontDoor: {
      type: 'object',
      additionalProperties: false,
      required: ['service', 'port', 'path'],
      properties: {
        service: { type: 'string', pattern: SERVICE_NAME_RE.source },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        path: { type: 'string', pattern: '^/[\\x21-\\x7e]*$' },
      },
    },
    allowRemoveOrphans: { type: 'boolean' },
    notes: { type: 'string' },
  },
} as const;

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true });
  ajv.addKeyword({ keyword: 'x-drydock-secret', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-drydock-env', schemaType: 'string' });
  return ajv;
}

const validateRelease = newAjv().compile(RELEASE_SCHEMA);

/** 1-based line of a character offset. */
export function lineAt(text: string, offset: number): number {
  return text.slice(0, Math.max(0, offset)).split('\n').length;
}

/** The first line containing `needle`, if any. */
function lineOf(text: string, needle: string): number | undefined {
  const at = text.indexOf(needle);
  return at < 0 ? undefined : lineAt(text, at);
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const pos = /position (\d+)/.exec(message);
    const lineCol = /line (\d+)/.exec(message);
    const line = lineCol ? Number(lineCol[1]) : pos ? lineAt(text, Number(pos[1])) : undefined;
    throw new BundleError(file, `is not valid JSON: ${message.replace(/^JSON\.parse: /, '')}`, line);
  }
}

/** `/a/b must be integer` style messages, the way Helm reports values.schema.json errors. */
export function describeAjvErrors(errors: ErrorObject[] | null | undefined, root = ''): string[] {
  return (errors ?? []).map((e) => {
    const at = `${root}${e.instancePath}` || '/';
    switch (e.keyword) {
      case 'additionalProperties':
        return `${at}: unknown key ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)} (additionalProperties)`;
      case 'required':
        return `${at}: missing required key ${JSON.stringify((e.params as { missingProperty: string }).missingProperty)} (required)`;
      default:
        return `${at}: ${e.message ?? 'is invalid'} (${e.keyword})`;
    }
  });
}

const isSecret = (s: unknown) =>
  typeof s === 'object' && s !== null && ((s as Record<string, unknown>)['x-drydock-secret'] === true || (s as Record<string, unknown>).writeOnly === true);

/** Unknown keys are refused: every object schema with properties and no word on extras gets `additionalProperties: false`. */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' && typeof v === 'object' && v !== null
    ? Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, closeObjects(pv)]))
    : k === 'default' || k === 'enum' || k === 'const' || k === 'examples' ? v : closeObjects(v);
  if ('properties' in out && !('additionalProperties' in out) && !('patternProperties' in out)) out.additionalProperties = false;
  return out;
}

/**
 * Parses and checks a bundle. `render` is called with the release and the
 * schema's defaults to prove the templates render (a bundle whose defaults do
 * not render is refused at publish); it throws a BundleError itself.
 */
export function parseBundle(files: Record<string, string>): Omit<Bundle, 'contentHash' | 'files'> & { files: Record<string, string> } {
  for (const required of [RELEASE_FILE, MANIFEST_FILE, SCHEMA_FILE]) {
    if (!Object.hasOwn(files, required)) throw new BundleError(required, 'is missing from the bundle');
  }
  const releaseText = files[RELEASE_FILE]!;
  const rawRelease = parseJson(RELEASE_FILE, releaseText);
  if (!validateRelease(rawRelease)) {
    const first = validateRelease.errors?.[0];
    const key = first?.instancePath.split('/')[1] ?? (first?.params as { additionalProperty?: string })?.additionalProperty;
    throw new BundleError(RELEASE_FILE, describeAjvErrors(validateRelease.errors).join('; '), key ? lineOf(releaseText, `"${key}"`) : undefined);
  }
  const r = rawRelease as unknown as Record<string, unknown>;
  const release: ReleaseInfo = {
    name: r.name as string,
    version: r.version as string,
    ...(r.imageTag !== undefined ? { imageTag: r.imageTag as string } : {}),
    images: (r.images as Record<string, string> | undefined) ?? {},
    coreServices: r.coreServices as string[],
    ...(r.frontDoor ? { frontDoor: r.frontDoor as FrontDoorSpec } : {}),
    allowRemoveOrphans: (r.allowRemoveOrphans as boolean | undefined) ?? false,
    notes: (r.notes as string | undefined) ?? '',
  };

  const manifestText = files[MANIFEST_FILE]!;
  let manifest;
  try {
    manifest = parseManifest(parseJson(MANIFEST_FILE, manifestText));
  } catch (err) {
    if (err instanceof BundleError) throw err;
    const message = (err as Error).message;
    const quoted = /\("([^"]*)"\)/.exec(message);
    throw new BundleError(MANIFEST_FILE, message.replace(/^template manifest: /, ''), quoted ? lineOf(manifestText, `"${quoted[1]}"`) : undefined);
  }
  const sources: Record<string, string> = {};
  for (const entry of manifest) {
    if (!Object.hasOwn(files, entry.template)) throw new BundleError(entry.template, `is missing (the manifest names it for ${entry.path})`);
    sources[entry.template] = files[entry.template]!;
    checkTemplateCompiles(entry.template, sources[entry.template]!);
  }
  for (const [svc, ref] of Object.entries(release.images)) checkTemplateCompiles(`${RELEASE_FILE} images.${svc}`, ref);

  const schemaText = files[SCHEMA_FILE]!;
  const rawSchema = parseJson(SCHEMA_FILE, schemaText);
  if (typeof rawSchema !== 'object' || rawSchema === null || (rawSchema as JsonSchema).type !== 'object') {
    throw new BundleError(SCHEMA_FILE, 'must be a JSON Schema of "type": "object"', 1);
  }
  const schema = closeObjects(rawSchema) as JsonSchema;
  try {
    newAjv().compile(schema);
  } catch (err) {
    const message = (err as Error).message;
    const key = /keyword "([^"]+)"/.exec(message)?.[1];
    throw new BundleError(SCHEMA_FILE, `is not a valid JSON Schema: ${message}`, key ? lineOf(schemaText, `"${key}"`) : undefined);
  }
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const secretKeys = Object.keys(props).filter((k) => isSecret(props[k]));
  const secretEnvNames: Record<string, string> = {};
  for (const k of secretKeys) {
    const env = props[k]!['x-drydock-env'];
    if (typeof env === 'string') secretEnvNames[k] = env;
    if (props[k]!.default !== undefined) throw new BundleError(SCHEMA_FILE, `secret ${k} must not have a default`, lineOf(schemaText, `"${k}"`));
  }
  const kept: Record<string, string> = {
    [RELEASE_FILE]: releaseText,
    [MANIFEST_FILE]: manifestText,
    [SCHEMA_FILE]: schemaText,
    ...sources,
  };
  return { release, templates: { manifest, sources }, schema, secretKeys, secretEnvNames, files: kept };
}

/** sha256 over the files sorted by name, each length-prefixed. */
export function bundleContentHash(files: Record<string, string>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(files).sort()) {
    const body = Buffer.from(files[name]!, 'utf8');
    h.update(`${Buffer.byteLength(name)}:${name}${body.length}:`);
    h.update(body);
  }
  return h.digest('hex');
}

const compiler = new Eta({ autoEscape: false, autoTrim: false, cache: false, debug: true, useWith: false });

function checkTemplateCompiles(file: string, source: string): void {
  try {
    compiler.compile(source);
  } catch (err) {
    const message = (err as Error).message;
    const line = /line:?\s*(\d+)/i.exec(message)?.[1];
    throw new BundleError(file, `does not compile: ${message.split('\n')[0]}`, line ? Number(line) : undefined);
  }
}

export interface ValuesCheck {
  /** Values with the schema's defaults filled in. */
  values: Record<string, unknown>;
  errors: string[];
}

const validators = new WeakMap<JsonSchema, ValidateFunction>();

function validatorFor(schema: JsonSchema): ValidateFunction {
  let v = validators.get(schema);
  if (!v) {
    v = newAjv().compile(schema);
    validators.set(schema, v);
  }
  return v;
}

/**
 * Checks values (and secrets, merged in, when given) against the schema.
 * `secretsRequired: false` drops secrets from `required` (registered
 * tenants keep their own `.env`, so their secrets are not drydock's to ask
 * for). Error messages name JSON paths and rules, never values.
 */
export function checkValues(
  bundle: Pick<Bundle, 'schema' | 'secretKeys'>,
  values: Record<string, unknown>,
  secrets: Record<string, string> | null,
  secretsRequired = secrets !== null,
): ValuesCheck {
  let schema = bundle.schema;
  if (!secretsRequired && Array.isArray(schema.required)) {
    schema = { ...schema, required: (schema.required as string[]).filter((k) => !bundle.secretKeys.includes(k)) };
  }
  const data: Record<string, unknown> = structuredClone({ ...values, ...(secrets ?? {}) });
  const validate = validatorFor(schema);
  const ok = validate(data);
  const errors = ok ? [] : describeAjvErrors(validate.errors);
  for (const k of bundle.secretKeys) delete data[k];
  const unknownSecrets = Object.keys(secrets ?? {}).filter((k) => !bundle.secretKeys.includes(k));
  return { values: data, errors: [...errors, ...unknownSecrets.map((k) => `/${k}: not a secret of this release (x-drydock-secret)`)] };
}
