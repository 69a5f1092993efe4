/**
 * The remote driver against a hostile agent: a real HTTPS server with a
 * certificate our CA signed for the slug (a tenant host that was approved,
 * then turned), answering over real mutual TLS with a line that never ends
 * or JSON of the wrong shape. The driver refuses each with a clear error and
 * holds no more than its line cap of the answer.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_API_PREFIX } from '../core/agent-protocol.js';
import { TenantError } from '../core/driver.js';
import { CONTROL_PLANE_CN, createCertificateAuthority, issueKeyAndCertificate } from '../core/pki.js';
import { createRemoteDriver, MAX_ANSWER_LINE_BYTES, type RemoteCredentials } from './remote.js';

type Answer = (res: import('node:http').ServerResponse) => void;

describe('the remote driver facing a hostile agent over real mutual TLS', () => {
  const slug = 'turned';
  let server: https.Server;
  let url: string;
  let fingerprint: string;
  let client: RemoteCredentials;
  let answer: Answer = (res) => res.end();
  /** Bytes the stand-in got onto the wire before the driver hung up. */
  let sent = 0;

  beforeAll(async () => {
    const ca = await createCertificateAuthority();
    const cp = await issueKeyAndCertificate(ca, { commonName: CONTROL_PLANE_CN, usage: 'client' });
    client = { ca: ca.certPem, cert: cp.certPem, key: cp.keyPem };
    const agentCert = await issueKeyAndCertificate(ca, { commonName: slug, dnsNames: [slug], usage: 'server' });
    fingerprint = agentCert.fingerprint256;
    server = https.createServer({ key: agentCert.keyPem, cert: agentCert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      req.resume();
      req.on('end', () => {
        // Not sent until the first write: an answer may set another status.
        res.statusCode = 200;
        res.setHeader('content-type', 'application/x-ndjson');
        answer(res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const driver = () =>
    createRemoteDriver({ slug, credentials: client, resolve: async () => ({ agentUrl: url, fingerprint256: fingerprint }), connectTimeoutMs: 5_000, idleTimeoutMs: 10_000 });

  it('refuses an answer line longer than the cap, hanging up instead of reading on, with memory bounded', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    const offered = 8 * MAX_ANSWER_LINE_BYTES;
    sent = 0;
    // A line that never ends: as fast as the connection takes it, up to 8 times the cap.
    answer = (res) => {
      res.write('{"progress":"');
      const pump = () => {
        while (sent < offered && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => void 0);
      pump();
    };
    const before = process.memoryUsage();
    let peak = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - before.heapUsed - before.arrayBuffers);
    }, 5);
    const started = Date.now();
    const err = await driver()
      .pull(['api'], {}, { onProgress: () => {} })
      .then(() => undefined, (e: unknown) => e);
    clearInterval(sampler);
    expect(err).toBeInstanceOf(TenantError);
    expect((err as TenantError).code).toBe('agent-refused');
    expect((err as Error).message).toMatch(new RegExp(`the agent at ${url} sent an answer line longer than ${MAX_ANSWER_LINE_BYTES} bytes for pull; the answer was refused`));
    // It hung up near the cap (socket buffers on both ends aside), not after all it was offered.
    expect(sent).toBeLessThan(MAX_ANSWER_LINE_BYTES + 16 * 1024 * 1024);
    expect(peak).toBeLessThan(3 * MAX_ANSWER_LINE_BYTES);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it.each([
    ['an error that is not an object', '{"done":true,"error":"boom"}', /a line of the wrong shape/],
    ['a line that is not an object', '[1,2,3]', /a line of the wrong shape/],
    ['progress that is not text', '{"progress":{"x":1}}', /a line of the wrong shape/],
    ['unknown keys', '{"done":true,"result":["api"],"exec":"rm -rf /"}', /a line of the wrong shape/],
    ['a result of the wrong shape', '{"done":true,"result":"api nginx"}', /a listServices result of the wrong shape/],
    ['services that are not names', '{"done":true,"result":[{"name":"api"}]}', /a listServices result of the wrong shape \(0:/],
    ['no JSON at all', 'HTTP/1.1 200 OK', /an unparsable answer line/],
  ])('refuses %s with a clear error', async (_what, line, message) => {
    answer = (res) => res.end(`${line}\n`);
    const err = await driver()
      .listServices()
      .then((v) => new Error(`accepted: ${JSON.stringify(v)}`), (e: unknown) => e);
    expect(err).toBeInstanceOf(TenantError);
    expect((err as TenantError).code).toBe('agent-refused');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(`the agent at ${url}`);
  });

  it('hangs up on an error answer that never ends, keeping the first MiB of it', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    sent = 0;
    answer = (res) => {
      res.statusCode = 500;
      const pump = () => {
        while (!res.destroyed && sent < 1024 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    const started = Date.now();
    const err = await driver()
      .ping()
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TenantError);
    expect((err as Error).message).toMatch(/^the agent at https:\/\/127\.0\.0\.1:\d+: HTTP 500: x{300}$/);
    expect(sent).toBeLessThan(1024 * 1024 + 16 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('says the agent is unreachable when its answer ends before the operation does', async () => {
    answer = (res) => res.end('{"keepalive":true}\n');
    await expect(driver().listServices()).rejects.toMatchObject({
      code: 'agent-unreachable',
      message: expect.stringContaining('the connection closed before the operation ended'),
    });
  });

  it('still takes a well-formed answer', async () => {
    answer = (res) => res.end('{"keepalive":true}\n{"done":true,"result":["api","nginx"]}\n');
    expect(await driver().listServices()).toEqual(['api', 'nginx']);
    answer = (res) => res.end('{"done":true,"error":{"code":"compose-failed","message":"compose config: bad file"}}\n');
    await expect(driver().listServices()).rejects.toMatchObject({ code: 'compose-failed', message: 'compose config: bad file' });
  });
});
