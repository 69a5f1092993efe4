/**
 * The control plane's secret keys, in one place: instance secrets at rest in
 * PostgreSQL and Temporal payloads are both sealed with these (AES-256-GCM).
 * Several keys may be configured so keys can rotate: the first one seals,
 * every one opens what it sealed. A key's id is derived from the key itself,
 * so it cannot be mislabelled, and is stored beside every ciphertext.
 *
 * Pure apart from node:crypto; loading the keys from the environment or the
 * data directory is platform/keys.ts.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Prefix of a sealed string, so a plain value can never be mistaken for one. */
const SEALED_PREFIX = 'dd1';

export interface Sealed {
  keyId: string;
  /** IV ‖ ciphertext ‖ GCM tag. */
  data: Buffer;
}

export interface Keyring {
  /** The id of the key that seals. */
  readonly currentKeyId: string;
  readonly keyIds: readonly string[];
  /** `aad` binds the ciphertext to its place (e.g. an instance id and field): moved elsewhere, it will not open. */
  seal(plaintext: Uint8Array, aad?: string): Sealed;
  open(sealed: Sealed, aad?: string): Buffer;
  /** `dd1.<keyId>.<base64url>`: for a text column. */
  sealString(plaintext: string, aad?: string): string;
  openString(sealed: string, aad?: string): string;
}

export class KeyringError extends Error {
  override name = 'KeyringError';
}

/** The id of a key: 16 hex digits of its SHA-256, which reveal nothing useful about it. */
export function keyIdOf(key: Uint8Array): string {
  return createHash('sha256').update('drydock-key-id\0').update(key).digest('hex').slice(0, 16);
}

/** A new random key, base64, as DRYDOCK_SECRET_KEY and the key file hold it. */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/**
 * Parses keys as configured: base64 keys of 32 bytes, separated by commas,
 * white space or newlines (blank lines and `#` comments are allowed in a key
 * file). `source` names where they came from, for the error message; a key
 * itself is never part of a message.
 */
export function parseKeys(text: string, source: string): Buffer[] {
  const items = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(',')
    .split(/[\s,]+/)
    .filter(Boolean);
  if (items.length === 0) throw new KeyringError(`${source} holds no key`);
  return items.map((item, i) => {
    const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(item) ? Buffer.from(item, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) {
      throw new KeyringError(`${source}: key ${i + 1} is not ${KEY_BYTES} bytes of base64 (make one with: openssl rand -base64 32)`);
    }
    return key;
  });
}

export function createKeyring(keys: Uint8Array[]): Keyring {
  if (keys.length === 0) throw new KeyringError('a keyring needs at least one key');
  const byId = new Map<string, Buffer>();
  for (const key of keys) {
    if (key.length !== KEY_BYTES) throw new KeyringError(`a key must be ${KEY_BYTES} bytes`);
    byId.set(keyIdOf(key), Buffer.from(key));
  }
  const currentKeyId = keyIdOf(keys[0]!);

  function seal(plaintext: Uint8Array, aad?: string): Sealed {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', byId.get(currentKeyId)!, iv);
    if (aad !== undefined) cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { keyId: currentKeyId, data: Buffer.concat([iv, body, cipher.getAuthTag()]) };
  }

  function open(sealed: Sealed, aad?: string): Buffer {
    const key = byId.get(sealed.keyId);
    if (!key) {
      throw new KeyringError(`sealed with key ${sealed.keyId}, which is not configured (configured: ${[...byId.keys()].join(', ')}); keep old keys after a rotation`);
    }
    if (sealed.data.length < IV_BYTES + TAG_BYTES) throw new KeyringError('sealed data is truncated');
    const iv = sealed.data.subarray(0, IV_BYTES);
    const tag = sealed.data.subarray(sealed.data.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    if (aad !== undefined) decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.data.subarray(IV_BYTES, sealed.data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new KeyringError(`sealed data did not authenticate with key ${sealed.keyId} (altered, or sealed for another place)`);
    }
  }

  return {
    currentKeyId,
    keyIds: [...byId.keys()],
    seal,
    open,
    sealString(plaintext, aad) {
      const { keyId, data } = seal(Buffer.from(plaintext, 'utf8'), aad);
      return `${SEALED_PREFIX}.${keyId}.${data.toString('base64url')}`;
    },
    openString(text, aad) {
      const [prefix, keyId, data, ...rest] = text.split('.');
      if (prefix !== SEALED_PREFIX || keyId === undefined || data === undefined || rest.length > 0) throw new KeyringError('not a sealed value');
      return open({ keyId, data: Buffer.from(data, 'base64url') }, aad).toString('utf8');
    },
  };
}
