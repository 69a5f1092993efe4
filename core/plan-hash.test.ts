import { describe, expect, it } from 'vitest';
import { planHash } from './plan-hash.js';

const rendered = [
  { path: 'docker-compose.yml', content: 'services: {}\n' },
  { path: '.env', content: 'A=1\n' },
];
const current = { 'docker-compose.yml': 'old\n', '.env': 'A=1\n' };

describe('plan hash', () => {
  it('is a sha256 hex digest', () => expect(planHash(rendered, current)).toMatch(/^[0-9a-f]{64}$/));

  it('does not depend on the order of files or of the current map', () => {
    const reordered = { '.env': 'A=1\n', 'docker-compose.yml': 'old\n' };
    expect(planHash([...rendered].reverse(), reordered)).toBe(planHash(rendered, current));
  });

  it('is the same on every call', () => expect(planHash(rendered, current)).toBe(planHash(rendered, { ...current })));

  it('changes when a rendered file changes', () => {
    expect(planHash([rendered[0]!, { path: '.env', content: 'A=2\n' }], current)).not.toBe(planHash(rendered, current));
  });

  it('changes when a current file changes', () => {
    expect(planHash(rendered, { ...current, 'docker-compose.yml': 'older\n' })).not.toBe(planHash(rendered, current));
  });

  it('tells a missing current file from an empty one', () => {
    expect(planHash(rendered, { ...current, '.env': undefined })).not.toBe(planHash(rendered, { ...current, '.env': '' }));
    expect(planHash(rendered, { 'docker-compose.yml': 'old\n' })).toBe(planHash(rendered, { ...current, '.env': undefined }));
  });

  it('cannot be fooled by moving bytes between path and content', () => {
    expect(planHash([{ path: 'ab', content: 'c' }], {})).not.toBe(planHash([{ path: 'a', content: 'bc' }], {}));
    expect(planHash([{ path: 'a', content: '' }], { a: 'x' })).not.toBe(planHash([{ path: 'a', content: 'x' }], { a: '' }));
  });

  it('ignores current files the plan does not write', () => {
    expect(planHash(rendered, { ...current, 'mkdocs/index.md': '# hi\n' })).toBe(planHash(rendered, current));
  });

  it('refuses a plan that writes one path twice', () => {
    expect(() => planHash([...rendered, { path: '.env', content: '' }], current)).toThrow(/\.env appears twice/);
  });

  it('keeps its encoding: a known plan with non-ASCII text hashes to the value it always had', () => {
    // A plan previewed before an upgrade of drydock must still match when applied after it.
    const plan = [
      { path: 'docker-compose.yml', content: 'services:\n  app: {}\n' },
      { path: 'configs/é.conf', content: 'naïve ✓ 🚢\n' },
    ];
    expect(planHash(plan, { 'docker-compose.yml': 'old\n', 'configs/é.conf': undefined })).toBe('f6fdbe8aa4dd3a597082ef444e702d2a989e31ec0b46e05faf5dc878a19b8a87');
  });
});
