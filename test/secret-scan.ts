/**
 * Looks for tenant secrets in a workflow history as stored (the CLI's JSON):
 * in the raw text, and inside every base64 string (payload data and metadata),
 * decoded, to two levels. A hit names the secret and where it was found.
 */

/** The tenant `.env` values the release fixtures use (test/harness/release-tenant.ts). */
export const FIXTURE_SECRETS = ['pg-secret-Zx81', 'api-secret-Qm42'];
/** A `.env` line with its value, whatever the value: `.env` bytes in a history. */
export const ENV_LINE = /(POSTGRES_PASSWORD|API_SECRET)=[^\s"\\]/;

const CORE_MARKER_DETAILS = ['data', 'patch-data'];
const BASE64_STRING = /"([A-Za-z0-9+/_-]{12,}={0,2})"/g;

export function secretHits(text: string, secrets: readonly (string | RegExp)[] = [...FIXTURE_SECRETS, ENV_LINE], where = 'raw JSON', depth = 0): string[] {
  const hits = secrets
    .filter((s) => (typeof s === 'string' ? text.includes(s) : s.test(text)))
    .map((s) => `${String(s)} in ${where}`);
  if (depth >= 2) return hits;
  for (const m of text.matchAll(BASE64_STRING)) {
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    hits.push(...secretHits(JSON.stringify(decoded), secrets, `base64 at offset ${m.index} of ${where}`, depth + 1));
    hits.push(...secretHits(decoded, secrets, `base64 at offset ${m.index} of ${where}`, depth + 1));
  }
  return [...new Set(hits)];
}

/**
 * Every payload of a history (inputs, results, failures' encoded attributes,
 * memos, heartbeats, signals, updates) whose encoding is not `binary/encrypted`.
 * Search attributes are indexes and stay plain; headers carry no user data;
 * Core's own marker details (local activity bookkeeping, patch ids) are read
 * by Core itself and hold no user data either.
 */
export function plainPayloads(history: unknown): string[] {
  const found: string[] = [];
  const isPayload = (v: unknown): v is { metadata?: Record<string, string> } =>
    typeof v === 'object' && v !== null && 'metadata' in v && Object.keys(v).every((k) => ['metadata', 'data', 'externalPayloads'].includes(k));
  const walk = (v: unknown, at: string, inMarkerDetails = false) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${at}[${i}]`));
    if (typeof v !== 'object' || v === null) return;
    if (isPayload(v)) {
      const encoding = Buffer.from(v.metadata?.encoding ?? '', 'base64').toString('utf8');
      if (encoding !== 'binary/encrypted') found.push(`${at} (${encoding || 'no encoding'})`);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      if (k === 'searchAttributes' || k === 'header' || (inMarkerDetails && CORE_MARKER_DETAILS.includes(k))) continue;
      walk(x, `${at}.${k}`, k === 'details' && 'markerName' in v);
    }
  };
  walk(history, '');
  return found;
}
