/**
 * The codec server on the real control plane: the Temporal web console's
 * protocol (`POST …/codec/decode` with `{payloads}`), for signed-in operators
 * only, and for browsers on the console's origin only.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyringCodec, payloadToJson } from '../worker/data-converter.js';
import { startTestControlPlane, type TestControlPlane } from './support.js';
import { testKeyring } from './test-key.js';

const SECRET = 'POSTGRES_PASSWORD=pg-secret-Zx81';
const codec = new KeyringCodec(testKeyring());
const plainText = (p: { data: string }) => Buffer.from(p.data, 'base64').toString('utf8');

describe('the codec server for the Temporal web console', () => {
  let cp: TestControlPlane;
  let sealed: ReturnType<typeof payloadToJson>;
  let consoleOrigin: string;
  let cookie: string;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    consoleOrigin = new URL(cp.temporalUiUrl!).origin;
    sealed = payloadToJson((await codec.encode([defaultPayloadConverter.toPayload({ env: SECRET })]))[0]!);
    const login = await cp.request('POST', '/api/auth/login', { body: { email: cp.operator.email, password: cp.operator.password } });
    expect(login.status).toBe(200);
    cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  });
  afterAll(async () => cp?.stop());

  it('decodes for an operator with an API token, at /codec and under the namespace', async () => {
    for (const path of ['/codec/decode', '/default/codec/decode']) {
      const res = await cp.api('POST', path, { payloads: [sealed] });
      expect(res.status, path).toBe(200);
      expect(JSON.parse(plainText(res.body.payloads[0]))).toEqual({ env: SECRET });
      expect(Buffer.from(res.body.payloads[0].metadata.encoding, 'base64').toString()).toBe('json/plain');
    }
    expect((await cp.api('POST', '/other/codec/decode', { payloads: [sealed] })).status).toBe(404);
  });

  it('encodes what it decodes back, sealed with the current key', async () => {
    const plain = payloadToJson(defaultPayloadConverter.toPayload('hello'));
    const encoded = await cp.api('POST', '/codec/encode', { payloads: [plain] });
    expect(encoded.status).toBe(200);
    expect(Buffer.from(encoded.body.payloads[0].metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
    const decoded = await cp.api('POST', '/codec/decode', encoded.body);
    expect(decoded.body.payloads).toEqual([plain]);
  });

  it('answers nobody who is not signed in, and leaks nothing while refusing', async () => {
    const callers: Record<string, string>[] = [{}, { cookie: 'drydock_session=forged' }, { authorization: `Bearer ddk_${'x'.repeat(43)}` }];
    for (const headers of callers) {
      const res = await cp.request('POST', '/codec/decode', { headers, body: { payloads: [sealed] } });
      expect(res.status).toBe(401);
      expect(JSON.stringify(res.body)).not.toContain('pg-secret');
    }
  });

  it('lets the console, signed in by cookie, call it across origins with credentials', async () => {
    const preflight = await cp.request('OPTIONS', '/codec/decode', {
      headers: { origin: consoleOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(consoleOrigin);
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/x-namespace/);

    const res = await cp.request('POST', '/codec/decode', {
      headers: { origin: consoleOrigin, cookie, 'x-namespace': 'default' },
      body: { payloads: [sealed] },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(consoleOrigin);
    expect(JSON.parse(plainText(res.body.payloads[0]))).toEqual({ env: SECRET });
  });

  it('refuses browsers on any other origin, and a cookie-borne form post that is not JSON', async () => {
    const evil = 'http://127.0.0.1:1';
    const preflight = await cp.request('OPTIONS', '/codec/decode', { headers: { origin: evil, 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const fromEvil = await cp.request('POST', '/codec/decode', { headers: { origin: evil, cookie }, body: { payloads: [sealed] } });
    expect(fromEvil.status).toBe(403);
    expect(JSON.stringify(fromEvil.body)).not.toContain('pg-secret');

    const form = await fetch(`${cp.url}/codec/decode`, { method: 'POST', headers: { cookie, 'content-type': 'text/plain' }, body: JSON.stringify({ payloads: [sealed] }) });
    expect(form.status).toBe(415);
  });

  it('says what is wrong with a payload it cannot open, without a stack trace', async () => {
    const res = await cp.api('POST', '/codec/decode', { payloads: [{ ...sealed, data: Buffer.from('short').toString('base64') }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/truncated|did not authenticate/);
    expect((await cp.api('POST', '/codec/decode', { nope: 1 })).status).toBe(400);
  });
});
