import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLL_SCHEDULE, nextDelay, pollOnce, pollUntilDone, retryAfterMs, type Decision, type Timers } from './poll.js';

type Cue = { status: number; retryAfter?: string; body?: unknown } | 'drop';

/** A real HTTP server that answers the agent's polls from a script. */
function scriptedControlPlane() {
  const cues: Cue[] = [];
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      const cue = cues.shift() ?? { status: 200, body: { status: 'pending' } };
      if (cue === 'drop') return void req.socket.destroy();
      res.writeHead(cue.status, { 'content-type': 'application/json', ...(cue.retryAfter ? { 'retry-after': cue.retryAfter } : {}) });
      res.end(JSON.stringify(cue.body ?? (cue.status === 429 ? { error: 'too many polls' } : { status: 'pending' })));
    });
  });
  return { server, cues, seen };
}

/** Real waits are replaced by the next macrotask; every asked-for wait is recorded. */
function recordingTimers(waits: number[]): Timers {
  return {
    setTimeout: (fn, ms) => (waits.push(ms), setImmediate(fn)),
    clearTimeout: (h) => clearImmediate(h as NodeJS.Immediate),
  };
}

describe('the agent poll loop against a real HTTP server answering 429 on cue', () => {
  const cp = scriptedControlPlane();
  let url: string;
  beforeAll(async () => {
    await new Promise<void>((r) => cp.server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(cp.server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => cp.server.close(r)));

  const APPROVED = { status: 200, body: { status: 'approved', certificate: 'CERT', caCertificate: 'CA' } };

  it('backs off 30, 60, 120 then 300 s (the cap) on successive 429s, and returns to 30 s after a 2xx', async () => {
    cp.cues.length = 0;
    cp.cues.push(
      { status: 429 }, { status: 429 }, { status: 429 }, { status: 429 }, { status: 429 },
      { status: 200, body: { status: 'pending' } },
      { status: 429 },
      { status: 200, body: { status: 'pending' } },
      APPROVED,
    );
    const waits: number[] = [];
    const loop = pollUntilDone<Decision>(() => pollOnce(url, 'reg-1', 'acme'), { timers: recordingTimers(waits) });
    expect(await loop.result).toEqual({ kind: 'approved', cert: 'CERT', ca: 'CA' });
    expect(waits).toEqual([30_000, 60_000, 120_000, 300_000, 300_000, 30_000, 30_000, 30_000]);
    expect(cp.seen.at(-1)).toContain('"registrationId":"reg-1","slug":"acme"');
  });

  it('waits as long as Retry-After asks when that is longer than the back-off step, never shorter', async () => {
    cp.cues.length = 0;
    cp.cues.push({ status: 429, retryAfter: '90' }, { status: 429, retryAfter: '5' }, { status: 429, retryAfter: '900' }, APPROVED);
    const waits: number[] = [];
    await pollUntilDone<Decision>(() => pollOnce(url, 'reg-2', 'acme'), { timers: recordingTimers(waits) }).result;
    expect(waits).toEqual([90_000, 60_000, 900_000]);
  });

  it('backs off the same way when the connection drops or the control plane answers 5xx, then recovers', async () => {
    cp.cues.length = 0;
    cp.cues.push('drop', { status: 503, body: { error: 'database unreachable' } }, 'drop', { status: 200, body: { status: 'pending' } }, APPROVED);
    const waits: number[] = [];
    const logged: string[] = [];
    const result = await pollUntilDone<Decision>(() => pollOnce(url, 'reg-3', 'acme'), { timers: recordingTimers(waits), log: (m) => logged.push(m) }).result;
    expect(result.kind).toBe('approved');
    expect(waits).toEqual([30_000, 60_000, 120_000, 30_000]);
    expect(logged.join('\n')).toMatch(/HTTP 503: database unreachable/);
  });

  it('keeps polling while the control plane is not listening at all, without a restart', async () => {
    const waits: number[] = [];
    let attempts = 0;
    const loop = pollUntilDone<Decision>(
      async () => {
        attempts++;
        // Nothing listens on port 1 for the first four attempts; then the real server answers.
        return pollOnce(attempts <= 4 ? 'http://127.0.0.1:1' : url, 'reg-4', 'acme');
      },
      { timers: recordingTimers(waits) },
    );
    cp.cues.length = 0;
    cp.cues.push(APPROVED);
    expect((await loop.result).kind).toBe('approved');
    expect(waits).toEqual([30_000, 60_000, 120_000, 300_000]);
  });

  it('stops polling once the registration is rejected', async () => {
    cp.cues.length = 0;
    cp.cues.push({ status: 200, body: { status: 'rejected', reason: 'unknown host' } });
    const waits: number[] = [];
    const before = cp.seen.length;
    expect(await pollUntilDone<Decision>(() => pollOnce(url, 'reg-5', 'acme'), { timers: recordingTimers(waits) }).result).toEqual({ kind: 'rejected', reason: 'unknown host' });
    await new Promise((r) => setTimeout(r, 50));
    expect(cp.seen.length - before).toBe(1);
    expect(waits).toEqual([]);
  });

  it('gives up on an answer no retry can change (a revoked or unknown registration)', async () => {
    cp.cues.length = 0;
    cp.cues.push({ status: 403, body: { error: 'the agent of acme has been revoked', status: 'revoked' } });
    const r = await pollUntilDone<Decision>(() => pollOnce(url, 'reg-6', 'acme'), { timers: recordingTimers([]) }).result;
    expect(r).toEqual({ kind: 'refused', message: 'poll: HTTP 403: the agent of acme has been revoked' });
  });

  it('schedules itself one timeout at a time, with real timers too', async () => {
    cp.cues.length = 0;
    cp.cues.push({ status: 429 }, { status: 200, body: { status: 'pending' } }, APPROVED);
    const started = Date.now();
    const r = await pollUntilDone<Decision>(() => pollOnce(url, 'reg-7', 'acme'), { schedule: { normalMs: 20, backoffMs: [40, 80] } }).result;
    expect(r.kind).toBe('approved');
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });
});

describe('the back-off arithmetic', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('120')).toBe(120_000);
    expect(retryAfterMs(new Date(Date.UTC(2030, 0, 1, 0, 1)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(60_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('holds at the 300 s cap however many failures come', () => {
    let failures = 0;
    const seen = [];
    for (let i = 0; i < 7; i++) {
      const n = nextDelay(DEFAULT_POLL_SCHEDULE, failures, { kind: 'backoff', why: '429' });
      failures = n.failures;
      seen.push(n.delayMs / 1000);
    }
    expect(seen).toEqual([30, 60, 120, 300, 300, 300, 300]);
    expect(nextDelay(DEFAULT_POLL_SCHEDULE, failures, { kind: 'again' })).toEqual({ delayMs: 30_000, failures: 0 });
  });
});
