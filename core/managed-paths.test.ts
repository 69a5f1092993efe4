import { describe, expect, it } from 'vitest';
import { checkManagedPath, checkRelativePath, isTenantContentPath } from './managed-paths.js';

describe('managed paths', () => {
  it.each(['docker-compose.yml', '.env', 'nginx/conf.d/default.conf', 'drydock/VERSION', 'mkdocs.yml', 'configs.bak/x'])(
    'accepts %s as a path drydock may write',
    (p) => expect(checkManagedPath(p)).toBeUndefined(),
  );

  it.each([
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['C:/x', /drive letter/],
    ['../outside', /"\.\."/],
    ['nginx/../../x', /"\.\."/],
    ['nginx\\default.conf', /backslash/],
    ['a\0b', /NUL/],
    ['a\nb', /control character/],
    ['./docker-compose.yml', /not normalized \(write it as "docker-compose.yml"\)/],
    ['nginx//default.conf', /not normalized/],
    ['nginx/', /not normalized/],
  ])('rejects %j because it %s', (p, problem) => expect(checkManagedPath(p)).toMatch(problem));

  it.each(['mkdocs', 'mkdocs/mkdocs.yml', 'configs/custom.conf', 'scripts/backup.sh', 'Configs/x'])(
    'refuses to manage the tenant-owned %s',
    (p) => expect(checkManagedPath(p)).toMatch(/tenant-owned/),
  );

  it('recognizes tenant content however the path is spelled', () => {
    expect(isTenantContentPath('./configs/x')).toBe(true);
    expect(isTenantContentPath('nginx/../scripts/x')).toBe(true);
    expect(isTenantContentPath('configs\\x')).toBe(true);
    expect(isTenantContentPath('configsx/y')).toBe(false);
    expect(isTenantContentPath('../configs/x')).toBe(false);
  });

  it('applies only the structural rules to template names', () => {
    expect(checkRelativePath('configs/x.eta')).toBeUndefined();
    expect(checkRelativePath('../x.eta')).toMatch(/"\.\."/);
  });
});
