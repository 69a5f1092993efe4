import { describe, expect, it } from 'vitest';
import { createKeyring, generateKey, keyIdOf, parseKeys } from './keyring.js';

const [keyA] = parseKeys(generateKey(), 'test') as [Buffer];
const [keyB] = parseKeys(generateKey(), 'test') as [Buffer];

describe('keyring', () => {
  it('opens what it sealed, and the ciphertext does not contain the plaintext', () => {
    const ring = createKeyring([keyA]);
    const sealed = ring.sealString('pg-secret-Zx81', 'instance:1:DB_PASSWORD');
    expect(sealed).not.toContain('pg-secret');
    expect(sealed.startsWith(`dd1.${ring.currentKeyId}.`)).toBe(true);
    expect(ring.openString(sealed, 'instance:1:DB_PASSWORD')).toBe('pg-secret-Zx81');
  });

  it('refuses a value sealed for another place (AAD) or altered', () => {
    const ring = createKeyring([keyA]);
    const sealed = ring.seal(Buffer.from('x'), 'a');
    expect(() => ring.open(sealed, 'b')).toThrow(/did not authenticate/);
    sealed.data.writeUInt8(sealed.data.readUInt8(sealed.data.length - 1) ^ 1, sealed.data.length - 1);
    expect(() => ring.open(sealed, 'a')).toThrow(/did not authenticate/);
  });

  it('after a rotation seals with the new key and still opens with the old one', () => {
    const old = createKeyring([keyA]);
    const sealedOld = old.sealString('before');
    const rotated = createKeyring([keyB, keyA]);
    expect(rotated.currentKeyId).toBe(keyIdOf(keyB));
    expect(rotated.openString(sealedOld)).toBe('before');
    expect(rotated.sealString('after').split('.')[1]).toBe(keyIdOf(keyB));
  });

  it('names a missing key by id and never prints key material', () => {
    const sealed = createKeyring([keyA]).sealString('v');
    expect(() => createKeyring([keyB]).openString(sealed)).toThrow(new RegExp(`key ${keyIdOf(keyA)}, which is not configured`));
    const bad = 'c2hvcnQ=';
    expect(() => parseKeys(`${generateKey()},${bad}`, 'DRYDOCK_SECRET_KEY')).toThrow(/DRYDOCK_SECRET_KEY: key 2 is not 32 bytes/);
    try {
      parseKeys(bad, 'X');
    } catch (err) {
      expect((err as Error).message).not.toContain(bad);
    }
  });

  it('reads a key file with comments and blank lines', () => {
    const a = generateKey();
    const b = generateKey();
    expect(parseKeys(`# current\n${a}\n\n# old\n${b}\n`, 'file')).toHaveLength(2);
  });
});
