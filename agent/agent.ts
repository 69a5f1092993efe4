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
import Docker from 'dockerode';
import { createCsr, fingerprint256, generateKeyPair, type KeyPairPem } from '../core/pki.js';
import type { ExecutionDriver } from '../core/driver.js';
import { DEFAULT_AGENT_MANAGED } from './guard.js';
import { classify, pollOnce, pollUntilDone, postJson, type Decision, type PollLoop, type PollSchedule } from './poll.js';
import { createAgentServer, type AgentServer } from './server.js';
import { createTenantDriver, detectComposeVariant } from './tenant.js';

export interface AgentConfig {
  ccpUrl: string;
  inviteCode?: string;
  slug: string;
  dir: string;
  projectName?: string;
  name?: string;
  listenHost: string;
  listenPort: number;
  /** The URL the control plane should call; default from the listen address. */
  publicUrl?: string;
  stateDir: string;
  managed?: readonly string[];
  /** Pin for the CA certificate the control plane hands over (`AB:CD:…`, sha256). */
  caFingerprint?: string;
  schedule?: PollSchedule;
  lockStaleMs?: number;
  /** Tests inject a driver; otherwise the tenant driver on this host's Docker. */
  driver?: ExecutionDriver;
  log?: (m: string) => void;
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

export async function startAgent(cfg: AgentConfig): Promise<RunningAgent> {
  const log = cfg.log ?? ((m: string) => console.log(m));
  const ccp = cfg.ccpUrl.replace(/\/+$/, '');
  await mkdir(cfg.stateDir, { recursive: true, mode: 0o700 });
  await chmod(cfg.stateDir, 0o700);
  const file = (n: string) => path.join(cfg.stateDir, n);

  let keys: KeyPairPem;
  const savedKey = await readOptional(file('key.pem'));
  const savedPub = await readOptional(file('key.pub'));
  if (savedKey && savedPub) {
    keys = { privateKeyPem: savedKey, publicKeyPem: savedPub };
  } else {
    keys = await generateKeyPair();
    await writePrivate(file('key.pem'), keys.privateKeyPem);
    await writePrivate(file('key.pub'), keys.publicKeyPem, 0o644);
    log('agent: generated a new key pair (the private key stays in the state directory)');
  }

  const projectName = cfg.projectName ?? cfg.slug;
  const driver = cfg.driver ?? createTenantDriver({ docker: new Docker(), compose: await detectComposeVariant() }, { projectName, dir: cfg.dir });
  const managed = cfg.managed ?? DEFAULT_AGENT_MANAGED;
  const server = createAgentServer({ slug: cfg.slug, dir: cfg.dir, driver, managed, lockStaleMs: cfg.lockStaleMs, log });
  const bound = await server.listen(cfg.listenHost, cfg.listenPort);
  const host = ['0.0.0.0', '::', ''].includes(cfg.listenHost) ? os.hostname() : cfg.listenHost.includes(':') ? `[${cfg.listenHost}]` : cfg.listenHost;
  const url = (cfg.publicUrl ?? `https://${host}:${bound.port}`).replace(/\/+$/, '');
  log(`agent: listening on ${cfg.listenHost}:${bound.port} for ${cfg.slug} (advertised as ${url}); managed paths: ${managed.join(', ')}`);

  let loop: PollLoop<unknown> | undefined;
  let closed = false;

  const serve = (cert: string, ca: string) => {
    server.setCredentials({ key: keys.privateKeyPem, cert, ca });
    log(`agent: approved; serving ${cfg.slug} on ${url}`);
  };

  async function register(): Promise<string | AgentOutcome> {
    if (!cfg.inviteCode) return { kind: 'refused', message: 'not registered yet and no invite code given (--invite-code)' };
    const csr = await createCsr(cfg.slug, keys);
    const body = {
      inviteCode: cfg.inviteCode,
      slug: cfg.slug,
      csr,
      agentUrl: url,
      composeDir: path.resolve(cfg.dir),
      composeProjectName: projectName,
      ...(cfg.name ? { name: cfg.name } : {}),
    };
    loop = pollUntilDone<string | AgentOutcome>(
      async () => {
        const a = await postJson(`${ccp}/api/agents/register`, body);
        return classify<string | AgentOutcome>('register', a, (b) => ({ kind: 'done', value: String(b.registrationId) }), (message) => ({ kind: 'refused', message }));
      },
      { schedule: cfg.schedule, log: (m) => log(`agent: ${m}`) },
    ) as PollLoop<unknown>;
    return (await loop.result) as string | AgentOutcome;
  }

  async function awaitDecision(registrationId: string): Promise<AgentOutcome> {
    loop = pollUntilDone<Decision>(() => pollOnce(ccp, registrationId, cfg.slug), { schedule: cfg.schedule, log: (m) => log(`agent: ${m}`) }) as PollLoop<unknown>;
    const d = (await loop.result) as Decision;
    if (d.kind !== 'approved') return d;
    const problem = checkIssued(d.cert, d.ca, keys, cfg.slug, cfg.caFingerprint);
    if (problem) return { kind: 'refused', message: `the certificate handed over is not acceptable: ${problem}` };
    await writePrivate(file('cert.pem'), d.cert, 0o644);
    await writePrivate(file('ca.pem'), d.ca, 0o644);
    await rm(file('registration.json'), { force: true });
    serve(d.cert, d.ca);
    return { kind: 'serving' };
  }

  async function lifecycle(): Promise<AgentOutcome> {
    const cert = await readOptional(file('cert.pem'));
    const ca = await readOptional(file('ca.pem'));
    if (cert && ca) {
      serve(cert, ca);
      return { kind: 'serving' };
    }
    const saved = await readOptional(file('registration.json'));
    let registrationId = saved ? (JSON.parse(saved) as { registrationId?: string }).registrationId : undefined;
    if (!registrationId) {
      const r = await register();
      if (typeof r !== 'string') return r;
      registrationId = r;
      await writePrivate(file('registration.json'), `${JSON.stringify({ registrationId, slug: cfg.slug, ccpUrl: ccp })}\n`);
      log(`agent: registered (registration ${registrationId}); waiting for an operator to approve it`);
    } else {
      log(`agent: resuming registration ${registrationId}; waiting for approval`);
    }
    const outcome = await awaitDecision(registrationId);
    if (outcome.kind === 'rejected') {
      await rm(file('registration.json'), { force: true });
      log(`agent: registration rejected${outcome.reason ? `: ${outcome.reason}` : ''}; ask for a new invite code`);
    } else if (outcome.kind === 'refused') {
      log(`agent: giving up: ${outcome.message}`);
    }
    return outcome;
  }

  const outcome = lifecycle().catch((err: Error) => {
    if (closed) return { kind: 'refused', message: 'stopped' } as AgentOutcome;
    throw err;
  });

  return {
    url,
    server,
    outcome,
    async close() {
      closed = true;
      loop?.stop();
      await server.close();
    },
  };
}

/** The certificate is for our key and slug, issued by the CA handed over (and the pinned one, if any). */
function checkIssued(certPem: string, caPem: string, keys: KeyPairPem, slug: string, pin?: string): string | undefined {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    if (pin && fingerprint256(caPem).toUpperCase() !== pin.toUpperCase()) return `the CA's fingerprint is ${fingerprint256(caPem)}, not the pinned ${pin}`;
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not signed by the CA handed over';
    if (!cert.publicKey.equals(createPublicKey(keys.publicKeyPem))) return 'not for this agent\'s key';
    if (!(cert.subjectAltName ?? '').split(', ').includes(`DNS:${slug}`)) return `not for ${slug}`;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
