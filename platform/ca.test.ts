import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_PLANE_CN, createCsr, generateKeyPair } from '../core/pki.js';
import { openCa } from './ca.js';

describe('the control plane CA on disk', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'drydock-ca-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('is created on first start with its key at 0600, and the same CA is loaded afterwards', async () => {
    const dir = path.join(root, 'a');
    const first = await openCa(dir);
    expect((await stat(path.join(dir, 'ca.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const again = await openCa(dir);
    expect(again.fingerprint256).toBe(first.fingerprint256);
    expect(again.clientCredentials.cert).toBe(first.clientCredentials.cert);
  });

  it('issues the control plane a client certificate from the same CA', async () => {
    const ca = await openCa(path.join(root, 'b'));
    const cert = new X509Certificate(ca.clientCredentials.cert);
    expect(cert.subject).toBe(`CN=${CONTROL_PLANE_CN}`);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it('tightens a CA key left readable by others', async () => {
    const dir = path.join(root, 'c');
    await openCa(dir);
    await chmod(path.join(dir, 'ca.key'), 0o644);
    const warnings: string[] = [];
    await openCa(dir, (m) => warnings.push(m));
    expect((await stat(path.join(dir, 'ca.key'))).mode & 0o777).toBe(0o600);
    expect(warnings.join()).toMatch(/readable by others/);
  });

  it('signs a CSR for its slug as a server certificate, and refuses one naming another slug', async () => {
    const ca = await openCa(path.join(root, 'd'));
    const csr = await createCsr('acme', await generateKeyPair());
    const issued = await ca.signAgentCsr(csr, 'acme');
    const cert = new X509Certificate(issued.certPem);
    expect(cert.subjectAltName).toBe('DNS:acme');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(issued.fingerprint256).toBe(cert.fingerprint256);
    await expect(ca.signAgentCsr(csr, 'other')).rejects.toThrow(/names acme, not other/);
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const ca = await openCa(path.join(root, 'd'));
    const csr = await createCsr('acme', await generateKeyPair());
    const lines = csr.trim().split('\n');
    const body = Buffer.from(lines.slice(1, -1).join(''), 'base64');
    body[body.length - 5]! ^= 0xff; // flip bits in the signature
    const tampered = `${lines[0]}\n${body.toString('base64')}\n${lines.at(-1)}\n`;
    await expect(ca.signAgentCsr(tampered, 'acme')).rejects.toThrow(/signature|PKCS#10/);
  });
});
