/**
 * The remote execution driver: every ExecutionDriver method is one HTTPS call
 * to the instance's agent, over mutual TLS with the control plane's client
 * certificate. The agent's certificate must be signed by our CA, carry the
 * instance slug as its identity and match the fingerprint recorded at approval
 * (agents are reached by address, so the host name proves nothing).
 *
 * Errors come back as TenantErrors with the agent's code, so activities
 * classify them exactly as for a local instance; an agent that does not answer
 * is a retryable `agent-unreachable` naming its URL.
 *
 * An agent runs on a tenant's host, which may be hostile: each streamed answer
 * line is capped in size (read without holding more than the cap) and checked
 * for its shape and the operation's result shape before anything uses it.
 */
import https from 'node:https';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { PeerCertificate } from 'node:tls';
import { z } from 'zod';
import { AGENT_API_PREFIX, AGENT_KEEPALIVE_MS, AGENT_OPERATIONS, type AgentErrorBody, type AgentOperation, type AgentStreamLine } from '../core/agent-protocol.js';
import { TenantError, type ExecutionDriver, type OperationOptions, type TenantErrorCode } from '../core/driver.js';

export interface RemoteCredentials {
  /** The CA that signs agent certificates (and ours). */
  ca: string;
  cert: string;
  key: string;
}

export interface ApprovedAgent {
  agentUrl: string;
  /** sha256 fingerprint of the certificate issued at approval (`AB:CD:…`). */
  fingerprint256?: string;
}

export interface RemoteDriverOptions {
  slug: string;
  credentials: RemoteCredentials;
  /** The approved agent of the slug, looked up on every call; throws `agent-not-approved` when there is none. */
  resolve(): Promise<ApprovedAgent>;
  connectTimeoutMs?: number;
  /** No byte from the agent for this long (it sends keepalives) ends the call as unreachable. */
  idleTimeoutMs?: number;
  /** Longest answer line read from the agent; default MAX_ANSWER_LINE_BYTES. */
  maxLineBytes?: number;
}

const MAX_ERROR_BODY = 1024 * 1024;
/** Managed files travel whole (16 MiB a request, core/agent-protocol.ts): a snapshot of them, as JSON, fits. */
export const MAX_ANSWER_LINE_BYTES = 32 * 1024 * 1024;

const text = (max: number) => z.string().max(max);
const nothing = z.union([z.undefined(), z.null()]);
const containerStates = z.array(z.object({ service: z.string(), containerId: z.string(), imageId: z.string(), state: z.string() }).passthrough());
/** What each operation returns (core/driver.ts), as far as the control plane relies on it. */
const RESULTS: { [K in AgentOperation]: z.ZodType } = {
  ping: nothing,
  listServices: z.array(text(256)),
  contentManifest: z.record(z.string(), z.string()),
  readFiles: z.record(z.string(), z.string().nullable()),
  fileChecksums: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/).nullable()),
  writeFiles: z.object({ written: z.array(z.string()), unchanged: z.array(z.string()) }),
  pull: nothing,
  recreate: nothing,
  upAll: nothing,
  containerStates,
  serviceStates: z.object({ services: z.array(text(256)), states: containerStates }),
  pinRunningImages: z.array(text(256)),
  validateCompose: nothing,
  diskFree: z.object({ path: z.string(), freeBytes: z.number().nonnegative() }),
  snapshotFiles: z.record(z.string(), z.object({ content: z.string(), mode: z.number().int().min(0).max(0o7777) }).nullable()),
  restoreFiles: nothing,
  imageIds: z.record(z.string(), z.string().max(200).nullable()),
  tagImage: nothing,
  httpProbe: z.number().int().min(0).max(999),
};

const errorBody = z.object({ code: text(100), message: text(64 * 1024), output: text(1024 * 1024).optional() });
/** One line of the agent's answer stream (core/agent-protocol.ts AgentStreamLine). */
const streamLine = z.union([
  z.object({ progress: text(64 * 1024) }).strict(),
  z.object({ keepalive: z.literal(true) }).strict(),
  z.object({ done: z.literal(true), error: errorBody }).strict(),
  z.object({ done: z.literal(true), result: z.unknown().optional() }).strict(),
]);

/** Why a parsed line is not acceptable for `op`, or the line itself. */
export function checkStreamLine(op: AgentOperation, value: unknown): AgentStreamLine | string {
  const line = streamLine.safeParse(value);
  if (!line.success) return 'a line of the wrong shape (not progress, keepalive, or done with a result or an error)';
  const msg = line.data as AgentStreamLine;
  if ('done' in msg && !('error' in msg)) {
    const result = RESULTS[op].safeParse((msg as { result?: unknown }).result);
    if (!result.success) {
      const issue = result.error.issues[0];
      return `a ${op} result of the wrong shape (${issue?.path.join('.') || 'the result'}: ${issue?.message ?? 'invalid'})`;
    }
  }
  return msg;
}

/**
 * One TLS context per set of credentials, made once: passing ca/cert/key to
 * every request parsed the CA, our certificate and our key again for each
 * agent call (the largest cost in the control plane during a fleet rollout,
 * see bench/fleet.ts). Connections are still made per call, each verified.
 */
const secureContexts = new WeakMap<RemoteCredentials, tls.SecureContext>();

export function secureContextOf(c: RemoteCredentials): tls.SecureContext {
  let ctx = secureContexts.get(c);
  if (!ctx) {
    ctx = tls.createSecureContext({ ca: c.ca, cert: c.cert, key: c.key, minVersion: 'TLSv1.2' });
    secureContexts.set(c, ctx);
  }
  return ctx;
}

export function createRemoteDriver(o: RemoteDriverOptions): ExecutionDriver {
  const driver = {} as Record<AgentOperation, (...args: unknown[]) => Promise<unknown>>;
  for (const op of Object.keys(AGENT_OPERATIONS) as AgentOperation[]) {
    const spec = AGENT_OPERATIONS[op];
    driver[op] = (...args: unknown[]) => {
      const opts = spec.long ? (args[spec.args] as OperationOptions | undefined) : undefined;
      return call(o, op, args.slice(0, spec.args), opts ?? {});
    };
  }
  return driver as unknown as ExecutionDriver;
}

/** Our own identity check: the slug as CN and DNS name, and the approved certificate exactly. */
export function checkAgentIdentity(slug: string, cert: PeerCertificate, fingerprint256?: string): Error | undefined {
  const names = (cert.subjectaltname ?? '').split(',').map((s) => s.trim());
  if (cert.subject?.CN !== slug || !names.includes(`DNS:${slug}`)) {
    return new Error(`the agent's certificate is for ${cert.subject?.CN ?? '(no name)'}, not ${slug}`);
  }
  if (fingerprint256 && cert.fingerprint256 !== fingerprint256) {
    return new Error(`the agent's certificate is not the one approved for ${slug} (fingerprint ${cert.fingerprint256.slice(0, 23)}…)`);
  }
  return undefined;
}

async function call(o: RemoteDriverOptions, op: AgentOperation, args: unknown[], opts: OperationOptions): Promise<unknown> {
  const agent = await o.resolve();
  const where = agent.agentUrl;
  let url: URL;
  try {
    url = new URL(`${AGENT_API_PREFIX}/${encodeURIComponent(o.slug)}/${op}`, where);
  } catch {
    throw new TenantError('agent-unreachable', `the agent URL of ${o.slug} is not a URL: ${where}`);
  }
  if (opts.signal?.aborted) throw new TenantError('cancelled', `${op} on the agent at ${where} was cancelled`);
  const body = JSON.stringify({ args });
  const idleMs = o.idleTimeoutMs ?? AGENT_KEEPALIVE_MS * 4;
  const unreachable = (detail: string) => new TenantError('agent-unreachable', `the agent at ${where} is unreachable (${op}): ${detail}`);

  const pool = poolFor(o.credentials, o.slug, where, agent.fingerprint256);
  // A kept-alive connection the agent has just closed fails at once, before any answer: that request never
  // reached the agent, so it goes again on a new connection.
  for (let attempt = 1; ; attempt++) {
    const outcome = await send(attempt < 3);
    if (outcome !== RETRY_ON_NEW_CONNECTION) return outcome;
  }

  function send(mayRetry: boolean): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      let answered = false;
      const finish = (err: Error | undefined, value?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value);
      };
      // secureContext reaches tls.connect (Node passes request options through); @types/node lists it only there.
      const tlsOptions: https.RequestOptions & Pick<tls.ConnectionOptions, 'secureContext'> = {
        protocol: 'https:',
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || 443,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        secureContext: secureContextOf(o.credentials),
        servername: o.slug,
        // Runs for every new connection; a kept-alive one was checked when it was made, for this same fingerprint (see poolFor).
        checkServerIdentity: (_host, cert) => checkAgentIdentity(o.slug, cert, agent.fingerprint256),
        minVersion: 'TLSv1.2',
        agent: pool,
      };
      const req = https.request(tlsOptions);
      const connectTimer = setTimeout(() => req.destroy(new Error(`no connection within ${(o.connectTimeoutMs ?? 10_000) / 1000}s`)), o.connectTimeoutMs ?? 10_000);
      req.on('socket', (s) => {
        if (req.reusedSocket) clearTimeout(connectTimer);
        else s.once('secureConnect', () => clearTimeout(connectTimer));
      });
      req.setTimeout(idleMs, () => req.destroy(new Error(`no answer for ${Math.round(idleMs / 1000)}s`)));
      const onAbort = () => {
        req.destroy();
        finish(new TenantError('cancelled', `${op} on the agent at ${where} was cancelled`));
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => {
        const code = (err as NodeJS.ErrnoException).code;
        if (mayRetry && req.reusedSocket && !answered && !opts.signal?.aborted && (code === 'ECONNRESET' || code === 'EPIPE')) {
          return finish(undefined, RETRY_ON_NEW_CONNECTION);
        }
        finish(opts.signal?.aborted ? new TenantError('cancelled', `${op} was cancelled`) : unreachable(describe(err)));
      });
      req.on('response', (res) => {
        answered = true;
        if (res.statusCode !== 200) {
          readAll(res, MAX_ERROR_BODY)
            .then((text) => finish(fromBody(parseError(text, res.statusCode ?? 0), where)))
            .catch((err: Error) => finish(unreachable(describe(err))));
          return;
        }
        const maxLine = o.maxLineBytes ?? MAX_ANSWER_LINE_BYTES;
        const hostile = (what: string) => new TenantError('agent-refused', `the agent at ${where} sent ${what} for ${op}; the answer was refused`);
        readLines(res, maxLine, (line) => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(line);
          } catch {
            finish(hostile(`an unparsable answer line (${JSON.stringify(line.slice(0, 100))})`));
            req.destroy();
            return;
          }
          const msg = checkStreamLine(op, parsed);
          if (typeof msg === 'string') {
            finish(hostile(msg));
            req.destroy();
            return;
          }
          if ('progress' in msg) opts.onProgress?.(msg.progress);
          else if ('done' in msg) {
            if ('error' in msg && msg.error) finish(fromBody(msg.error, where));
            else finish(undefined, (msg as { result?: unknown }).result);
          }
        })
          // Every answered call ends here too: build the error only when no answer came (an Error's stack costs, per call).
          .then(() => settled || finish(unreachable('the connection closed before the operation ended')))
          .catch((err: Error) => {
            if (err instanceof LineTooLong) {
              finish(hostile(`an answer line longer than ${maxLine} bytes`));
              req.destroy();
            } else finish(unreachable(describe(err)));
          });
      });
      req.end(body);
    });
  }
}

const RETRY_ON_NEW_CONNECTION = Symbol('retry on a new connection');

/**
 * Connections to agents are kept alive and reused: a new TLS connection for
 * every call cost about 5 ms of CPU between the two ends (handshake, chain
 * and pin checks), which a 1,000-instance rollout paid ten times per upgrade.
 * A pool is keyed by our credentials, the slug, the agent URL and the
 * approved certificate's fingerprint, so a connection is only ever reused for
 * the exact certificate it was verified against: a new approval gets a new
 * pool, and a revoked agent is refused before any request (resolve() runs on
 * every call). Idle connections close after 4 s (before the agent's 5 s).
 */
const pools = new Map<string, https.Agent>();
const MAX_POOLS = 4096;
const IDLE_CONNECTION_MS = 4_000;
const credentialIds = new WeakMap<RemoteCredentials, number>();
let nextCredentialId = 1;

function poolFor(credentials: RemoteCredentials, slug: string, agentUrl: string, fingerprint256: string | undefined): https.Agent {
  let id = credentialIds.get(credentials);
  if (id === undefined) credentialIds.set(credentials, (id = nextCredentialId++));
  const key = `${id}\n${slug}\n${agentUrl}\n${fingerprint256 ?? '(no pin)'}`;
  let pool = pools.get(key);
  if (!pool) {
    if (pools.size >= MAX_POOLS) {
      const [oldest, old] = pools.entries().next().value as [string, https.Agent];
      old.destroy();
      pools.delete(oldest);
    }
    pool = new https.Agent({ keepAlive: true, maxFreeSockets: 4, timeout: IDLE_CONNECTION_MS, scheduling: 'lifo' });
    pools.set(key, pool);
  }
  return pool;
}

/** How many kept-alive pools exist (tests). */
export function remoteConnectionPools(): number {
  return pools.size;
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}

function parseError(text: string, statusCode: number): AgentErrorBody {
  try {
    const b = JSON.parse(text) as Partial<AgentErrorBody>;
    if (typeof b.code === 'string' && typeof b.message === 'string') return b as AgentErrorBody;
  } catch {
    // not ours: a proxy's page, say
  }
  return { code: statusCode >= 500 ? 'agent-unreachable' : 'agent-refused', message: `HTTP ${statusCode}: ${text.slice(0, 300)}` };
}

const REFUSALS = new Set(['not-found', 'payload-too-large', 'forbidden']);

/** The agent's error as the TenantError the local driver would have thrown. */
function fromBody(e: AgentErrorBody, where: string): TenantError {
  const code = (REFUSALS.has(e.code) ? 'agent-refused' : /^[a-z][a-z-]{1,40}$/.test(e.code) ? e.code : 'agent-refused') as TenantErrorCode;
  const message = code === 'agent-refused' || code === 'agent-unreachable' ? `the agent at ${where}: ${e.message}` : e.message;
  return new TenantError(code, message, e.output);
}

/** The body up to `max` characters; an agent that sends more is hung up on rather than read to its end. */
function readAll(res: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      text += c;
      if (text.length >= max) {
        resolve(text.slice(0, max));
        res.destroy();
      }
    });
    res.on('end', () => resolve(text));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the answer was cut off')));
  });
}

class LineTooLong extends Error {}

/**
 * Calls `onLine` for each newline-ended line, holding at most `maxBytes` of an
 * unfinished one: a longer line rejects with LineTooLong at once, however
 * much more the agent would send. Chunks are kept as they come and joined
 * once per line (appending to a string would copy the line for every chunk).
 */
function readLines(res: IncomingMessage, maxBytes: number, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let parts: Buffer[] = [];
    let size = 0;
    let failed = false;
    const take = (piece: Buffer) => {
      size += piece.length;
      if (size > maxBytes) {
        failed = true;
        parts = [];
        // Rejected before the destroy, whose 'aborted' would reject first as a cut-off answer.
        reject(new LineTooLong());
        res.destroy();
        return false;
      }
      parts.push(piece);
      return true;
    };
    const emit = () => {
      const line = Buffer.concat(parts, size).toString('utf8');
      parts = [];
      size = 0;
      if (line.trim()) onLine(line);
    };
    res.on('data', (chunk: Buffer) => {
      let start = 0;
      while (!failed) {
        const nl = chunk.indexOf(10, start);
        if (!take(nl < 0 ? chunk.subarray(start) : chunk.subarray(start, nl))) return;
        if (nl < 0) return;
        emit();
        start = nl + 1;
      }
    });
    res.on('end', () => {
      if (failed) return;
      if (size > 0) emit();
      resolve();
    });
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the answer was cut off')));
  });
}
