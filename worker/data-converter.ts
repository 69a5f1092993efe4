/**
 * Temporal payload encryption: every client and worker of drydock uses
 * `dataConverterFor(keyring)`, so workflow and activity inputs, results,
 * signals, updates, queries, memos and failure messages reach Temporal only
 * as AES-256-GCM ciphertext, sealed with the control plane's keyring (the
 * same keys as instance secrets; platform/keys.ts). Search attributes stay
 * plain: they are indexes, and drydock puts only slugs, modes, tags and
 * statuses in them.
 *
 * The codec runs outside the workflow sandbox; only the failure converter
 * (worker/failure-converter.cjs) is bundled into workflow code.
 */
import path from 'node:path';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
// CommonJS without named exports Node can detect: the default export is the module.
import proto from '@temporalio/proto';
import { KeyringError, type Keyring } from '../core/keyring.js';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const FAILURE_CONVERTER_PATH = path.join(import.meta.dirname, 'failure-converter.cjs');

const { Payload: PayloadProto } = proto.temporal.api.common.v1;
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export function isEncrypted(payload: Payload): boolean {
  return text(payload.metadata?.encoding) === ENCRYPTED_ENCODING;
}

/**
 * Seals each whole payload (metadata and data) into a new one that says only
 * that it is encrypted and with which key. Decoding passes plain payloads
 * through: histories written before encryption was on keep working.
 */
export class KeyringCodec implements PayloadCodec {
  constructor(private readonly keyring: Keyring) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const sealed = this.keyring.seal(PayloadProto.encode(payload).finish());
      return {
        metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(sealed.keyId) },
        data: sealed.data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (!isEncrypted(payload)) return payload;
      const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
      if (!keyId || !payload.data) throw new KeyringError(`an encrypted payload lacks its ${keyId ? 'data' : 'key id'}`);
      const decoded = PayloadProto.decode(this.keyring.open({ keyId, data: Buffer.from(payload.data) }));
      return { metadata: decoded.metadata, data: decoded.data };
    });
  }
}

/** A payload as the codec server protocol and the CLI's history JSON write it: protobuf JSON, bytes in base64. */
export interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

export function payloadFromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

export function payloadToJson(p: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

/** THE data converter: every Temporal client and worker of drydock is made with this. */
export function dataConverterFor(keyring: Keyring): DataConverter {
  return { payloadCodecs: [new KeyringCodec(keyring)], failureConverterPath: FAILURE_CONVERTER_PATH };
}
