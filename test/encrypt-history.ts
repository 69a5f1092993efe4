/**
 * `npx tsx test/encrypt-history.ts <history.json>...`: rewrites histories
 * recorded before payloads were encrypted as the SDK would have written them
 * with drydock's data converter and the TEST key: every payload (search
 * attributes and headers aside) sealed, every failure's message and stack
 * trace moved into encrypted encoded attributes. Used once, to keep the
 * pre-encryption histories as replay fixtures without the secrets they held.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { KeyringCodec, payloadFromJson, payloadToJson, type JsonPayload } from '../worker/data-converter.js';
import { testKeyring } from './test-key.js';

const codec = new KeyringCodec(testKeyring());
const seal = async (p: JsonPayload) => payloadToJson((await codec.encode([payloadFromJson(p)]))[0]!);
const isPayload = (v: object): v is JsonPayload => 'metadata' in v && Object.keys(v).every((k) => k === 'metadata' || k === 'data');
const isFailure = (v: object) => 'message' in v && Object.keys(v).some((k) => k === 'source' || k.endsWith('FailureInfo'));

/** Core's own marker details (local activity bookkeeping, patch ids) are read by Core, not the codec. */
const CORE_MARKER_DETAILS = ['data', 'patch-data'];

async function walk(v: unknown, inMarkerDetails = false): Promise<unknown> {
  if (Array.isArray(v)) return Promise.all(v.map((x) => walk(x)));
  if (typeof v !== 'object' || v === null) return v;
  if (isPayload(v)) return Buffer.from(v.metadata?.encoding ?? '', 'base64').toString() === 'binary/encrypted' ? v : seal(v);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const keep = k === 'searchAttributes' || k === 'header' || (inMarkerDetails && CORE_MARKER_DETAILS.includes(k));
    out[k] = keep ? x : await walk(x, k === 'details' && 'markerName' in v);
  }
  if (isFailure(v) && !('encodedAttributes' in v)) {
    const { message, stackTrace } = v as { message: string; stackTrace?: string };
    const attrs = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from(JSON.stringify({ message, stack_trace: stackTrace ?? '' })).toString('base64') };
    Object.assign(out, { message: 'Encoded failure', stackTrace: '', encodedAttributes: await seal(attrs) });
  }
  return out;
}

for (const file of process.argv.slice(2)) {
  const history = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, `${JSON.stringify(await walk(history), null, 2)}\n`);
  console.log(`encrypted ${file}`);
}
