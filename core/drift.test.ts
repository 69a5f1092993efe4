import { describe, expect, it } from 'vitest';
import { changedPaths, composeImages, driftSummary, expectedImages, fileDrift, imageDrift, interpolate, sha256Hex, type DriftReport } from './drift.js';
import type { RenderedFile } from './render.js';
import type { ContainerState } from './types.js';

const compose = `services:
  api:
    image: reg.test/app/api:\${IMAGE_TAG:-1.0.0}
  nginx:
    image: "reg.test/app/nginx:\${IMAGE_TAG}"
  db:
    image: postgres:16
  worker:
    build: .
  odd:
    image: reg.test/app/odd:\${UNSET_TAG}
`;
const rendered: RenderedFile[] = [
  { path: 'docker-compose.yml', content: compose, kind: 'compose' },
  { path: '.env', content: 'POSTGRES_PASSWORD=s3cret-value\nAPI_SECRET=other-secret\n', kind: 'env' },
  { path: 'nginx/conf.d/default.conf', content: 'server {}\n', kind: 'config' },
];

describe('drift: the pure comparison', () => {
  it('names only the files whose host checksum differs or is absent', () => {
    const sums = Object.fromEntries(rendered.map((f) => [f.path, sha256Hex(f.content)]));
    expect(changedPaths(rendered, sums)).toEqual([]);
    expect(changedPaths(rendered, { ...sums, '.env': sha256Hex('x'), 'nginx/conf.d/default.conf': null })).toEqual(['.env', 'nginx/conf.d/default.conf']);
  });

  it('diffs a drifted file from the release to the host, masks .env values, and calls an absent file missing', () => {
    const host = {
      '.env': 'POSTGRES_PASSWORD=typed-by-hand-42\nAPI_SECRET=other-secret\n',
      'nginx/conf.d/default.conf': null,
    };
    const files = fileDrift(rendered, ['.env', 'nginx/conf.d/default.conf'], host);
    expect(files.map((f) => [f.path, f.status])).toEqual([
      ['.env', 'modified'],
      ['nginx/conf.d/default.conf', 'missing'],
    ]);
    const env = files[0]!.diff!;
    expect(env).toContain('POSTGRES_PASSWORD=');
    expect(env).not.toContain('typed-by-hand-42');
    expect(env).not.toContain('s3cret-value');
    expect(env).not.toContain('other-secret');
  });

  it('shows a hand edit of the compose file as added and removed lines', () => {
    const edited = compose.replace('  db:\n', '  db:\n    restart: always\n');
    const [f] = fileDrift(rendered, ['docker-compose.yml'], { 'docker-compose.yml': edited });
    expect(f!.diff).toContain('+    restart: always');
  });

  it('drops a file the host fixed between the checksums and the read', () => {
    expect(fileDrift(rendered, ['nginx/conf.d/default.conf'], { 'nginx/conf.d/default.conf': 'server {}\n' })).toEqual([]);
  });

  it('interpolates image references as compose does, and gives up on an unset variable without a default', () => {
    expect(interpolate('a/b:${T:-1}', {})).toBe('a/b:1');
    expect(interpolate('a/b:${T:-1}', { T: '' })).toBe('a/b:1');
    expect(interpolate('a/b:${T-1}', { T: '' })).toBe('a/b:');
    expect(interpolate('a/b:$T', { T: '2' })).toBe('a/b:2');
    expect(interpolate('a/b:${T}', {})).toBeUndefined();
  });

  it('reads the images of a compose file, leaving out build-only services and unknowable references', () => {
    expect(composeImages(compose, { IMAGE_TAG: '1.2.0' })).toEqual({
      api: 'reg.test/app/api:1.2.0',
      nginx: 'reg.test/app/nginx:1.2.0',
      db: 'postgres:16',
    });
    expect(composeImages('services: [unclosed', {})).toEqual({});
  });

  it("prefers a bundle's own image map to its compose file", () => {
    expect(expectedImages(rendered, { api: 'x/api:9' }, '1.0.0')).toEqual({ api: 'x/api:9' });
    expect(expectedImages(rendered, {}, '1.0.0').api).toBe('reg.test/app/api:1.0.0');
  });

  it('names every way a service can run another image than the release names', () => {
    const expected = { a: 'r/a:1', b: 'r/b:1', c: 'r/c:1', d: 'r/d:1', e: 'r/e', f: 'r/f:1' };
    const c = (service: string, imageRef: string, imageId: string): ContainerState => ({ service, containerId: `id-${service}`, imageId, imageRef, state: 'running' });
    const containers = [
      c('a', 'r/a:1', 'sha256:a'),
      c('b', 'r/b:2', 'sha256:b2'),
      c('c', 'r/c:1', 'sha256:old'),
      c('e', 'r/e:latest', 'sha256:e'),
      c('f', 'r/f:1', 'sha256:f'),
      { service: 'd', containerId: '', imageId: '', state: 'missing' },
    ];
    const hostIds = { 'r/a:1': 'sha256:a', 'r/b:1': 'sha256:b', 'r/c:1': 'sha256:new', 'r/d:1': 'sha256:d', 'r/e': 'sha256:e', 'r/f:1': null };
    expect(imageDrift(expected, containers, hostIds).map((d) => [d.service, d.problem])).toEqual([
      ['b', 'other-image'],
      ['c', 'image-changed'],
      ['d', 'no-container'],
      ['f', 'not-on-host'],
    ]);
  });

  it('summarises a report in one line without any diff text', () => {
    const r: DriftReport = {
      status: 'drifted',
      release: '1.0.0',
      imageTag: '1.0.0',
      files: [{ path: '.env', status: 'modified', diff: '-A=********', truncated: false }],
      images: [{ service: 'api', expected: 'r/api:1', running: 'r/api:1', runningImageId: 'x', expectedImageId: 'y', problem: 'image-changed' }],
      checked: { files: 3, services: 1 },
    };
    expect(driftSummary(r)).toBe('drifted: .env modified, api: image-changed');
  });
});
