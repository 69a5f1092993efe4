import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadReleasesDir } from '../templates/load.js';
import { diffReleases } from './release-diff.js';
import { renderWithDefaults } from './release-render.js';

const platform = { imageTag: 'latest', registry: 'registry.example.com', imagePrefix: 'notes', baseDomain: 'tenants.example.com' };
const [n100, n101, n110] = await loadReleasesDir(path.join(import.meta.dirname, '..', 'examples', 'notes'));

describe('the difference between two releases', () => {
  it('loads the example bundles in version order and renders each with its defaults', () => {
    expect([n100, n101, n110].map((b) => b!.release.version)).toEqual(['notes-1.0.0', 'notes-1.0.1', 'notes-1.1.0']);
    const r = renderWithDefaults(n110!, platform);
    expect(r.rendered.map((f) => f.path)).toEqual(['docker-compose.yml', '.env', 'app/conf.d/notes.ini', 'app/conf.d/motd.txt']);
    expect(r.images).toEqual({
      web: 'registry.example.com/notes/web:1.1.0',
      jobs: 'registry.example.com/notes/jobs:1.1.0',
      gateway: 'registry.example.com/notes/gateway:1.1.0',
    });
  });

  it('marks a release that changes only image references as image-only, and lists the images', () => {
    const d = diffReleases(n100!, n101!, platform);
    expect(d.imageOnly).toBe(true);
    expect(d.images).toEqual([
      { service: 'gateway', from: 'registry.example.com/notes/gateway:1.0.0', to: 'registry.example.com/notes/gateway:1.0.1' },
      { service: 'jobs', from: 'registry.example.com/notes/jobs:1.0.0', to: 'registry.example.com/notes/jobs:1.0.1' },
      { service: 'web', from: 'registry.example.com/notes/web:1.0.0', to: 'registry.example.com/notes/web:1.0.1' },
    ]);
  });

  it('shows file changes of a release that changes more, with .env values masked', () => {
    const d = diffReleases(n100!, n110!, platform);
    expect(d.imageOnly).toBe(false);
    expect(Object.fromEntries(d.files.map((f) => [f.path, f.status]))).toEqual({
      'docker-compose.yml': 'modified',
      '.env': 'modified',
      'app/conf.d/notes.ini': 'modified',
      'app/conf.d/motd.txt': 'created',
    });
    const env = d.files.find((f) => f.path === '.env')!;
    expect(env.diff).toContain('IMAGE_TAG=********');
    expect(env.diff).not.toContain('1.1.0');
    expect(JSON.stringify(d)).not.toContain('placeholder-signingToken');
    expect(d.files.find((f) => f.path === 'docker-compose.yml')!.diff).toContain('+      NOTES_QUEUE: notes');
  });

  it('shows a file the new release no longer manages as removed', () => {
    const d = diffReleases(n110!, n100!, platform);
    expect(d.files.find((f) => f.path === 'app/conf.d/motd.txt')).toMatchObject({ status: 'removed' });
  });
});
