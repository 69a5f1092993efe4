import { describe, expect, it } from 'vitest';
import {
  buildRenderContext,
  parseManifest,
  renderTemplates,
  type RenderDefaults,
  type RenderInstance,
  type TemplateSet,
} from './render.js';

const defaults: RenderDefaults = {
  imageTag: '2.5.0',
  registry: 'registry.example.com',
  imagePrefix: 'drydock/app',
  baseDomain: 'tenants.example.com',
  postgresImage: 'postgres:16-alpine',
  redisImage: 'redis:7-alpine',
  smtpHost: 'smtp.example.com',
  smtpPort: 587,
};
const acme: RenderInstance = { slug: 'acme', name: 'Acme & Co <HQ>', imageTag: '2.4.1', composeProjectName: 'acme' };
const secrets = { postgresPassword: 'pg-pass', apiSecret: 'api-secret' };

const entry = (path: string, template = 't.eta', kind = 'config') => ({ path, template, kind });

describe('template manifest', () => {
  it('reads well-formed entries', () => {
    expect(parseManifest({ managed: [entry('docker-compose.yml', 'c.eta', 'compose'), entry('.env', 'e.eta', 'env')] })).toEqual([
      { path: 'docker-compose.yml', template: 'c.eta', kind: 'compose' },
      { path: '.env', template: 'e.eta', kind: 'env' },
    ]);
  });

  it.each([
    ['path traversal', entry('../x'), /managed\[0\] \("\.\.\/x"\): path contains a "\.\." segment/],
    ['an absolute path', entry('/etc/x'), /managed\[0\] \("\/etc\/x"\): path is absolute/],
    ['tenant content', entry('configs/nginx.conf'), /managed\[0\] \("configs\/nginx.conf"\): path is tenant-owned content/],
    ['a NUL byte', entry('a\0b'), /path contains a NUL byte/],
    ['a backslash', entry('nginx\\x'), /path contains a backslash/],
    ['an unnormalized path', entry('./x'), /path is not normalized/],
    ['a template outside the templates dir', entry('x', '../secret'), /template "\.\.\/secret" contains a "\.\." segment/],
    ['an unknown kind', entry('x', 't.eta', 'binary'), /kind must be one of compose, config, env, got "binary"/],
    ['a missing path', { template: 't.eta', kind: 'config' }, /managed\[0\] has no string "path"/],
  ])('rejects %s, naming the entry', (_what, bad, message) => {
    expect(() => parseManifest({ managed: [bad] })).toThrow(message);
  });

  it('rejects duplicate paths, also when they differ only in case', () => {
    expect(() => parseManifest({ managed: [entry('a.conf'), entry('a.conf')] })).toThrow(
      /managed\[1\] \("a.conf"\): path duplicates "a.conf"/,
    );
    expect(() => parseManifest({ managed: [entry('A.conf'), entry('a.conf')] })).toThrow(/duplicates "A.conf"/);
  });

  it('rejects a path that would be a directory of another', () => {
    expect(() => parseManifest({ managed: [entry('nginx/conf.d/a.conf'), entry('nginx')] })).toThrow(
      /managed\[1\] \("nginx"\): path conflicts with "nginx\/conf.d\/a.conf"/,
    );
  });

  it('rejects more than one .env entry', () => {
    expect(() => parseManifest({ managed: [entry('.env', 'e', 'env'), entry('b.env', 'e', 'env')] })).toThrow(/more than one/);
  });

  it('rejects a manifest without a managed list', () => {
    expect(() => parseManifest({ files: [] })).toThrow(/"managed" array/);
    expect(() => parseManifest(null)).toThrow(/"managed" array/);
  });
});

describe('render context', () => {
  it("uses the instance's own image tag", () => {
    expect(buildRenderContext(acme, defaults)).toMatchObject({ imageTag: '2.4.1', usesDefaultImageTag: false });
  });

  it('falls back to the default image tag when the instance has none', () => {
    expect(buildRenderContext({ ...acme, imageTag: null }, defaults)).toMatchObject({ imageTag: '2.5.0', usesDefaultImageTag: true });
  });

  it('derives the image repository, domain and sender from the slug and defaults', () => {
    expect(buildRenderContext(acme, defaults, secrets)).toEqual({
      slug: 'acme',
      name: 'Acme & Co <HQ>',
      projectName: 'acme',
      imageTag: '2.4.1',
      usesDefaultImageTag: false,
      registry: 'registry.example.com',
      imagePrefix: 'drydock/app',
      imageRepo: 'registry.example.com/drydock/app',
      domain: 'acme.tenants.example.com',
      postgresImage: 'postgres:16-alpine',
      redisImage: 'redis:7-alpine',
      smtp: { host: 'smtp.example.com', port: 587, from: 'noreply@acme.tenants.example.com' },
      secrets,
    });
  });

  it.each([
    ['a slug that is not a DNS label', { ...acme, slug: 'Acme' }, defaults, /slug "Acme"/],
    ['an image tag with a colon', { ...acme, imageTag: 'a:b' }, defaults, /image tag "a:b"/],
    ['a bad default tag when the instance has none', { ...acme, imageTag: null }, { ...defaults, imageTag: '' }, /image tag ""/],
    ['a newline in the name', { ...acme, name: 'Acme\nversion: "3"' }, defaults, /control characters/],
    ['an uppercase image prefix', acme, { ...defaults, imagePrefix: 'Drydock' }, /image prefix/],
    ['a registry with a path', acme, { ...defaults, registry: 'r.example.com/x' }, /registry/],
    ['an image reference with a space', acme, { ...defaults, redisImage: 'redis 7' }, /redis image/],
  ])('refuses %s', (_what, instance, d, message) => {
    expect(() => buildRenderContext(instance, d)).toThrow(message);
  });

  it('refuses a secret that .env cannot hold unquoted, without echoing it', () => {
    expect(() => buildRenderContext(acme, defaults, { ...secrets, apiSecret: 'has$dollar' })).toThrow(/secret apiSecret must be/);
    try {
      buildRenderContext(acme, defaults, { ...secrets, apiSecret: 'has$dollar' });
    } catch (err) {
      expect((err as Error).message).not.toContain('has$dollar');
    }
  });
});

describe('rendering templates', () => {
  const set: TemplateSet = {
    manifest: [
      { path: 'app.conf', template: 'app.eta', kind: 'config' },
      { path: '.env', template: 'env.eta', kind: 'env' },
    ],
    sources: {
      'app.eta': 'name: <%= it.name %>\nimage: <%= it.imageRepo %>/api:${IMAGE_TAG:-<%= it.imageTag %>}\n<% if (it.usesDefaultImageTag) { -%>\n# default tag\n<% } -%>\nend\n',
      'env.eta': 'PW=<%= it.secrets.postgresPassword %>\n',
    },
  };

  it('renders every managed file in manifest order, without HTML escaping', () => {
    expect(renderTemplates(set, buildRenderContext(acme, defaults, secrets))).toEqual([
      {
        path: 'app.conf',
        kind: 'config',
        content: 'name: Acme & Co <HQ>\nimage: registry.example.com/drydock/app/api:${IMAGE_TAG:-2.4.1}\nend\n',
      },
      { path: '.env', kind: 'env', content: 'PW=pg-pass\n' },
    ]);
  });

  it('trims the newline after control-flow tags that ask for it', () => {
    const [app] = renderTemplates(set, buildRenderContext({ ...acme, imageTag: null }, defaults), { excludeEnv: true });
    expect(app!.content).toBe('name: Acme & Co <HQ>\nimage: registry.example.com/drydock/app/api:${IMAGE_TAG:-2.5.0}\n# default tag\nend\n');
  });

  it('leaves .env out for registered tenants', () => {
    expect(renderTemplates(set, buildRenderContext(acme, defaults), { excludeEnv: true }).map((f) => f.path)).toEqual(['app.conf']);
  });

  it('refuses to render .env without the tenant secrets', () => {
    expect(() => renderTemplates(set, buildRenderContext(acme, defaults))).toThrow(/\.env needs the tenant's secrets/);
  });

  it('renders the same bytes every time', () => {
    const ctx = buildRenderContext(acme, defaults, secrets);
    expect(renderTemplates(set, ctx)).toEqual(renderTemplates(set, structuredClone(ctx)));
  });

  it('fails on a template that reads something the context lacks, naming both', () => {
    const typo: TemplateSet = { manifest: [set.manifest[0]!], sources: { 'app.eta': 'tag: <%= it.imagetag %>\n' } };
    expect(() => renderTemplates(typo, buildRenderContext(acme, defaults))).toThrow(
      /rendering app.eta for app.conf failed: .*it.imagetag is not in the render context/s,
    );
    const nested: TemplateSet = { manifest: [set.manifest[0]!], sources: { 'app.eta': '<%= it.smtp.hots %>' } };
    expect(() => renderTemplates(nested, buildRenderContext(acme, defaults))).toThrow(/it.smtp.hots is not in the render context/);
  });

  it('fails when a manifest entry has no template source', () => {
    expect(() => renderTemplates({ ...set, sources: {} }, buildRenderContext(acme, defaults), { excludeEnv: true })).toThrow(
      /template app.eta \(for app.conf\) is missing/,
    );
  });

  it('refuses a hand-built set that would write tenant content', () => {
    const bad: TemplateSet = { manifest: [{ path: 'scripts/x.sh', template: 'app.eta', kind: 'config' }], sources: set.sources };
    expect(() => renderTemplates(bad, buildRenderContext(acme, defaults))).toThrow(/refusing to render "scripts\/x.sh"/);
  });
});
