/**
 * The agent's conversation with the control plane before it is trusted:
 * register once, then poll until an operator decides.
 *
 * The loop schedules itself (one setTimeout at a time, never an interval):
 * every 30 s normally; after a 429, a connection error or a 5xx it backs off
 * 30 → 60 → 120 → 300 s (the cap), waiting longer when Retry-After says so,
 * and returns to 30 s after any 2xx. It ends on a decision, so an agent never
 * needs a restart to get past a rate limit or a control plane that was down.
 */
import http from 'node:http';
import https from 'node:https';
import { readBody } from '../tenant/http-body.js';

export interface PollSchedule {
  normalMs: number;
  /** Successive waits after failures; the last one repeats. */
  backoffMs: readonly number[];
}

export const DEFAULT_POLL_SCHEDULE: PollSchedule = { normalMs: 30_000, backoffMs: [30_000, 60_000, 120_000, 300_000] };

export type AttemptOutcome<T> =
  /** A 2xx without a decision yet. */
  | { kind: 'again' }
  /** 429, a 5xx or no connection: back off. */
  | { kind: 'backoff'; retryAfterMs?: number; why: string }
  /** A decision, or an answer retrying cannot change. */
  | { kind: 'done'; value: T };

/** The wait before the next attempt, and the failure count it leaves. */
export function nextDelay(schedule: PollSchedule, failures: number, outcome: AttemptOutcome<unknown>): { delayMs: number; failures: number } {
  if (outcome.kind !== 'backoff') return { delayMs: schedule.normalMs, failures: 0 };
  const step = schedule.backoffMs[Math.min(failures, schedule.backoffMs.length - 1)] ?? schedule.normalMs;
  return { delayMs: Math.max(step, outcome.retryAfterMs ?? 0), failures: failures + 1 };
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface PollLoop<T> {
  /** Settles with the decision, or rejects when stopped. */
  result: Promise<T>;
  stop(): void;
}

/**
 * Runs `attempt` now, then again after each wait `nextDelay` gives, until it
 * is done. An attempt that throws counts as a connection error.
 */
export function pollUntilDone<T>(
  attempt: () => Promise<AttemptOutcome<T>>,
  opts: { schedule?: PollSchedule; timers?: Timers; log?: (m: string) => void; onWait?: (ms: number, outcome: AttemptOutcome<T>) => void } = {},
): PollLoop<T> {
  const schedule = opts.schedule ?? DEFAULT_POLL_SCHEDULE;
  const timers = opts.timers ?? realTimers;
  let failures = 0;
  let stopped = false;
  let handle: unknown;
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const result = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));

  async function tick() {
    if (stopped) return;
    let outcome: AttemptOutcome<T>;
    try {
      outcome = await attempt();
    } catch (err) {
      outcome = { kind: 'backoff', why: (err as Error).message };
    }
    if (stopped) return;
    if (outcome.kind === 'done') {
      stopped = true;
      resolve(outcome.value);
      return;
    }
    const next = nextDelay(schedule, failures, outcome);
    failures = next.failures;
    if (outcome.kind === 'backoff') opts.log?.(`${outcome.why}; trying again in ${Math.round(next.delayMs / 1000)}s`);
    opts.onWait?.(next.delayMs, outcome);
    handle = timers.setTimeout(() => void tick(), next.delayMs);
  }

  void tick();
  return {
    result,
    stop() {
      if (stopped) return;
      stopped = true;
      timers.clearTimeout(handle);
      reject(new Error('polling stopped'));
    },
  };
}

// ---------------------------------------------------------------------------
// The control plane's two endpoints, as outcomes for the loop.

export interface HttpAnswer {
  status: number;
  retryAfterMs?: number;
  body: any;
}

const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * POSTs JSON; connection errors and timeouts throw. node:http(s) rather than
 * fetch: fetch's first use loads undici, about 12 MB of the agent's memory.
 */
export function postJson(url: string, body: unknown, timeoutMs = 15_000): Promise<HttpAnswer> {
  const payload = JSON.stringify(body);
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
  if (!client) return Promise.reject(new Error(`${url}: only http and https URLs are supported`));
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = client.request(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      timeout: timeoutMs,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.origin} within ${timeoutMs / 1000}s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      readBody(res, MAX_ANSWER_BYTES, () => new Error(`the answer from ${target.origin} is larger than ${MAX_ANSWER_BYTES} bytes`)).then((text) => {
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = { error: text.slice(0, 300) };
        }
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfterMs: retryAfterMs(typeof retryAfter === 'string' ? retryAfter : null), body: parsed });
      }, reject);
    });
    req.end(payload);
  });
}

/** Retry-After in seconds or as an HTTP date. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Maps an answer: 2xx → `ok(body)`, 429/5xx → back off, any other status ends the loop with an error. */
export function classify<T>(what: string, a: HttpAnswer, ok: (body: any) => AttemptOutcome<T>, fatal: (message: string) => T): AttemptOutcome<T> {
  if (a.status >= 200 && a.status < 300) return ok(a.body);
  const message = `${what}: HTTP ${a.status}${a.body?.error ? `: ${a.body.error}` : ''}`;
  if (a.status === 429 || a.status >= 500) return { kind: 'backoff', retryAfterMs: a.retryAfterMs, why: message };
  return { kind: 'done', value: fatal(message) };
}

/** What the poll ends with. */
export type Decision =
  | { kind: 'approved'; cert: string; ca: string }
  | { kind: 'rejected'; reason?: string }
  /** An answer no retry changes: revoked, unknown registration, bad request. */
  | { kind: 'refused'; message: string };

/** One poll of `POST /api/agents/poll`, as the loop's outcome. */
export async function pollOnce(ccpUrl: string, registrationId: string, slug: string): Promise<AttemptOutcome<Decision>> {
  const a = await postJson(`${ccpUrl.replace(/\/+$/, '')}/api/agents/poll`, { registrationId, slug });
  return classify<Decision>(
    'poll',
    a,
    (b) => {
      if (b?.status === 'approved') return { kind: 'done', value: { kind: 'approved', cert: String(b.certificate), ca: String(b.caCertificate) } };
      if (b?.status === 'rejected') return { kind: 'done', value: { kind: 'rejected', reason: b.reason ?? undefined } };
      return { kind: 'again' };
    },
    (message) => ({ kind: 'refused', message }),
  );
}
