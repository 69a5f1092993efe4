/**
 * What the control plane tells Prometheus (`GET /metrics`, prom-client). One
 * registry per control plane: counters move where upgrade status changes are
 * recorded (the worker's activities), step durations come from the worker's
 * activity interceptor, HTTP durations from the API's middleware, and the
 * gauges are read from the database and Temporal at scrape time by the API
 * process. Temporal's own worker metrics (the SDK's Prometheus exporter) are
 * fetched from its loopback address and appended, so each process is one
 * scrape target. Names live in METRIC only (docs/grafana-dashboard.json uses
 * exactly these; test/metrics.test.ts checks it).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { UpgradeMode, UpgradeStatus } from '../core/types.js';

export const METRIC = {
  upgradesStarted: 'drydock_upgrades_started_total',
  upgradesParked: 'drydock_upgrades_parked_total',
  upgradesFinished: 'drydock_upgrades_finished_total',
  stepDuration: 'drydock_upgrade_step_duration_seconds',
  parkedNow: 'drydock_upgrades_parked',
  rollouts: 'drydock_rollouts',
  agents: 'drydock_agents',
  agentLastContact: 'drydock_agent_last_contact_timestamp_seconds',
  httpDuration: 'drydock_http_request_duration_seconds',
} as const;

/** Where a step ran: an upgrade path (the modes the code uses), or `other` (a rollout, a check). */
export type StepMode = UpgradeMode | 'other';

/** How the worker's activities report status changes they record (activities/ sees only this). */
export interface UpgradeEvents {
  started(mode: string): void;
  /** Every recorded progress; counts the parks and the ends. */
  progressRecorded(mode: string, p: { status: UpgradeStatus; currentStep: string | null; finished?: boolean }): void;
}

/** What the API process reads at scrape time. */
export interface GaugeSources {
  /** Upgrades waiting for an operator, by mode. */
  parkedUpgrades(): Promise<{ mode: string; count: number }[]>;
  /** Agent registrations by state (pending, approved, rejected, revoked). */
  agentStates(): Promise<{ state: string; count: number }[]>;
  /** This control plane's rollouts by state. */
  rolloutStates(): Promise<{ state: string; count: number }[]>;
}

export interface Metrics {
  registry: Registry;
  upgradeEvents: UpgradeEvents;
  observeStep(step: string, mode: StepMode, outcome: 'succeeded' | 'failed' | 'cancelled', seconds: number): void;
  observeHttp(method: string, route: string, status: number, seconds: number): void;
  /** A remote instance's agent answered (any answer: it is reachable). */
  agentContact(slug: string): void;
  /** Adds the database and Temporal gauges (the API process only, so a separate worker does not repeat them). */
  addGauges(sources: GaugeSources, log?: (m: string) => void): void;
  /** Appends Temporal's own worker metrics, served by the SDK on this loopback address. */
  setTemporalExporter(bindAddress: string): void;
  /** The exposition text. */
  render(): Promise<string>;
  contentType: string;
}

const MODES: readonly UpgradeMode[] = ['full', 'image-only', 'release'];
/** Steps run from a second to half an hour (a pull); verify waits up to its deadline. */
const STEP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A scrape must not hang on a slow gauge source or exporter. */
const SCRAPE_PART_TIMEOUT_MS = 3_000;

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const started = new Counter({ name: METRIC.upgradesStarted, help: 'Upgrades started, by path', labelNames: ['mode'], registers: [registry] });
  const parked = new Counter({
    name: METRIC.upgradesParked,
    help: 'Times an upgrade parked for an operator after a step used up its retries, by path and step',
    labelNames: ['mode', 'step'],
    registers: [registry],
  });
  const finished = new Counter({
    name: METRIC.upgradesFinished,
    help: 'Upgrades that ended, by path and how (succeeded, failed, rolled-back, cancelled)',
    labelNames: ['mode', 'status'],
    registers: [registry],
  });
  for (const mode of MODES) {
    started.inc({ mode }, 0);
    for (const status of ['succeeded', 'failed', 'rolled-back', 'cancelled']) finished.inc({ mode, status }, 0);
  }
  const steps = new Histogram({
    name: METRIC.stepDuration,
    help: 'Duration of each activity attempt (step = activity type), by path and outcome',
    labelNames: ['step', 'mode', 'outcome'],
    buckets: STEP_BUCKETS,
    registers: [registry],
  });
  const http = new Histogram({
    name: METRIC.httpDuration,
    help: 'HTTP request duration by route pattern (never the raw path), method and status',
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const contacts = new Map<string, number>();
  new Gauge({
    name: METRIC.agentLastContact,
    help: "When this process last had an answer from a remote instance's agent (Unix seconds); time() minus it is the seconds since",
    labelNames: ['slug'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [slug, at] of contacts) this.set({ slug }, at / 1000);
    },
  });

  let temporal: string | undefined;
  const metrics: Metrics = {
    registry,
    contentType: registry.contentType,
    upgradeEvents: {
      started: (mode) => started.inc({ mode }),
      progressRecorded(mode, p) {
        // The workflow records needs-attention once per park, and a final status once (finished).
        if (p.status === 'needs-attention') parked.inc({ mode, step: p.currentStep ?? 'unknown' });
        if (p.finished) finished.inc({ mode, status: p.status });
      },
    },
    observeStep: (step, mode, outcome, seconds) => steps.observe({ step, mode, outcome }, seconds),
    observeHttp: (method, route, status, seconds) => http.observe({ method, route, status: String(status) }, seconds),
    agentContact: (slug) => void contacts.set(slug, Date.now()),
    addGauges(sources, log) {
      function fromSource<L extends string>(name: string, help: string, label: L, read: () => Promise<Array<Record<L, string> & { count: number }>>, zeroes: string[] = []) {
        new Gauge<string>({
          name,
          help,
          labelNames: [label],
          registers: [registry],
          async collect() {
            try {
              const rows = await withTimeout(read(), `${name} source`);
              this.reset();
              for (const z of zeroes) this.set({ [label]: z }, 0);
              for (const r of rows) this.set({ [label]: r[label] as string }, r.count);
            } catch (err) {
              // The scrape still answers; the gauge keeps its last values and the log says why.
              log?.(`metrics: ${name} not read: ${(err as Error).message}`);
            }
          },
        });
      }
      fromSource(METRIC.parkedNow, 'Upgrades waiting for an operator now (needs-attention), by path', 'mode', sources.parkedUpgrades, [...MODES]);
      fromSource(METRIC.agents, 'Agent registrations by state', 'state', sources.agentStates, ['pending', 'approved', 'rejected', 'revoked']);
      fromSource(METRIC.rollouts, "This control plane's rollouts by state (running ones by their own state, closed ones by Temporal's)", 'state', sources.rolloutStates);
    },
    setTemporalExporter: (bindAddress) => void (temporal = bindAddress),
    async render() {
      const own = await registry.metrics();
      if (!temporal) return own;
      const sdk = await withTimeout(
        fetch(`http://${temporal}/metrics`).then((r) => (r.ok ? r.text() : '')),
        'the Temporal SDK exporter',
      ).catch(() => '');
      return sdk ? `${own}${own.endsWith('\n') ? '' : '\n'}${sdk}` : own;
    },
  };
  return metrics;
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${SCRAPE_PART_TIMEOUT_MS} ms`)), SCRAPE_PART_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** DRYDOCK_METRICS_TOKEN: long enough that guessing it is hopeless. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

export interface MetricsSettings {
  /** Bearer token /metrics requires (wherever it is served). */
  token?: string;
  /** A separate listener serving only /metrics, `host:port`. */
  listen?: { host: string; port: number };
}

/** DRYDOCK_METRICS_TOKEN and DRYDOCK_METRICS_LISTEN; a bad one stops the start, naming it. */
export function metricsSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): MetricsSettings {
  const token = env.DRYDOCK_METRICS_TOKEN || undefined;
  if (token !== undefined && token.length < MIN_METRICS_TOKEN_LENGTH) {
    throw new Error(`DRYDOCK_METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_LENGTH} characters (make one with \`openssl rand -hex 24\`)`);
  }
  const listen = env.DRYDOCK_METRICS_LISTEN ? parseListen(env.DRYDOCK_METRICS_LISTEN) : undefined;
  return { token, listen };
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`DRYDOCK_METRICS_LISTEN must be host:port (for example 127.0.0.1:9464), not ${JSON.stringify(value)}`);
  return { host: m[1] ?? m[2]!, port };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether the request carries `Authorization: Bearer <token>`; compared in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return !!m && timingSafeEqual(digest(m[1]!), digest(token));
}

/**
 * Answers a scrape: 401 without the token when one is set, else the text.
 * Node's own request and response types, so Express and the bare listener share it.
 */
export async function answerScrape(metrics: Metrics, token: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="drydock metrics"' });
    res.end(JSON.stringify({ error: 'metrics need Authorization: Bearer <DRYDOCK_METRICS_TOKEN>' }));
    return;
  }
  try {
    const text = await metrics.render();
    res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
    res.end(text);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: `metrics could not be collected: ${(err as Error).message.split('\n')[0]}` }));
  }
}

/** DRYDOCK_METRICS_LISTEN: a listener that serves GET /metrics and nothing else. */
export async function serveMetrics(metrics: Metrics, listen: { host: string; port: number }, token?: string): Promise<{ server: Server; address: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) return void answerScrape(metrics, token, req, res);
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'only GET /metrics is served here' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`DRYDOCK_METRICS_LISTEN ${listen.host}:${listen.port}: ${err.code === 'EADDRINUSE' ? 'the port is taken' : err.message}`)),
    );
    server.listen(listen.port, listen.host, resolve);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : listen.port;
  return {
    server,
    address: `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A free loopback port for the SDK's exporter, which needs one before it starts. */
export async function freeLoopbackAddress(): Promise<string> {
  const srv = createNetServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const addr = srv.address();
  await new Promise((r) => srv.close(r));
  return `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}
