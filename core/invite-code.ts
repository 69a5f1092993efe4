/**
 * Invite codes carry the fingerprint of the control plane's CA, as
 * `kubeadm join` carries the discovery hash: `<secret>.<sha256 of the CA
 * certificate, base64url>`. The agent pins the CA from the code alone, so a
 * man in the middle who swaps the CA certificate in the poll answer is
 * refused, with nothing else to type. The control plane keeps only a hash of
 * the whole code. Codes without the fingerprint part (made before it existed)
 * still register; such an agent needs `--ca-fingerprint` to pin the CA.
 */

const FINGERPRINT_BYTES = 32;

/** `AB:CD:…` (Node's X509Certificate.fingerprint256) as the code's base64url part. */
export function inviteCode(secret: string, caFingerprint256: string): string {
  return `${secret}.${Buffer.from(fingerprintBytes(caFingerprint256)).toString('base64url')}`;
}

/** The CA fingerprint an invite code carries (`AB:CD:…`), undefined for a code without one; throws for a malformed one. */
export function caFingerprintOfInvite(code: string): string | undefined {
  const dot = code.lastIndexOf('.');
  if (dot < 0) return undefined;
  const bytes = Buffer.from(code.slice(dot + 1), 'base64url');
  if (bytes.length !== FINGERPRINT_BYTES || bytes.toString('base64url') !== code.slice(dot + 1)) {
    throw new Error('the invite code is damaged: its CA fingerprint part is not a sha256 fingerprint (copy the whole code)');
  }
  return colonHex(bytes);
}

/** `AB:CD:…`, `abcd…` or `sha256:abcd…` as `AB:CD:…`; throws when it is not a sha256 fingerprint. */
export function normalizeFingerprint(fp: string): string {
  return colonHex(fingerprintBytes(fp));
}

function fingerprintBytes(fp: string): Uint8Array {
  const hex = fp.trim().replace(/^sha256:/i, '').replace(/:/g, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`${JSON.stringify(fp.slice(0, 120))} is not a sha256 fingerprint (64 hex digits, colons optional)`);
  return Buffer.from(hex, 'hex');
}

function colonHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}
