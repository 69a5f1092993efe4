import { describe, expect, it } from 'vitest';
import { BundleError, bundleContentHash, checkValues, parseBundle } from './bundle.js';

const release = { name: 'hello', version: 'hello-1.0.0', coreServices: ['web'] };
const schema = {
  type: 'object',
  properties: {
    greeting: { type: 'string', default: 'Hello' },
    limits: { type: 'object', default: {}, properties: { max: { type: 'integer', maximum: 9, default: 3 } } },
    apiKey: { type: 'string', 'x-drydock-secret': true, 'x-drydock-env': 'API_KEY' },
    token: { type: 'string', writeOnly: true },
  },
  required: ['apiKey'],
};
const files = (over: Record<string, string> = {}) => ({
  'release.json': JSON.stringify(release, null, 2),
  'manifest.json': JSON.stringify({ managed: [{ path: 'docker-compose.yml', template: 'c.eta', kind: 'compose' }] }, null, 2),
  'values.schema.json': JSON.stringify(schema, null, 2),
  'c.eta': 'x: <%= it.values.greeting %>\n',
  ...over,
});

const problem = (f: Record<string, string>) => {
  try {
    parseBundle(f);
  } catch (err) {
    if (err instanceof BundleError) return { file: err.file, line: err.line, message: err.message };
    throw err;
  }
  throw new Error('parsed');
};

describe('a release bundle', () => {
  it('parses release.json, the manifest, the templates and the schema, and finds the secrets', () => {
    const b = parseBundle({ ...files(), 'README.md': 'not part of the bundle' });
    expect(b.release).toEqual({ ...release, images: {}, allowRemoveOrphans: false, notes: '' });
    expect(b.secretKeys).toEqual(['apiKey', 'token']);
    expect(b.secretEnvNames).toEqual({ apiKey: 'API_KEY' });
    expect(Object.keys(b.files).sort()).toEqual(['c.eta', 'manifest.json', 'release.json', 'values.schema.json']);
  });

  it('hashes the same content the same, other content otherwise', () => {
    expect(bundleContentHash(files())).toBe(bundleContentHash(files()));
    expect(bundleContentHash(files({ 'c.eta': 'y\n' }))).not.toBe(bundleContentHash(files()));
  });

  it.each([
    ['a missing release.json', { 'release.json': undefined }, 'release.json', undefined, /is missing/],
    ['an unknown key in release.json', { 'release.json': JSON.stringify({ ...release, tag: 'x' }, null, 2) }, 'release.json', 7, /unknown key "tag"/],
    ['a bad version', { 'release.json': JSON.stringify({ ...release, version: '../1' }, null, 2) }, 'release.json', 3, /\/version: must match pattern/],
    ['a template the manifest names but the bundle lacks', { 'c.eta': undefined }, 'c.eta', undefined, /is missing \(the manifest names it for docker-compose.yml\)/],
    ['a secret with a default', { 'values.schema.json': JSON.stringify({ ...schema, properties: { ...schema.properties, token: { type: 'string', writeOnly: true, default: 'x' } } }, null, 2) }, 'values.schema.json', 24, /secret token must not have a default/],
    ['a schema that is not an object schema', { 'values.schema.json': '{"type": "array"}' }, 'values.schema.json', 1, /"type": "object"/],
  ])('refuses %s, naming the file and line', (_what, over, file, line, message) => {
    const f = Object.fromEntries(Object.entries(files(over as Record<string, string>)).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const p = problem(f);
    expect(p.file).toBe(file);
    expect(p.line).toBe(line);
    expect(p.message).toMatch(message);
  });

  it('checks values: defaults filled in, unknown keys and rules named by JSON path, secret values never echoed', () => {
    const b = parseBundle(files());
    expect(checkValues(b, {}, { apiKey: 'k' })).toEqual({ values: { greeting: 'Hello', limits: { max: 3 } }, errors: [] });
    expect(checkValues(b, { limits: { max: 10, min: 1 } }, null).errors).toEqual([
      '/limits: unknown key "min" (additionalProperties)',
      '/limits/max: must be <= 9 (maximum)',
    ]);
    expect(checkValues(b, {}, {}).errors).toEqual(['/: missing required key "apiKey" (required)']);
    expect(checkValues(b, {}, { apiKey: 'secret-value-123', other: 'x' }).errors.join()).not.toContain('secret-value-123');
  });
});
