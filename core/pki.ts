/**
 * The control plane's side of the agent channel, on Node's webcrypto and
 * @peculiar/x509 (pure JS): its CA, checking agents' PKCS#10 requests, and
 * signing their certificates. The agent's side (key pair, request) is
 * core/agent-keys.ts, re-exported here. No file I/O.
 */
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { derOf, fingerprint256, generateKeyPair, pem } from './agent-keys.js';
import * as x509 from '@peculiar/x509';

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

export { CONTROL_PLANE_CN, createCsr, fingerprint256, generateKeyPair, type KeyPairPem } from './agent-keys.js';

export interface IssuedCertificate {
  certPem: string;
  serial: string;
  /** sha256 of the DER, `AB:CD:…` as Node's X509Certificate.fingerprint256 writes it. */
  fingerprint256: string;
  notAfter: Date;
}

export interface ParsedCsr {
  commonName: string | undefined;
  publicKey: x509.PublicKey;
}

export const MAX_CSR_BYTES = 16 * 1024;

/** Parses a CSR and checks its self-signature; throws with the reason when it is not acceptable. */
export async function parseCsr(csrPem: string): Promise<ParsedCsr> {
  if (Buffer.byteLength(csrPem) > MAX_CSR_BYTES) throw new Error(`the CSR is larger than ${MAX_CSR_BYTES} bytes`);
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new Error(`the CSR is not a PEM PKCS#10 request: ${(err as Error).message}`);
  }
  const alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string; modulusLength?: number };
  const ecOk = alg.name === 'ECDSA' && ['P-256', 'P-384'].includes(alg.namedCurve ?? '');
  const rsaOk = alg.name?.startsWith('RSA') && (alg.modulusLength ?? 0) >= 2048;
  if (!ecOk && !rsaOk) throw new Error('the CSR key must be ECDSA P-256/P-384 or RSA of at least 2048 bits');
  if (!(await csr.verify())) throw new Error('the CSR signature does not verify');
  return { commonName: csr.subjectName.getField('CN')[0], publicKey: csr.publicKey };
}

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export async function createCertificateAuthority(commonName = 'drydock agent CA', years = 10): Promise<CertificateAuthority> {
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + years * 365 * 86_400_000),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}

export interface IssueOptions {
  commonName: string;
  /** DNS subjectAltNames. */
  dnsNames?: string[];
  usage: 'server' | 'client';
  notBefore?: Date;
  notAfter?: Date;
}

/** Signs a certificate for the public key with the CA's key. */
export async function issueCertificate(ca: CertificateAuthority, publicKey: x509.PublicKey | string, o: IssueOptions): Promise<IssuedCertificate> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const signingKey = await crypto.subtle.importKey('pkcs8', derOf(ca.keyPem, 'PRIVATE KEY'), EC, false, ['sign']);
  const subjectKey = typeof publicKey === 'string' ? new x509.PublicKey(derOf(publicKey, 'PUBLIC KEY')) : publicKey;
  const now = Date.now();
  const notAfter = o.notAfter ?? new Date(now + 365 * 86_400_000);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([o.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false),
    await x509.SubjectKeyIdentifierExtension.create(subjectKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
  ];
  if (o.dnsNames?.length) extensions.push(new x509.SubjectAlternativeNameExtension(o.dnsNames.map((value) => ({ type: 'dns' as const, value }))));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${o.commonName}`,
    issuer: caCert.subject,
    notBefore: o.notBefore ?? new Date(now - 5 * 60_000),
    notAfter,
    publicKey: subjectKey,
    signingKey,
    signingAlgorithm: SIGNING,
    extensions,
  });
  const certPem = cert.toString('pem');
  return { certPem, serial: cert.serialNumber, fingerprint256: fingerprint256(certPem), notAfter };
}

/** A fresh key pair and a certificate for it: the control plane's client identity, and test peers. */
export async function issueKeyAndCertificate(ca: CertificateAuthority, o: IssueOptions): Promise<IssuedCertificate & { keyPem: string }> {
  const keys = await generateKeyPair();
  return { ...(await issueCertificate(ca, keys.publicKeyPem, o)), keyPem: keys.privateKeyPem };
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** 16 random bytes with the top bit clear, so the DER integer stays positive. */
function randomSerial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

/** sha256 of the public key (SPKI DER) a CSR or certificate carries, `AB:CD:…`: the agent's identity, stable across certificates. */
export function keyFingerprint256(pemText: string): string {
  const key = pemText.includes('CERTIFICATE REQUEST')
    ? new x509.Pkcs10CertificateRequest(pemText).publicKey
    : new x509.X509Certificate(pemText).publicKey;
  return createHash('sha256').update(Buffer.from(key.rawData)).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}
