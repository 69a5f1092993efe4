import { describe, expect, it } from 'vitest';
import { IMAGE_TAG_RE, PROJECT_NAME_RE, SERVICE_NAME_RE, SLUG_RE } from './validation.js';
import { slugFromWorkflowId, upgradeWorkflowId } from '../workflows/surface.js';

describe('name grammars', () => {
  it.each(['acme', 'a', 'acme-2', '0x'])('accepts the slug %s', (s) => expect(SLUG_RE.test(s)).toBe(true));
  it.each(['Acme', '-acme', 'acme-', 'ac_me', '', 'a'.repeat(64), 'ac.me'])('rejects the slug %j', (s) =>
    expect(SLUG_RE.test(s)).toBe(false));

  it.each(['latest', '2.10.2', 'v1_rc-3', 'A', 'x'.repeat(128)])('accepts the image tag %s', (t) =>
    expect(IMAGE_TAG_RE.test(t)).toBe(true));
  it.each(['', '.hidden', '-x', 'a:b', 'a/b', 'x'.repeat(129), 'tag with space'])('rejects the image tag %j', (t) =>
    expect(IMAGE_TAG_RE.test(t)).toBe(false));

  it.each(['api', 'media-api', 'db_1', 'web.v2'])('accepts the service name %s', (s) =>
    expect(SERVICE_NAME_RE.test(s)).toBe(true));
  it.each(['', '-api', 'api;ls', 'a b', '../x', '$(id)'])('rejects the service name %j', (s) =>
    expect(SERVICE_NAME_RE.test(s)).toBe(false));

  it('accepts compose project names with underscores but no capitals', () => {
    expect(PROJECT_NAME_RE.test('acme_prod')).toBe(true);
    expect(PROJECT_NAME_RE.test('Acme')).toBe(false);
  });
});

describe('workflow ID scheme', () => {
  it('derives one workflow ID per instance, the same for every path', () => {
    expect(upgradeWorkflowId('acme')).toBe('upgrade-acme');
  });

  it('reads the slug back from a workflow ID', () => {
    expect(slugFromWorkflowId(upgradeWorkflowId('acme-2'))).toBe('acme-2');
    expect(slugFromWorkflowId('rollout-x')).toBeUndefined();
  });
});
