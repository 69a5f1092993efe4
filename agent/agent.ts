/**
 * The agent's life: make a key pair (kept on this host), listen, register
 * with an invite code, poll until approved, then serve the tenant driver over
 * mutual TLS. State lives in the state directory (0700): `key.pem` (0600),
 * `registration.json` while pending, `cert.pem` and `ca.pem` once approved, so
 * a restart resumes where it was without a new invite.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createCsr, fingerprint256, generateKeyPair, publicKeyFingerprint256, type KeyPairPem } from '../core/agent-keys.js';
import { caFingerprintOfInvite, normalizeFingerprint } from '../core/invite-code.js';
import type { ExecutionDriver } from '../core/driver.js';
import { DEFAULT_AGENT_MANAGED } from './guard.js';
import { classify, pollOnce, pollUntilDone, postJson, type Decision, type PollLoop, type PollSchedule } from './poll.js';
import { createAgentServer, createMultiTenantAgentServer, type AgentServer, type MultiTenantAgentServer } from './server.js';
import { createDockerEngine } from '../tenant/engine.js';
import { createTenantDriver, detectComposeVariant } from '../tenant/tenant.js';

/** What every agent process is configured with, however many tenants it serves. */
interface AgentProcessConfig {
  ccpUrl: string;
  listenHost: string;
  listenPort: number;
  /** The URL the control plane should call; default from the listen address. */
  publicUrl?: string;
  stateDir: string;
  managed?: readonly string[];
  /** Pin for the CA certificate the control plane hands over (`AB:CD:…`, sha256); an invite code carries one too. */
  caFingerprint?: string;
  /** Accept an http: control-plane URL (development only; the CA must then be pinned). */
  insecureHttp?: boolean;
  schedule?: PollSchedule;
  lockStaleMs?: number;
  log?: (m: string) => void;
}

export interface AgentConfig extends AgentProcessConfig, AgentTenantConfig {
  /** Tests inject a driver; otherwise the tenant driver on this host's Docker. */
  driver?: ExecutionDriver;
}

export type AgentOutcome = { kind: 'serving' } | { kind: 'rejected'; reason?: string } | { kind: 'refused'; message: string };

export interface RunningAgent {
  url: string;
  server: AgentServer;
  /** Serving once approved; or why the agent gave up (rejected, invite refused, revoked). */
  outcome: Promise<AgentOutcome>;
  close(): Promise<void>;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writePrivate(file: string, data: string, mode = 0o600) {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

export function defaultStateDir(slug: string): string {
  return path.join(os.homedir(), '.drydock-agent', slug);
}

/**
 * Refuses an http: control plane unless `insecureHttp` says so: over http a
 * man in the middle reads the invite code and every answer. Over https the
 * control plane's certificate is verified as any https server's
 * (NODE_EXTRA_CA_CERTS adds a private CA).
 */
export function checkControlPlaneUrl(ccpUrl: string, insecureHttp = false): void {
  let url: URL;
  try {
    url = new URL(ccpUrl);
  } catch {
    throw new Error(`--ccp-url ${JSON.stringify(ccpUrl)} is not a URL`);
  }
  if (url.protocol === 'https:') return;
  if (url.protocol !== 'http:') throw new Error(`--ccp-url must be an https:// URL, not ${url.protocol}`);
  if (!insecureHttp) {
    throw new Error(
      `--ccp-url ${url.origin} is plain http: anyone on the path could read the invite code and answer in the control plane's place. ` +
        'Use https:// (the control plane serves it with DRYDOCK_TLS_CERT/DRYDOCK_TLS_KEY, or behind a TLS proxy), or for local development only pass --insecure-http',
    );
  }
}

/**
 * The CA pin of one tenant: `--ca-fingerprint`, the one its invite code
 * carries, or the one saved with its registration; they must agree.
 */
export function caPinOf(o: { caFingerprint?: string; inviteCode?: string; saved?: string }): string | undefined {
  const candidates: [string, string | undefined][] = [
    ['--ca-fingerprint', o.caFingerprint && normalizeFingerprint(o.caFingerprint)],
    ['the invite code', o.inviteCode && caFingerprintOfInvite(o.inviteCode)],
    ['the saved registration', o.saved && normalizeFingerprint(o.saved)],
  ];
  const pins = candidates.filter((c): c is [string, string] => !!c[1]).map(([from, fp]) => ({ from, fp }));
  const other = pins.find((p) => p.fp !== pins[0]!.fp);
  if (other) throw new Error(`the CA fingerprint from ${pins[0]!.from} (${pins[0]!.fp}) differs from the one from ${other.from} (${other.fp})`);
  return pins[0]?.fp;
}

export async function startAgent(cfg: AgentConfig): Promise<RunningAgent> {
  const log = cfg.log ?? ((m: string) => console.log(m));
  checkControlPlaneUrl(cfg.ccpUrl, cfg.insecureHttp);
  caPinOf(cfg);
  const keys = await loadOrCreateKeys(cfg.stateDir, (m) => log(`agent: ${m}`));
  const projectName = cfg.projectName ?? cfg.slug;
  const driver = cfg.driver ?? createTenantDriver({ compose: await detectComposeVariant() }, { projectName, dir: cfg.dir });
  const managed = cfg.managed ?? DEFAULT_AGENT_MANAGED;
  const server = createAgentServer({ slug: cfg.slug, dir: cfg.dir, driver, managed, lockStaleMs: cfg.lockStaleMs, log });
  const bound = await server.listen(cfg.listenHost, cfg.listenPort);
  const url = advertisedUrl(cfg.listenHost, bound.port, cfg.publicUrl);
  log(`agent: listening on ${cfg.listenHost}:${bound.port} for ${cfg.slug} (advertised as ${url}); managed paths: ${managed.join(', ')}`);

  const life = tenantLifecycle({ ...cfg, projectName, url, log, keys }, (cert, ca, key) => {
    server.setCredentials({ key, cert, ca });
    log(`agent: approved; serving ${cfg.slug} on ${url}`);
  });
  return {
    url,
    server,
    outcome: life.outcome,
    async close() {
      life.stop();
      await server.close();
    },
  };
}

/** One tenant directory: the single-tenant agent's, or one of a multi-tenant agent's. */
export interface AgentTenantConfig {
  slug: string;
  dir: string;
  projectName?: string;
  name?: string;
  /** Needed until the tenant is registered. */
  inviteCode?: string;
}

export interface MultiTenantAgentConfig extends AgentProcessConfig {
  tenants: AgentTenantConfig[];
  /** At most this many registrations in flight at once (default 8), so a large host does not flood the control plane. */
  registerConcurrency?: number;
  /** Tests and benchmarks inject drivers; otherwise the tenant driver on this host's Docker. */
  driverFor?: (t: { slug: string; dir: string; projectName: string }) => ExecutionDriver;
}

export interface RunningMultiTenantAgent {
  url: string;
  server: MultiTenantAgentServer;
  /** Per slug: serving once approved, or why that tenant gave up. */
  outcomes: Map<string, Promise<AgentOutcome>>;
  close(): Promise<void>;
}

/**
 * One agent process for many tenant directories on one host: one port, and
 * per tenant its own key pair, registration (its own invite code), approval
 * and certificate, exactly as if each ran its own agent. The control plane
 * sees N agents at the same URL; the TLS server name picks the tenant.
 */
export async function startMultiTenantAgent(cfg: MultiTenantAgentConfig): Promise<RunningMultiTenantAgent> {
  const log = cfg.log ?? ((m: string) => console.log(m));
  checkControlPlaneUrl(cfg.ccpUrl, cfg.insecureHttp);
  if (cfg.tenants.length === 0) throw new Error('no tenants to serve');
  for (const t of cfg.tenants) caPinOf({ ...cfg, inviteCode: t.inviteCode });
  const seen = new Set<string>();
  for (const t of cfg.tenants) {
    if (seen.has(t.slug)) throw new Error(`tenant ${t.slug} is listed twice`);
    seen.add(t.slug);
  }
  const managed = cfg.managed ?? DEFAULT_AGENT_MANAGED;
  const server = createMultiTenantAgentServer({ managed, lockStaleMs: cfg.lockStaleMs, log });
  let driverFor = cfg.driverFor;
  if (!driverFor) {
    const engine = createDockerEngine();
    const compose = await detectComposeVariant();
    driverFor = (t) => createTenantDriver({ engine, compose }, { projectName: t.projectName, dir: t.dir });
  }
  const keys = new Map<string, KeyPairPem>();
  for (const t of cfg.tenants) {
    const projectName = t.projectName ?? t.slug;
    server.addTenant({ slug: t.slug, dir: t.dir, driver: driverFor({ slug: t.slug, dir: t.dir, projectName }) });
    keys.set(t.slug, await loadOrCreateKeys(path.join(cfg.stateDir, t.slug), (m) => log(`agent: ${t.slug}: ${m}`)));
  }
  const bound = await server.listen(cfg.listenHost, cfg.listenPort);
  const url = advertisedUrl(cfg.listenHost, bound.port, cfg.publicUrl);
  log(`agent: listening on ${cfg.listenHost}:${bound.port} for ${cfg.tenants.length} tenants (advertised as ${url}); managed paths: ${managed.join(', ')}`);

  const gate = semaphore(cfg.registerConcurrency ?? 8);
  const total = cfg.tenants.length;
  const lives = cfg.tenants.map((t) =>
    tenantLifecycle(
      {
        ...cfg,
        ...t,
        projectName: t.projectName ?? t.slug,
        stateDir: path.join(cfg.stateDir, t.slug),
        url,
        log,
        gate,
        keys: keys.get(t.slug)!,
        multi: true,
      },
      (cert, ca, key) => {
        server.setTenantCredentials(t.slug, { key, cert, ca });
        const n = server.serving().length;
        log(`agent: approved; serving ${t.slug} on ${url} (${n} of ${total} tenants served)`);
      },
    ),
  );
  return {
    url,
    server,
    outcomes: new Map(cfg.tenants.map((t, i) => [t.slug, lives[i]!.outcome])),
    async close() {
      for (const l of lives) l.stop();
      await server.close();
    },
  };
}

function advertisedUrl(listenHost: string, port: number, publicUrl?: string): string {
  const host = ['0.0.0.0', '::', ''].includes(listenHost) ? os.hostname() : listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  return (publicUrl ?? `https://${host}:${port}`).replace(/\/+$/, '');
}

/** At most n of the wrapped calls at once. */
function semaphore(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

interface LifecycleConfig {
  ccpUrl: string;
  inviteCode?: string;
  slug: string;
  dir: string;
  projectName: string;
  name?: string;
  url: string;
  stateDir: string;
  caFingerprint?: string;
  schedule?: PollSchedule;
  log: (m: string) => void;
  keys: KeyPairPem;
  /** Wraps each registration attempt (a multi-tenant agent limits how many run at once). */
  gate?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** One of many tenants: log lines name the slug. */
  multi?: boolean;
}

/** The tenant's key pair from its state directory (0700), made there on first start. */
async function loadOrCreateKeys(stateDir: string, log: (m: string) => void): Promise<KeyPairPem> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await chmod(stateDir, 0o700);
  const file = (n: string) => path.join(stateDir, n);
  const savedKey = await readOptional(file('key.pem'));
  const savedPub = await readOptional(file('key.pub'));
  if (savedKey && savedPub) return { privateKeyPem: savedKey, publicKeyPem: savedPub };
  const keys = await generateKeyPair();
  await writePrivate(file('key.pem'), keys.privateKeyPem);
  await writePrivate(file('key.pub'), keys.publicKeyPem, 0o644);
  log('generated a new key pair (the private key stays in the state directory)');
  return keys;
}

/**
 * One tenant's way to being served: its key pair (made here, kept in its
 * state directory), registration with its invite code, polling until an
 * operator decides, then `serve` with the certificate; a restart resumes
 * where it was.
 */
function tenantLifecycle(cfg: LifecycleConfig, serve: (cert: string, ca: string, key: string) => void): { outcome: Promise<AgentOutcome>; stop(): void } {
  const log = cfg.log;
  const ccp = cfg.ccpUrl.replace(/\/+$/, '');
  const file = (n: string) => path.join(cfg.stateDir, n);
  const gate = cfg.gate ?? (<T>(fn: () => Promise<T>) => fn());
  let loop: PollLoop<unknown> | undefined;
  let closed = false;
  const keys = cfg.keys;
  /** Single-tenant lines stay as they always were; a multi-tenant agent's name the tenant. */
  const of = cfg.multi ? ` ${cfg.slug}` : '';
  const who = cfg.multi ? `${cfg.slug}: ` : '';

  async function register(): Promise<string | AgentOutcome> {
    if (!cfg.inviteCode) return { kind: 'refused', message: `${who}not registered yet and no invite code given (--invite-code)` };
    log(`agent: ${who}registering with key ${publicKeyFingerprint256(keys.publicKeyPem)} (the Agents page shows it to the operator who approves)`);
    const csr = await createCsr(cfg.slug, keys);
    const body = {
      inviteCode: cfg.inviteCode,
      slug: cfg.slug,
      csr,
      agentUrl: cfg.url,
      composeDir: path.resolve(cfg.dir),
      composeProjectName: cfg.projectName,
      ...(cfg.name ? { name: cfg.name } : {}),
    };
    loop = pollUntilDone<string | AgentOutcome>(
      async () => {
        const a = await gate(() => postJson(`${ccp}/api/agents/register`, body));
        return classify<string | AgentOutcome>('register', a, (b) => ({ kind: 'done', value: String(b.registrationId) }), (message) => ({ kind: 'refused', message }));
      },
      { schedule: cfg.schedule, log: (m) => log(`agent: ${who}${m}`) },
    ) as PollLoop<unknown>;
    return (await loop.result) as string | AgentOutcome;
  }

  async function awaitDecision(registrationId: string, pin: string | undefined): Promise<AgentOutcome> {
    loop = pollUntilDone<Decision>(() => pollOnce(ccp, registrationId, cfg.slug), { schedule: cfg.schedule, log: (m) => log(`agent: ${who}${m}`) }) as PollLoop<unknown>;
    const d = (await loop.result) as Decision;
    if (d.kind !== 'approved') return d;
    // Nothing is written before the CA handed over is the pinned one: a swapped CA must leave no trace.
    const problem = checkIssued(d.cert, d.ca, keys, cfg.slug, pin);
    if (problem) return { kind: 'refused', message: `the certificate handed over is not acceptable: ${problem}` };
    await writePrivate(file('cert.pem'), d.cert, 0o644);
    await writePrivate(file('ca.pem'), d.ca, 0o644);
    await rm(file('registration.json'), { force: true });
    serve(d.cert, d.ca, keys.privateKeyPem);
    return { kind: 'serving' };
  }

  async function lifecycle(): Promise<AgentOutcome> {
    const cert = await readOptional(file('cert.pem'));
    const ca = await readOptional(file('ca.pem'));
    if (cert && ca) {
      serve(cert, ca, keys.privateKeyPem);
      return { kind: 'serving' };
    }
    const saved = await readOptional(file('registration.json'));
    const savedReg = saved ? (JSON.parse(saved) as { registrationId?: string; caFingerprint?: string }) : {};
    let registrationId = savedReg.registrationId;
    // The pin outlives the invite code: a restarted agent keeps checking the CA its code named.
    const pin = caPinOf({ caFingerprint: cfg.caFingerprint, inviteCode: registrationId ? undefined : cfg.inviteCode, saved: savedReg.caFingerprint });
    if (!pin) {
      if (new URL(ccp).protocol !== 'https:') {
        return { kind: 'refused', message: `${who}over http the control plane's CA must be pinned: use an invite code from this version (it carries the CA fingerprint) or --ca-fingerprint` };
      }
      log(`agent: ${who}warning: the control plane's CA is not pinned (an invite code from before codes carried it, and no --ca-fingerprint); trusting the CA it hands over`);
    }
    if (!registrationId) {
      const r = await register();
      if (typeof r !== 'string') return r;
      registrationId = r;
      await writePrivate(file('registration.json'), `${JSON.stringify({ registrationId, slug: cfg.slug, ccpUrl: ccp, ...(pin ? { caFingerprint: pin } : {}) })}\n`);
      log(`agent: registered${of} (registration ${registrationId}); waiting for an operator to approve it`);
    } else {
      log(`agent: ${who}resuming registration ${registrationId}; waiting for approval`);
    }
    const outcome = await awaitDecision(registrationId, pin);
    if (outcome.kind === 'rejected') {
      await rm(file('registration.json'), { force: true });
      log(`agent: ${who}registration rejected${outcome.reason ? `: ${outcome.reason}` : ''}; ask for a new invite code`);
    } else if (outcome.kind === 'refused') {
      log(`agent: ${who}giving up: ${outcome.message}`);
    }
    return outcome;
  }

  const outcome = lifecycle().catch((err: Error) => {
    if (closed) return { kind: 'refused', message: 'stopped' } as AgentOutcome;
    throw err;
  });
  return {
    outcome,
    stop() {
      closed = true;
      loop?.stop();
    },
  };
}

/** The certificate is for our key and slug, issued by the CA handed over (and the pinned one, if any). */
function checkIssued(certPem: string, caPem: string, keys: KeyPairPem, slug: string, pin?: string): string | undefined {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    if (pin && fingerprint256(caPem).toUpperCase() !== pin.toUpperCase()) {
      return `the CA's fingerprint is ${fingerprint256(caPem)}, not the pinned ${pin} (a man in the middle, or an invite from another control plane); nothing was saved`;
    }
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not signed by the CA handed over';
    if (!cert.publicKey.equals(createPublicKey(keys.publicKeyPem))) return 'not for this agent\'s key';
    if (!(cert.subjectAltName ?? '').split(', ').includes(`DNS:${slug}`)) return `not for ${slug}`;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
