import { describe, expect, it } from 'vitest';
import { valuesFieldErrors } from '../api.js';
import { changedSecrets, textFromValues, valuesFromText, type JsonSchema } from './ValuesForm.js';

const schema: JsonSchema = {
  type: 'object',
  properties: {
    title: { type: 'string', default: 'Notes' },
    workers: { type: 'integer', default: 2 },
    debug: { type: 'boolean' },
    hosts: { type: 'array' },
    queue: { type: 'object', properties: { name: { type: 'string' }, retries: { type: 'integer' } } },
    signingToken: { type: 'string', 'x-drydock-secret': true },
  },
};

describe('the values form', () => {
  it('sends only what was typed, typed as the schema says, nested as it nests, and never a secret', () => {
    const text = { '/title': 'Mine', '/workers': '4', '/debug': 'false', '/hosts': '["a","b"]', '/queue/name': '', '/queue/retries': '3', '/signingToken': 'x' };
    expect(valuesFromText(schema, text)).toEqual({ title: 'Mine', workers: 4, debug: false, hosts: ['a', 'b'], queue: { retries: 3 } });
  });

  it('leaves what does not parse as typed, so the API names the rule it breaks', () => {
    expect(valuesFromText(schema, { '/workers': 'four', '/hosts': '[oops' })).toEqual({ workers: 'four', hosts: '[oops' });
  });

  it('shows stored values path by path and round-trips them', () => {
    const stored = { title: 'T', workers: 3, queue: { name: 'q' } };
    const text = textFromValues(schema, stored);
    expect(text).toEqual({ '/title': 'T', '/workers': '3', '/queue/name': 'q' });
    expect(valuesFromText(schema, text)).toEqual(stored);
  });

  it('sends only the secrets typed or unset', () => {
    expect(changedSecrets({ a: '', b: 'new', c: null })).toEqual({ b: 'new', c: null });
  });

  it("puts the API's JSON-path errors on their fields, a missing required key on that key", () => {
    expect(
      valuesFieldErrors([
        '/workers: must be <= 16 (maximum)',
        '/queue/name: must match pattern "^[a-z]" (pattern)',
        '/: missing required key "signingToken" (required)',
        '/: unknown key "wrokers" (additionalProperties)',
      ]),
    ).toEqual([
      { field: '/workers', message: 'must be <= 16 (maximum)' },
      { field: '/queue/name', message: 'must match pattern "^[a-z]" (pattern)' },
      { field: '/signingToken', message: 'is required' },
      { field: '/', message: 'unknown key "wrokers" (additionalProperties)' },
    ]);
  });
});
