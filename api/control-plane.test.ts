import { execFile } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startTestControlPlane } from '../test/support.js';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { createApp } from './app.js';
import { tlsFromEnv, trustProxyFromEnv } from './control-plane.js';

describe('starting the control plane', () => {
  it('says the port is taken, and by which address, instead of claiming to serve it', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(startTestControlPlane({ port })).rejects.toThrow(`port ${port} on 127.0.0.1 is taken: stop what uses it, or set PORT to another port`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('settings that decide whom the control plane trusts', () => {
  it('refuses DRYDOCK_TRUST_PROXY=true, saying to give a hop count or addresses', () => {
    expect(() => trustProxyFromEnv('true')).toThrow(/DRYDOCK_TRUST_PROXY=true would trust every X-Forwarded-For hop.*DRYDOCK_TRUST_PROXY=1.*addresses/);
  });

  it('takes a hop count or addresses, and nothing else', () => {
    expect(trustProxyFromEnv('1')).toBe(1);
    expect(trustProxyFromEnv(' 2 ')).toBe(2);
    expect(trustProxyFromEnv('loopback')).toBe('loopback');
    expect(trustProxyFromEnv('10.0.0.5, 10.0.0.0/8,::1')).toBe('10.0.0.5,10.0.0.0/8,::1');
    expect(trustProxyFromEnv(undefined)).toBeUndefined();
    expect(trustProxyFromEnv('false')).toBeUndefined();
    expect(() => trustProxyFromEnv('yes')).toThrow(/"yes" is not a hop count/);
    expect(() => trustProxyFromEnv('loopback,everyone')).toThrow(/"everyone"/);
  });

  it('refuses trust proxy true in the app itself, whoever builds it', () => {
    expect(() => createApp({ trustProxy: true as unknown as number } as Parameters<typeof createApp>[0])).toThrow(/never true/);
  });

  it('will not start with DRYDOCK_TRUST_PROXY=true: `npm start` exits 1 with what to use instead, before opening anything', async () => {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DRYDOCK_TRUST_PROXY: 'true', DRYDOCK_DATA_DIR: path.join(os.tmpdir(), 'drydock-never-opened'), PORT: '0' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/drydock could not start: DRYDOCK_TRUST_PROXY=true would trust every X-Forwarded-For hop/);
  });

  it('needs both DRYDOCK_TLS_CERT and DRYDOCK_TLS_KEY, and says which file it cannot use', async () => {
    expect(tlsFromEnv(undefined, undefined)).toBeUndefined();
    expect(() => tlsFromEnv('/etc/cert.pem', undefined)).toThrow(/set both DRYDOCK_TLS_CERT and DRYDOCK_TLS_KEY/);
    await expect(startTestControlPlane({ runWorker: false, tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' } })).rejects.toThrow(
      'the TLS certificate /nonexistent/cert.pem cannot be read: ENOENT',
    );
  });
});
