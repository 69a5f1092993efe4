import { createRequire } from 'node:module';
import { ApplicationFailure, defaultPayloadConverter, type FailureConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { createKeyring, generateKey, parseKeys } from '../core/keyring.js';
import { dataConverterFor, ENCRYPTED_ENCODING, FAILURE_CONVERTER_PATH, KEY_ID_METADATA, KeyringCodec } from './data-converter.js';

const ring = (...keys: string[]) => createKeyring(keys.map((k) => parseKeys(k, 'test')[0]!));
const text = (b?: Uint8Array | null) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const SECRET = 'POSTGRES_PASSWORD=pg-secret-Zx81';

describe('the payload codec', () => {
  it('seals a payload, metadata and all, and says only that it is encrypted and with which key', async () => {
    const keyring = ring(generateKey());
    const codec = new KeyringCodec(keyring);
    const plain = defaultPayloadConverter.toPayload({ files: { '.env': SECRET } });
    const [sealed] = await codec.encode([plain]);
    expect(text(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(sealed!.metadata![KEY_ID_METADATA])).toBe(keyring.currentKeyId);
    expect(Object.keys(sealed!.metadata!)).toEqual(['encoding', KEY_ID_METADATA]);
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('pg-secret');
    const [back] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(back!)).toEqual({ files: { '.env': SECRET } });
  });

  it('still opens payloads sealed with an old key after a rotation, and names a key that is gone', async () => {
    const oldKey = generateKey();
    const [sealed] = await new KeyringCodec(ring(oldKey)).encode([defaultPayloadConverter.toPayload('before the rotation')]);
    const rotated = new KeyringCodec(ring(generateKey(), oldKey));
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([sealed!]))[0]!)).toBe('before the rotation');
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload('after')]);
    expect(text(fresh!.metadata![KEY_ID_METADATA])).not.toBe(text(sealed!.metadata![KEY_ID_METADATA]));
    await expect(new KeyringCodec(ring(generateKey())).decode([sealed!])).rejects.toThrow(/not configured.*keep old keys/);
  });

  it('refuses a tampered payload', async () => {
    const codec = new KeyringCodec(ring(generateKey()));
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const data = Buffer.from(sealed!.data!);
    data[data.length - 1]! ^= 1;
    await expect(codec.decode([{ ...sealed!, data }])).rejects.toThrow(/did not authenticate/);
  });

  it('passes plain payloads through on decode (histories from before encryption)', async () => {
    const plain: Payload = defaultPayloadConverter.toPayload({ a: 1 });
    expect(await new KeyringCodec(ring(generateKey())).decode([plain])).toEqual([plain]);
  });
});

describe('the failure converter every client and worker loads', () => {
  it('moves failure messages and stack traces into a payload, which the codec then encrypts', () => {
    expect(dataConverterFor(ring(generateKey())).failureConverterPath).toBe(FAILURE_CONVERTER_PATH);
    const { failureConverter } = createRequire(import.meta.url)(FAILURE_CONVERTER_PATH) as { failureConverter: FailureConverter };
    const failure = failureConverter.errorToFailure(ApplicationFailure.nonRetryable(`compose said ${SECRET}`, 'up-failed'), defaultPayloadConverter);
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    expect(JSON.stringify(failure)).not.toContain('pg-secret');
    const back = failureConverter.failureToError(failure, defaultPayloadConverter);
    expect(back.message).toBe(`compose said ${SECRET}`);
  });
});
