/**
 * The agent's HTTPS server: the tenant driver behind mutual TLS.
 *
 * Only the control plane gets in: a client certificate signed by the control
 * plane's CA is required at the handshake (anything else — none, self-signed,
 * another CA, expired — fails there), and its common name must be the control
 * plane's (agent certificates from the same CA are server-only and fail the
 * purpose check too). Until the agent is approved it has no certificate and
 * every handshake fails.
 *
 * Each request runs one driver method (see core/agent-protocol.ts), after the
 * agent's own checks (agent/guard.ts). Methods that change the tenant hold the
 * tenant lock, so a retried activity waits for its first attempt to end.
 */
import https from 'node:https';
import tls from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { AGENT_API_PREFIX, AGENT_KEEPALIVE_MS, AGENT_OPERATIONS, isAgentOperation, type AgentErrorBody } from '../core/agent-protocol.js';
import { TenantError, type ExecutionDriver } from '../core/driver.js';
import { CONTROL_PLANE_CN } from '../core/agent-keys.js';
import { withTenantLock } from '../tenant/lock.js';
import { readBody } from '../tenant/http-body.js';
import { guardArguments } from './guard.js';

interface ServerBaseOptions {
  /** The agent's managed-path allowlist (every tenant of a multi-tenant agent shares it). */
  managed: readonly string[];
  /** A lock file untouched this long is taken over (its holder died). */
  lockStaleMs?: number;
  keepaliveMs?: number;
  log?: (m: string) => void;
}

/** One tenant directory served by the agent. */
export interface ServedTenant {
  slug: string;
  /** The tenant's compose directory: the lock lives there. */
  dir: string;
  driver: ExecutionDriver;
}

export interface AgentServerOptions extends ServerBaseOptions, ServedTenant {}

export type MultiTenantAgentServerOptions = ServerBaseOptions;

export interface AgentCredentials {
  key: string;
  cert: string;
  ca: string;
}

export interface AgentServer {
  server: https.Server;
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Installs (or replaces) the agent's certificate and the CA it trusts; until then every handshake fails. */
  setCredentials(c: AgentCredentials): void;
  close(): Promise<void>;
}

/**
 * One process, one port, many tenant directories (a host with many tenants).
 * Each tenant keeps its own identity: its own key pair and certificate with
 * its slug, chosen at the handshake by the TLS server name (SNI) the control
 * plane sends (the slug); a tenant is served only over its own certificate.
 */
export interface MultiTenantAgentServer {
  server: https.Server;
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Starts routing `/v1/<slug>/…` to this tenant; handshakes for it fail until setTenantCredentials. */
  addTenant(t: ServedTenant): void;
  /** Installs (or replaces) the tenant's certificate (identity: its slug) and the CA it trusts. */
  setTenantCredentials(slug: string, c: AgentCredentials): void;
  /** Slugs that have a certificate and are served. */
  serving(): string[];
  close(): Promise<void>;
}

const status: Record<string, number> = { 'agent-refused': 400, 'path-rejected': 400, 'unknown-service': 400, 'not-found': 404, 'payload-too-large': 413, forbidden: 403 };

export function createAgentServer(o: AgentServerOptions): AgentServer {
  const tenants = new Map<string, TenantEntry>([[o.slug, { slug: o.slug, dir: o.dir, driver: o.driver }]]);
  const core = createServerCore(o, tenants, undefined);
  return {
    server: core.server,
    listen: core.listen,
    setCredentials(c) {
      core.server.setSecureContext({ key: c.key, cert: c.cert, ca: c.ca, minVersion: 'TLSv1.2' });
    },
    close: core.close,
  };
}

export function createMultiTenantAgentServer(o: MultiTenantAgentServerOptions): MultiTenantAgentServer {
  const tenants = new Map<string, TenantEntry>();
  // The default context has no certificate: a handshake naming no served tenant fails.
  const core = createServerCore(o, tenants, (servername, cb) => cb(null, tenants.get(servername)?.context));
  return {
    server: core.server,
    listen: core.listen,
    addTenant(t) {
      if (tenants.has(t.slug)) throw new Error(`the agent serves ${t.slug} already`);
      tenants.set(t.slug, { slug: t.slug, dir: t.dir, driver: t.driver });
    },
    setTenantCredentials(slug, c) {
      const t = tenants.get(slug);
      if (!t) throw new Error(`the agent does not serve ${slug}`);
      t.context = tls.createSecureContext({ key: c.key, cert: c.cert, ca: c.ca, minVersion: 'TLSv1.2' });
    },
    serving: () => [...tenants.values()].filter((t) => t.context).map((t) => t.slug),
    close: core.close,
  };
}

interface TenantEntry extends ServedTenant {
  /** Multi-tenant mode: the tenant's own certificate, picked by SNI. */
  context?: tls.SecureContext;
}

type SniCallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void;

/**
 * The server both modes share. Single-tenant (sni undefined): the one tenant
 * under the server's own certificate, as before. Multi-tenant: the certificate
 * is the tenant's, by SNI, and a request must name the tenant whose
 * certificate its connection was made with.
 */
function createServerCore(o: ServerBaseOptions, tenants: Map<string, TenantEntry>, sni: SniCallback | undefined) {
  const log = o.log ?? (() => {});
  const lockStaleMs = o.lockStaleMs ?? 5 * 60_000;
  const keepaliveMs = o.keepaliveMs ?? AGENT_KEEPALIVE_MS;
  const controlPlaneSockets = new WeakSet<object>();
  // No key or certificate yet: handshakes fail until setCredentials.
  const server = https.createServer({ requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', ...(sni ? { SNICallback: sni } : {}) }, (req, res) => {
    void handle(req, res).catch((err: Error) => {
      log(`agent: request failed: ${err.stack ?? err.message}`);
      if (!res.headersSent) reply(res, 500, { code: 'agent-failed', message: 'internal error in the agent' });
      else res.destroy();
    });
  });
  // Long operations keep the request open for as long as compose runs.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.on('secureConnection', (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate();
    if (!socket.authorized || peer?.subject?.CN !== CONTROL_PLANE_CN) {
      log(`agent: refused a peer presenting ${peer?.subject?.CN ?? 'no certificate'}`);
      socket.destroy();
    }
  });
  server.on('tlsClientError', (err) => log(`agent: TLS handshake refused: ${err.message}`));

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (!controlPlaneSockets.has(req.socket)) {
      const peer = (req.socket as TLSSocket).getPeerCertificate?.();
      if (peer?.subject?.CN !== CONTROL_PLANE_CN) return reply(res, 403, { code: 'forbidden', message: 'only the control plane may call this agent' });
      // A connection's peer does not change: its kept-alive requests are not checked again (getPeerCertificate builds the whole certificate each time).
      controlPlaneSockets.add(req.socket);
    }
    const m = ROUTE.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) return reply(res, 404, { code: 'not-found', message: `no route ${req.method} ${req.url}` });
    const tenant = tenants.get(m[1]!);
    if (!tenant) {
      const served = sni ? 'another tenant' : [...tenants.keys()][0];
      return reply(res, 404, { code: 'not-found', message: `this agent serves ${served}, not ${m[1]}` });
    }
    if (sni && (req.socket as TLSSocket).servername !== tenant.slug) {
      return reply(res, 404, { code: 'not-found', message: `${tenant.slug} is served only over its own certificate (server name ${tenant.slug})` });
    }
    const op = m[2]!;
    if (!isAgentOperation(op)) return reply(res, 404, { code: 'not-found', message: `no operation ${op}` });
    const spec = AGENT_OPERATIONS[op];

    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, spec.maxBodyBytes, () => new TooLarge()));
    } catch (err) {
      if (err instanceof TooLarge) return reply(res, 413, { code: 'payload-too-large', message: `${op}: request body over ${spec.maxBodyBytes} bytes` });
      return reply(res, 400, { code: 'agent-refused', message: `${op}: request body is not valid JSON` });
    }
    const rawArgs = (body as { args?: unknown })?.args;

    let args: unknown[];
    try {
      args = await guardArguments(op, rawArgs, { managed: o.managed, driver: tenant.driver });
    } catch (err) {
      const e = errorBody(err);
      log(`agent: refused ${op}: ${e.message}`);
      return reply(res, status[e.code] ?? 500, e);
    }

    // From here the answer is a stream; the client going away aborts the operation.
    if (req.socket.destroyed) return;
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    const write = (line: object) => {
      if (!res.destroyed) res.write(`${JSON.stringify(line)}\n`);
    };
    const keepalive = setInterval(() => write({ keepalive: true }), keepaliveMs);
    const started = Date.now();
    /** The final line, sent with the end of the answer. */
    let last: string | undefined;
    try {
      const call = () => {
        abort.signal.throwIfAborted();
        const fn = tenant.driver[op] as (...a: unknown[]) => Promise<unknown>;
        const callArgs = spec.long ? [...args, { signal: abort.signal, onProgress: (line: string) => write({ progress: line }) }] : args;
        return fn.apply(tenant.driver, callArgs);
      };
      const result = spec.mutates ? await withTenantLock(tenant.dir, lockStaleMs, call, { signal: abort.signal }) : await call();
      last = `${JSON.stringify({ done: true, result })}\n`;
      log(`agent: ${sni ? `${tenant.slug}: ` : ''}${op} done in ${Date.now() - started} ms`);
    } catch (err) {
      const e = abort.signal.aborted ? { code: 'cancelled', message: `${op} was cancelled: the control plane closed the request` } : errorBody(err);
      log(`agent: ${sni ? `${tenant.slug}: ` : ''}${op} failed: ${e.message}`);
      last = `${JSON.stringify({ done: true, error: e })}\n`;
    } finally {
      clearInterval(keepalive);
      // The last line and the end of the answer in one write (one TLS record, one syscall).
      if (last && !res.destroyed) res.end(last);
      else res.end();
    }
  }

  return {
    server,
    listen(host: string, port: number): Promise<{ host: string; port: number }> {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address();
          resolve({ host, port: typeof a === 'object' && a ? a.port : port });
        });
      });
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

const ROUTE = new RegExp(`^${AGENT_API_PREFIX}/([^/]+)/([A-Za-z]+)$`);

class TooLarge extends Error {}

function errorBody(err: unknown): AgentErrorBody {
  if (err instanceof TenantError) return { code: err.code, message: err.message, ...(err.output ? { output: err.output } : {}) };
  if (err instanceof TypeError) return { code: 'agent-refused', message: err.message };
  if ((err as Error)?.name === 'AbortError') return { code: 'cancelled', message: 'cancelled' };
  return { code: 'agent-failed', message: `the agent failed: ${(err as Error)?.message ?? String(err)}` };
}

function reply(res: ServerResponse, code: number, body: AgentErrorBody) {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
  res.end(text);
}
