import { describe, expect, it } from 'vitest';
import {
  composeListServices,
  composePull,
  composeRecreate,
  composeUpAll,
  composeValidate,
  composeVersionCommand,
  type ComposeProject,
} from './compose.js';

const v2: ComposeProject = { variant: 'v2', projectName: 'acme', dir: '/srv/acme' };
const v1: ComposeProject = { ...v2, variant: 'v1' };

describe('compose command builders', () => {
  it('builds a v2 pull of the named services as one argument array', () => {
    expect(composePull(v2, ['api', 'media-api'], { IMAGE_TAG: '2.1.0' })).toEqual({
      file: 'docker',
      args: ['compose', '--ansi', 'never', '--project-name', 'acme', 'pull', 'api', 'media-api'],
      cwd: '/srv/acme',
      env: { IMAGE_TAG: '2.1.0' },
    });
  });

  it('builds the same pull for v1 with docker-compose as the program', () => {
    expect(composePull(v1, ['api'])).toEqual({
      file: 'docker-compose',
      args: ['--ansi', 'never', '--project-name', 'acme', 'pull', 'api'],
      cwd: '/srv/acme',
    });
  });

  it('recreates only the named services, without their dependencies', () => {
    expect(composeRecreate(v2, ['api', 'nginx']).args).toEqual([
      'compose', '--ansi', 'never', '--project-name', 'acme',
      'up', '-d', '--no-deps', '--force-recreate', 'api', 'nginx',
    ]);
  });

  it('refuses a targeted recreate of no service, which compose would widen to all', () => {
    expect(() => composeRecreate(v2, [])).toThrow(/at least one service/);
  });

  it('keeps a hostile-looking service name as one argument, never parsed by a shell', () => {
    expect(composePull(v1, ['api; rm -rf /']).args.at(-1)).toBe('api; rm -rf /');
  });

  it('lists, validates and brings up everything with the documented flags', () => {
    expect(composeListServices(v1).args).toEqual(['--ansi', 'never', '--project-name', 'acme', 'config', '--services']);
    expect(composeValidate(v2).args.slice(-2)).toEqual(['config', '--quiet']);
    expect(composeUpAll(v2).args.slice(-3)).toEqual(['up', '-d', '--remove-orphans']);
    // A release that does not allow removing orphans leaves them.
    expect(composeUpAll(v2, undefined, false).args.slice(-2)).toEqual(['up', '-d']);
  });

  it('asks each variant for its version in its own way', () => {
    expect(composeVersionCommand('v2')).toEqual({ file: 'docker', args: ['compose', 'version'] });
    expect(composeVersionCommand('v1')).toEqual({ file: 'docker-compose', args: ['version'] });
  });
});
