/**
 * What the agent needs of the certificate machinery, on node:crypto alone: its
 * ECDSA P-256 key pair, a PKCS#10 request for its slug, and certificate
 * fingerprints. The control plane's side (parsing requests, signing
 * certificates) is core/pki.ts; it costs the agent ~16 MB of resident memory
 * it never uses after registering, so the agent does not load it.
 */
import { createHash, createPublicKey, generateKeyPair as generateKeyPairCb, sign, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';

export { CONTROL_PLANE_CN } from './validation.js';

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

export async function generateKeyPair(): Promise<KeyPairPem> {
  const { privateKey, publicKey } = await promisify(generateKeyPairCb)('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

export function pem(label: string, der: Uint8Array | ArrayBuffer): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export function derOf(text: string, label: string): Uint8Array<ArrayBuffer> {
  const m = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`).exec(text);
  if (!m) throw new Error(`not a PEM ${label}`);
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/** One DER element: tag, definite length, content. */
function der(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  if (n > 0xffff) throw new Error('DER element too long');
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID_COMMON_NAME = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
const OID_ECDSA_WITH_SHA256 = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);

/**
 * A PKCS#10 request (RFC 2986) for `CN=<commonName>`, signed by the key
 * (proof of possession): version 0, the subject, the public key, no
 * attributes, ecdsa-with-SHA256.
 */
export async function createCsr(commonName: string, keys: KeyPairPem): Promise<string> {
  const subject = der(SEQUENCE, der(SET, der(SEQUENCE, OID_COMMON_NAME, der(0x0c, Buffer.from(commonName, 'utf8')))));
  const info = der(SEQUENCE, Buffer.from([0x02, 0x01, 0x00]), subject, derOf(keys.publicKeyPem, 'PUBLIC KEY'), Buffer.from([0xa0, 0x00]));
  const signature = sign('sha256', info, { key: keys.privateKeyPem, dsaEncoding: 'der' });
  const request = der(SEQUENCE, info, der(SEQUENCE, OID_ECDSA_WITH_SHA256), der(0x03, Buffer.from([0x00]), signature));
  return pem('CERTIFICATE REQUEST', request);
}

/** sha256 of the certificate's DER, `AB:CD:…`. */
export function fingerprint256(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** sha256 of the public key (SPKI DER), `AB:CD:…`: what the Agents page shows of a registration (core/pki.ts keyFingerprint256). */
export function publicKeyFingerprint256(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}
