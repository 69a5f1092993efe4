import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createCsr, derOf, generateKeyPair, pem } from './agent-keys.js';
import { parseCsr } from './pki.js';

describe("the agent's hand-built certificate request", () => {
  it('is read by the control plane with its common name, and its signature verifies', async () => {
    const keys = await generateKeyPair();
    const parsed = await parseCsr(await createCsr('acme-prod', keys));
    expect(parsed.commonName).toBe('acme-prod');
    expect(Buffer.from(await crypto.subtle.exportKey('spki', await parsed.publicKey.export())).equals(Buffer.from(derOf(keys.publicKeyPem, 'PUBLIC KEY')))).toBe(true);
  });

  it('is accepted by OpenSSL as a valid, self-signed PKCS#10 request', async () => {
    const csr = await createCsr('tenant-7', await generateKeyPair());
    const out = execFileSync('openssl', ['req', '-verify', '-noout', '-subject'], { input: csr, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
    expect(out).toMatch(/subject=CN\s*=\s*tenant-7/);
  });

  it('encodes long lengths correctly (a 300-byte common name)', async () => {
    const name = 'a'.repeat(300);
    expect((await parseCsr(await createCsr(name, await generateKeyPair()))).commonName).toBe(name);
  });

  it('fails verification once a byte of the signed part changes', async () => {
    const csr = derOf(await createCsr('acme-prod', await generateKeyPair()), 'CERTIFICATE REQUEST');
    const at = Buffer.from(csr).indexOf(Buffer.from('acme-prod'));
    csr[at] = 'b'.charCodeAt(0);
    await expect(parseCsr(pem('CERTIFICATE REQUEST', csr))).rejects.toThrow(/signature does not verify/);
  });
});
