/**
 * Property-based bad input: image tags, slugs, service names, labels, `.env`
 * files (duplicate keys, quotes, `export`, CRLF, missing newline, a BOM,
 * binary garbage) and compose variable syntax get a clear 400 or a correct
 * parse, never a 500, a crash or an unhandled rejection; oversized bodies and
 * malformed JSON get 413/400, at the API and at a real agent, and both keep
 * serving.
 */
import http from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderRelease } from '../core/release-plan.js';
import { DEFAULT_AGENT_MANAGED } from '../agent/guard.js';
import { createAgentServer, type AgentServer } from '../agent/server.js';
import { createTenantDriver, detectComposeVariant } from '../tenant/tenant.js';
import { composeVariableRefs, envCoverage, parseEnvFile, scanEnvFile } from '../core/env-file.js';
import { CONTROL_PLANE_CN, createCertificateAuthority, issueKeyAndCertificate } from '../core/pki.js';
import { IMAGE_TAG_RE, PROJECT_NAME_RE, SERVICE_NAME_RE, SLUG_RE } from '../core/validation.js';
import { createPlanner } from '../worker/planner.js';
import { FIXTURES, releaseDefaults, treeChecksums } from './faults/support.js';
import { postToAgent } from './harness/agent-call.js';
import { startTestControlPlane, uniqueName, type TestControlPlane } from './support.js';

/** Runs per property against the API (each run is an HTTP request); pure properties run ten times as many. */
const RUNS = Number(process.env.DRYDOCK_PROPERTY_RUNS ?? 100);

const tally: Record<string, Record<string, number>> = {};
function count(where: string, outcome: string | number) {
  tally[where] ??= {};
  tally[where]![outcome] = (tally[where]![outcome] ?? 0) + 1;
}

// Anything the process did not handle fails the file.
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

afterAll(() => console.log(`[property] outcomes: ${JSON.stringify(tally)}`));

// ---------------------------------------------------------------- .env files

const KEYS = ['POSTGRES_PASSWORD', 'API_SECRET', 'SEARCH_API_KEY', 'A', 'a.b-c', '_X1'] as const;
const plainChar = fc.constantFrom(...'abcXYZ019_./:@%+=,-'.split(''));
const quotedChar = fc.constantFrom(...'abcXYZ019_./:@%+=,- #\'"\\$\n\t'.split(''));

/** A value as tenants write it, with a marker so a leak would be seen. */
type EnvLine =
  | { kind: 'assign'; key: string; value: string; style: 'plain' | 'double' | 'single'; exported: boolean; spaced: boolean }
  | { kind: 'comment'; text: string }
  | { kind: 'blank'; text: string }
  | { kind: 'garbage'; text: string };

const MARK = 'Vq9';
const assignment = fc
  .record({
    key: fc.constantFrom(...KEYS),
    style: fc.constantFrom('plain', 'double', 'single') as fc.Arbitrary<'plain' | 'double' | 'single'>,
    exported: fc.boolean(),
    spaced: fc.boolean(),
    plain: fc.array(plainChar, { minLength: 1, maxLength: 12 }).map((c) => c.join('')),
    quoted: fc.array(quotedChar, { maxLength: 16 }).map((c) => c.join('')),
  })
  .map(({ key, style, exported, spaced, plain, quoted }): EnvLine => ({
    kind: 'assign',
    key,
    style,
    exported,
    spaced,
    value: MARK + (style === 'plain' ? plain : style === 'single' ? quoted.replace(/'/g, '') : quoted),
  }));
// Garbage that is not an assignment, a comment or blank: compose ignores it, and so must we.
const garbage = fc
  .oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('PASSWORD: x', '=x', '1A=2', 'export', '"unterminated', "KEY 'x'"))
  .map((s) => s.replace(/[\r\n]/g, ''))
  .filter((s) => s.trim() !== '' && !s.trim().startsWith('#') && !/^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=/.test(s))
  .map((text): EnvLine => ({ kind: 'garbage', text }));
const envLine: fc.Arbitrary<EnvLine> = fc.oneof(
  { weight: 6, arbitrary: assignment },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((t): EnvLine => ({ kind: 'comment', text: t.replace(/[\r\n]/g, '') })) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '\t').map((t): EnvLine => ({ kind: 'blank', text: t })) },
  { weight: 2, arbitrary: garbage },
);
const envFile = fc.record({
  lines: fc.array(envLine, { maxLength: 12 }),
  eol: fc.constantFrom('\n', '\r\n'),
  finalNewline: fc.boolean(),
  bom: fc.boolean(),
});

function serializeLine(l: EnvLine): string {
  switch (l.kind) {
    case 'assign': {
      const v =
        l.style === 'plain' ? l.value : l.style === 'single' ? `'${l.value}'` : `"${l.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\$/g, '\\$')}"`;
      return `${l.exported ? 'export ' : ''}${l.key}${l.spaced ? ' = ' : '='}${v}`;
    }
    case 'comment':
      return `#${l.text}`;
    default:
      return l.text;
  }
}

function serialize(f: { lines: EnvLine[]; eol: string; finalNewline: boolean; bom: boolean }): string {
  const body = f.lines.map(serializeLine).join(f.eol);
  return (f.bom ? '\uFEFF' : '') + body + (f.finalNewline && f.lines.length > 0 ? f.eol : '');
}

/** What compose reads: the last assignment of each key wins. */
function model(lines: EnvLine[]): Map<string, string> {
  const vars = new Map<string, string>();
  for (const l of lines) if (l.kind === 'assign') vars.set(l.key, l.value);
  return vars;
}

describe('.env files and compose variable syntax', () => {
  it('parses any text without throwing, its entries covering every character but a leading BOM', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), envFile.map(serialize)), (text) => {
        const { entries } = scanEnvFile(text);
        expect(entries.map((e) => e.source + e.eol).join('')).toBe(text.replace(/^\uFEFF/, ''));
        parseEnvFile(text);
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it('reads generated files as compose does: export, quotes, escapes, duplicates, CRLF, a missing last newline and a BOM', () => {
    fc.assert(
      fc.property(envFile, (f) => {
        const { vars, problems } = parseEnvFile(serialize(f));
        expect(vars).toEqual(model(f.lines));
        const assigned = f.lines.filter((l): l is Extract<EnvLine, { kind: 'assign' }> => l.kind === 'assign').map((l) => l.key);
        const duplicated = new Set(assigned.filter((k, i) => assigned.indexOf(k) !== i));
        expect(problems.filter((p) => /is set more than once/.test(p))).toHaveLength(duplicated.size);
        expect(problems.filter((p) => /not a KEY=value|no "=" in this line/.test(p)).length).toBe(f.lines.filter((l) => l.kind === 'garbage').length);
        // Problems name lines and keys, never values.
        for (const p of problems) expect(p).not.toContain(MARK);
      }),
      { numRuns: RUNS * 10 },
    );
  });

  type Form = '$N' | '${N}' | '${N:-d}' | '${N-d}' | '${N:?m}' | '${N?m}' | '${N:+a}' | '${N+a}' | '$$N' | '# $N';
  const FORMS: Form[] = ['$N', '${N}', '${N:-d}', '${N-d}', '${N:?m}', '${N?m}', '${N:+a}', '${N+a}', '$$N', '# $N'];
  const ref = fc.record({ name: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/), form: fc.constantFrom(...FORMS) });

  it('finds exactly the variables a compose file interpolates, with their defaults and requirements', () => {
    fc.assert(
      fc.property(fc.array(ref, { maxLength: 10 }), (refs) => {
        const text = `services:\n  app:\n    environment:\n${refs.map((r, i) => `      V${i}: ${r.form === '# $N' ? `x # $${r.name}` : `"${r.form.replace('N', r.name)}"`}`).join('\n')}\n`;
        const expected = new Map<string, { hasDefault: boolean; required: boolean }>();
        for (const r of refs) {
          if (r.form === '$$N' || r.form === '# $N') continue;
          const hasDefault = /[-+]/.test(r.form);
          const required = r.form.includes('?');
          const prev = expected.get(r.name);
          expected.set(r.name, prev ? { hasDefault: prev.hasDefault && hasDefault, required: prev.required || required } : { hasDefault, required });
        }
        const found = composeVariableRefs(text);
        expect(Object.fromEntries(found.map((f) => [f.name, { hasDefault: f.hasDefault, required: f.required }]))).toEqual(Object.fromEntries(expected));
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it('never throws on arbitrary compose text and .env text together', () => {
    const composeish = fc.array(fc.oneof(fc.constantFrom('$', '${', '}', ':-', ':?', '$$', '#', '"', "'", '\n', ' ', 'A', '${A:-${B', '${A:-${B}}'), fc.string({ maxLength: 5 })), { maxLength: 40 }).map((p) => p.join(''));
    fc.assert(
      fc.property(fc.oneof(composeish, fc.string({ unit: 'binary', maxLength: 100 })), fc.option(fc.string({ unit: 'binary', maxLength: 100 }), { nil: undefined }), (compose, env) => {
        const c = envCoverage(compose, env);
        expect(c.missingInTenantEnv.every((n) => c.referenced.includes(n))).toBe(true);
      }),
      { numRuns: RUNS * 10 },
    );
  });
});

// ---------------------------------------------------------------- the API

describe('bad input at the API', () => {
  let cp: TestControlPlane;
  let work: string;
  let tenantDir: string;
  let tenantId: string;
  const defaults = releaseDefaults(`drydock-${uniqueName('inputs')}`);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    cp = await startTestControlPlane({ runWorker: false, planner: createPlanner(defaults, path.join(FIXTURES, 'n1')) });
    work = await mkdtemp(path.join(os.tmpdir(), 'drydock-inputs-'));
    const slug = uniqueName('inp');
    tenantDir = path.join(work, slug);
    const driver = createTenantDriver({ compose: await detectComposeVariant() }, { projectName: slug, dir: tenantDir });
    await import('node:fs/promises').then((fs) => fs.mkdir(tenantDir, { recursive: true }));
    await writeFile(path.join(tenantDir, '.env'), 'POSTGRES_PASSWORD=pw\nAPI_SECRET=s\n');
    const { rendered } = await renderRelease(createPlanner(defaults, path.join(FIXTURES, 'n')), driver, { slug, name: slug, composeProjectName: slug, isRegistered: false }, '1.0.0');
    await driver.writeFiles(rendered.map((f) => f.path), rendered);
    tenantId = (await cp.api('POST', '/api/instances', { slug, name: slug, composeDir: tenantDir })).body.id;
  });

  afterAll(async () => {
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  /** A 400 says which field and why. */
  function expectClear400(res: { status: number; body: { error?: string; fields?: { field: string; message: string }[] } }) {
    expect(res.status).toBe(400);
    expect(typeof res.body.error).toBe('string');
    expect(res.body.error!.length).toBeGreaterThan(0);
  }

  const weird = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
  /** Mostly valid, so that whole bodies are valid often enough to check what gets stored. */
  const mostly = <T,>(valid: fc.Arbitrary<T>, ...bad: fc.Arbitrary<unknown>[]) => fc.oneof({ weight: 5, arbitrary: valid as fc.Arbitrary<unknown> }, ...bad.map((b) => ({ weight: 1, arbitrary: b })));
  const slugs = mostly(fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/), fc.constantFrom('', 'A', '-a', 'a-', 'a_b', 'a'.repeat(64), '\uFF41', '../x', 'a\0b', 'a b'), weird);
  const tags = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/), fc.constantFrom('', '.x', '-x', 'a'.repeat(129), 'v1+build', 'l\u00e4test', 'a:b', 'a/b', 'a b', '1.0.0\n'), weird);
  const services = mostly(
    fc.uniqueArray(fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,10}$/), { minLength: 1, maxLength: 5 }),
    fc.array(fc.constantFrom('', '-x', 'a b', 'a$b', '\u00e9', 'x'.repeat(64), 'api'), { maxLength: 5 }),
    weird,
  );

  it('creates an instance only from valid fields, answers 400 naming the field otherwise, never 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            slug: slugs,
            name: mostly(fc.string({ minLength: 1, maxLength: 30 }), fc.constantFrom('', '   ', 'x'.repeat(201)), weird),
            composeDir: mostly(fc.stringMatching(/^\/[a-z0-9/._-]{0,30}$/), fc.constantFrom('relative', '/a\0b', '', 'C:\\x'), weird),
            coreServices: services,
            imageTag: mostly(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/), fc.constant(null)), tags),
            composeProjectName: mostly(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,8}$/), weird),
            labels: mostly(fc.uniqueArray(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/), { maxLength: 3 }), fc.constant(['A b']), weird),
          },
          { requiredKeys: ['slug', 'name', 'composeDir'] },
        ),
        async (body) => {
          const res = await cp.api('POST', '/api/instances', body);
          count('POST /api/instances', res.status);
          expect([201, 400, 409], JSON.stringify(res.body)).toContain(res.status);
          if (res.status === 400) {
            expectClear400(res);
            expect(res.body.fields.length).toBeGreaterThan(0);
          }
          if (res.status === 201) {
            // Nothing invalid is ever stored.
            expect(res.body.slug).toMatch(SLUG_RE);
            expect(res.body.composeProjectName).toMatch(PROJECT_NAME_RE);
            for (const s of res.body.coreServices) expect(s).toMatch(SERVICE_NAME_RE);
            if (res.body.imageTag !== null) expect(res.body.imageTag).toMatch(IMAGE_TAG_RE);
            expect(res.body.composeDir.startsWith('/')).toBe(true);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('sets an image tag only when it is a Docker tag (or null), and answers 400 otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(tags, async (imageTag) => {
        const res = await cp.api('PATCH', `/api/instances/${tenantId}`, { imageTag });
        count('PATCH imageTag', res.status);
        const valid = imageTag === null || (typeof imageTag === 'string' && IMAGE_TAG_RE.test(imageTag));
        if (valid) expect(res.status).toBe(200);
        else expectClear400(res);
      }),
      { numRuns: RUNS },
    );
    // And the same tags to the upgrade and preview routes, which never get as far as Temporal with a bad one.
    await fc.assert(
      fc.asyncProperty(tags.filter((t) => !(typeof t === 'string' && IMAGE_TAG_RE.test(t))), async (imageTag) => {
        count('bad tag to upgrade-images, upgrade-release, preview', 400);
        expectClear400(await cp.api('POST', `/api/instances/${tenantId}/upgrade-images`, { imageTag }));
        expectClear400(await cp.api('POST', `/api/instances/${tenantId}/upgrade-release`, { imageTag }));
        expectClear400(await cp.api('POST', `/api/instances/${tenantId}/upgrade-release/preview`, { imageTag }));
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
    await cp.api('PATCH', `/api/instances/${tenantId}`, { imageTag: null });
  });

  it('previews a release over any tenant .env with a 200 or a clear 400, never showing a value, never writing', async () => {
    const envBytes = fc.oneof(
      { weight: 4, arbitrary: envFile.map((f) => Buffer.from(serialize(f), 'utf8')) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(envFile, fc.uint8Array({ minLength: 1, maxLength: 50 }))
          .map(([f, junk]) => Buffer.concat([Buffer.from(serialize(f)), Buffer.from(junk), Buffer.from(`\nPOSTGRES_PASSWORD=${MARK}p\nAPI_SECRET=${MARK}s\n`)])),
      },
    );
    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(envBytes, async (bytes) => {
        await writeFile(path.join(tenantDir, '.env'), bytes);
        const before = await treeChecksums(tenantDir);
        const res = await cp.api('POST', `/api/instances/${tenantId}/upgrade-release/preview`, { imageTag: '1.1.0' });
        expect([200, 400], JSON.stringify(res.body)).toContain(res.status);
        const key = res.status === 200 ? '200' : `400 ${String(res.body.error).replace(/^.*?(does not define|failed|no \.env).*$/, '$1')}`;
        outcomes[key] = (outcomes[key] ?? 0) + 1;
        if (res.status === 400) expectClear400(res);
        expect(JSON.stringify(res.body)).not.toContain(MARK);
        expect(await treeChecksums(tenantDir)).toEqual(before);
      }),
      { numRuns: RUNS },
    );
    console.log(`[property] previews over generated .env files: ${JSON.stringify(outcomes)}`);
    tally['preview over generated .env'] = outcomes;
    expect(outcomes['200']).toBeGreaterThan(0);
  });

  it('answers operator actions and ids it does not know with 400 or 404', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('retry', 'rollback', 'abort', 'cancel')), fc.string({ minLength: 1, maxLength: 120 }), async (action, id) => {
        const res = await cp.api('POST', `/api/upgrades/${encodeURIComponent(id)}/${encodeURIComponent(action)}`);
        count('POST /api/upgrades/:id/:action', res.status);
        expect([400, 404], JSON.stringify(res.body)).toContain(res.status);
      }),
      { numRuns: RUNS },
    );
  });

  it('answers malformed JSON with 400 and oversized bodies with 413, and keeps serving', async () => {
    const auth = { authorization: `Bearer ${cp.operator.token}`, 'content-type': 'application/json' };
    const valid = JSON.stringify({ slug: 'x', name: 'x', composeDir: '/x' });
    const malformed = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.nat({ max: valid.length - 1 }).map((n) => valid.slice(0, n)),
      fc.tuple(fc.nat({ max: valid.length }), fc.constantFrom('{', '}', '"', ',', ':', '\\', '\u0000', 'NaN', '\ud800')).map(([n, c]) => valid.slice(0, n) + c + valid.slice(n)),
    ).filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    });
    await fc.assert(
      fc.asyncProperty(malformed, async (body) => {
        const res = await cp.request('POST', '/api/instances', { body, headers: auth });
        count('malformed JSON to the API', res.status);
        expect(res.status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(400);
      }),
      { numRuns: RUNS },
    );
    const big = await cp.request('POST', '/api/instances', { body: JSON.stringify({ slug: 'big', name: 'x'.repeat(300 * 1024), composeDir: '/x' }), headers: auth });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatch(/too large/);
    // Deeply nested JSON within the size limit.
    const deep = await cp.request('POST', '/api/instances', { body: '['.repeat(100_000) + ']'.repeat(100_000), headers: auth });
    expect(deep.status).toBe(400);
    // A client that declares 10 GiB and sends a trickle holds one connection (body-parser answers 413 only
    // once the body is drained, and Node's requestTimeout ends it), while the API goes on serving everyone else.
    const u = new URL('/api/instances', cp.url);
    const slow = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { ...auth, 'content-length': String(10 * 1024 ** 3) } });
    slow.on('error', () => {});
    slow.write('{"slug":');
    expect((await cp.anon('GET', '/healthz')).status).toBe(200);
    expect((await cp.api('GET', `/api/instances/${tenantId}`)).status).toBe(200);
    slow.destroy();
    expect((await cp.anon('GET', '/healthz')).status).toBe(200);
    expect((await cp.api('GET', '/api/instances')).status).toBe(200);
    expect(unhandled).toEqual([]);
  });
});

// ---------------------------------------------------------------- the agent

describe('bad bodies at a real agent', () => {
  let agent: AgentServer;
  let url: string;
  let client: { cert: string; key: string; ca: string };
  let dir: string;
  const slug = 'inputs-agent';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-agent-bodies-'));
    const ca = await createCertificateAuthority('bodies test CA');
    const server = await issueKeyAndCertificate(ca, { commonName: slug, dnsNames: [slug], usage: 'server' });
    const cpCert = await issueKeyAndCertificate(ca, { commonName: CONTROL_PLANE_CN, usage: 'client' });
    client = { cert: cpCert.certPem, key: cpCert.keyPem, ca: ca.certPem };
    const driver = createTenantDriver({ compose: await detectComposeVariant() }, { projectName: slug, dir });
    agent = createAgentServer({ slug, dir, driver, managed: DEFAULT_AGENT_MANAGED });
    agent.setCredentials({ key: server.keyPem, cert: server.certPem, ca: ca.certPem });
    url = `https://127.0.0.1:${(await agent.listen('127.0.0.1', 0)).port}`;
  });
  afterAll(async () => {
    await agent?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const post = (op: string, body: string | Buffer) => postToAgent(url, slug, op, body, client, { tolerateEarlyClose: true });

  it('answers malformed JSON and wrong argument shapes with 400, oversized bodies with 413, and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('ping', 'readFiles', 'writeFiles', 'upAll', 'restoreFiles', 'containerStates', 'serviceStates', 'pinRunningImages'),
        fc.oneof(
          fc.string({ maxLength: 40 }).filter((s) => {
            try {
              JSON.parse(s);
              return false;
            } catch {
              return true;
            }
          }),
          fc.anything({ maxDepth: 2 }).map((v) => JSON.stringify({ args: v }) ?? 'null'),
          fc.anything({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'),
        ),
        async (op, body) => {
          const res = await post(op, body);
          count('bad bodies to the agent', res.status);
          if (res.status === 200) {
            // It parsed as valid arguments (ping with [] say): the operation ran and ended.
            expect(res.body.trim().split('\n').at(-1)).toMatch(/"done":true/);
          } else {
            expect([400, 404, 413], res.body).toContain(res.status);
            expect(JSON.parse(res.body).code).toMatch(/^[a-z-]+$/);
          }
        },
      ),
      { numRuns: RUNS },
    );
    const small = await post('readFiles', JSON.stringify({ args: [['x'.repeat(70 * 1024)]] }));
    expect(small.status).toBe(413);
    const files = await post('writeFiles', JSON.stringify({ args: [['drydock/a'], [{ path: 'drydock/a', content: 'y'.repeat(17 * 1024 * 1024) }]] }));
    expect(files.status).toBe(413);
    expect(await readFile(path.join(dir, 'drydock/a'), 'utf8').catch(() => 'absent')).toBe('absent');
    expect((await post('ping', JSON.stringify({ args: [] }))).status).toBe(200);
    expect(unhandled).toEqual([]);
  });
});
