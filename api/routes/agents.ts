/**
 * Agents: invite codes, registration, the agent's poll, and the operator's
 * decisions (approve, reject, revoke).
 *
 * An agent registers with a single-use invite code and a CSR (its key never
 * leaves the tenant host), then polls until an operator decides. Approval
 * signs its certificate with the slug as identity and creates or links the
 * Instance. `/register` is limited per client address (invite-code guessing),
 * `/poll` per registration (a human-paced approval can take hours) and per
 * client address (registration ids are free to make up).
 *
 * An invite is for one slug unless asked for as `anySlug`, and its code
 * carries the CA's fingerprint (core/invite-code.ts). Approving a
 * registration for a slug that already has an instance or an approved agent
 * answers 409 with what would be replaced until `confirmReplace` is given.
 *
 * Each of these changes (invite, registration, approve, reject, revoke) is
 * written with its audit entry in one transaction, before and after included;
 * a refusal is recorded with its reason and changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { badRequest, conflict, forbidden, notFound, type DrydockError } from '../../core/errors.js';
import { inviteCode } from '../../core/invite-code.js';
import { keyFingerprint256, sha256Hex, type IssuedCertificate } from '../../core/pki.js';
import { DEFAULT_CORE_SERVICES } from '../../core/validation.js';
import { createAgentRepo, type AgentRepo, type InstanceRecord, type InviteRefusal, type RegistrationRecord, type RegistrationStatus, type Replacement } from '../../prisma/repositories.js';
import { operatorOf } from '../auth.js';
import { auditLocals, changeAudited, entryFor, type AuditLog, type NewAuditEntry } from '../audit.js';
import { agentApproveBody as approveBody, agentDecisionBody as decisionBody, agentPollBody as pollBody, agentRegisterBody as registerBody, createInviteBody } from '../schemas.js';
import { inProcessRateLimiterFactory, rateLimit, tooManyRequests, type RateLimit, type RateLimiterFactory } from '../rate-limit.js';
import type { Notifier } from '../../platform/notifier.js';

export interface AgentCa {
  certPem: string;
  fingerprint256: string;
  signAgentCsr(csrPem: string, slug: string): Promise<IssuedCertificate>;
}

export interface AgentsRouterDeps {
  agents: AgentRepo;
  /** Set by createApp: each decision is written with its audit entry. */
  audit: AuditLog;
  ca: AgentCa;
  rateLimits?: { register?: RateLimit; poll?: RateLimit; pollAddress?: RateLimit };
  /** Where the limits count: the control plane shares them through PostgreSQL (sharedRateLimiterFactory); default this process. */
  rateLimiters?: RateLimiterFactory;
  log?: (m: string) => void;
  /** Tells operators a registration waits for their approval. */
  notifier?: Pick<Notifier, 'emit' | 'links'>;
}

export const REGISTER_LIMIT: RateLimit = { max: 10, windowMs: 15 * 60_000 };
export const POLL_LIMIT: RateLimit = { max: 180, windowMs: 15 * 60_000 };
/** Polls from one address, whatever registration they name: a multi-tenant agent of 60 tenants polling every 30 s fits. */
export const POLL_ADDRESS_LIMIT: RateLimit = { max: 1_800, windowMs: 15 * 60_000 };

const idParam = z.object({ id: z.string().uuid('must be a registration id') });
const statusQuery = z.object({ status: z.enum(['pending', 'approved', 'rejected', 'revoked']).optional() });

const REFUSED: Record<InviteRefusal, string> = {
  unknown: 'the invite code is not valid',
  used: 'the invite code has been used already',
  expired: 'the invite code has expired',
  'other-slug': 'the invite code is for another slug',
};

/** Who decided: the signed-in operator (the auth guard covers these routes), or "api". */
function operator(req: Request): string {
  return operatorOf(req) ?? 'api';
}

function registrationView(r: RegistrationRecord) {
  const { csrPem: _csr, certPem: _cert, ...rest } = r;
  return { ...rest, keyFingerprint256: keyOf(r) ?? null };
}

/** The agent's key fingerprint, which its log shows on the tenant host; undefined for a CSR that does not parse. */
function keyOf(r: RegistrationRecord): string | undefined {
  try {
    return keyFingerprint256(r.csrPem);
  } catch {
    return undefined;
  }
}

/** What approving `reg` would replace, old beside new, for the operator to confirm. */
function replacementView(reg: RegistrationRecord, r: Replacement) {
  return {
    slug: reg.slug,
    current: {
      instance: r.instance ? { id: r.instance.id, name: r.instance.name, isRemote: r.instance.isRemote, agentUrl: r.instance.agentUrl } : null,
      agent: r.agent
        ? { registrationId: r.agent.id, agentUrl: r.agent.agentUrl, keyFingerprint256: keyOf(r.agent) ?? null, certFingerprint256: r.agent.certFingerprint }
        : null,
    },
    replacement: { registrationId: reg.id, agentUrl: reg.agentUrl, keyFingerprint256: keyOf(reg) ?? null },
  };
}

/** The 409 of an approval that would replace something the operator has not confirmed. */
function replacementConflict(reg: RegistrationRecord, view: ReturnType<typeof replacementView>): DrydockError {
  const what = [
    view.current.instance && `the instance ${reg.slug}${view.current.instance.agentUrl ? ` (agent ${view.current.instance.agentUrl})` : ' (run on this host)'}`,
    view.current.agent && `the approved agent at ${view.current.agent.agentUrl}`,
  ].filter(Boolean);
  return conflict(`approving this registration re-points ${what.join(' and ')} to ${reg.agentUrl}; confirm with confirmReplace: true`, { replaces: view });
}

type Entry = Partial<NewAuditEntry> & Pick<NewAuditEntry, 'outcome'>;

/** The refusal of a decision on a registration that is missing or not `wanted`, and its audit entry. */
function undecidable(id: string, reg: RegistrationRecord | undefined, wanted: RegistrationStatus): { result: DrydockError; entry: Entry } {
  const error = reg ? conflict(`registration ${id} is ${reg.status}, not ${wanted}`, { status: reg.status }) : notFound(`no registration with id ${id}`);
  return { result: error, entry: { outcome: 'refused', reason: error.message, before: reg ? { slug: reg.slug, status: reg.status } : null } };
}

export function createRouter(deps: AgentsRouterDeps): Router {
  const router = Router();
  const log = deps.log ?? (() => {});
  const limiter = deps.rateLimiters ?? inProcessRateLimiterFactory;
  const registerLimiter = limiter('agents-register', deps.rateLimits?.register ?? REGISTER_LIMIT);
  const pollLimiter = limiter('agents-poll', deps.rateLimits?.poll ?? POLL_LIMIT);
  const pollAddressLimiter = limiter('agents-poll-address', deps.rateLimits?.pollAddress ?? POLL_ADDRESS_LIMIT);
  const clientAddress = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

  /** Runs a change on the agent repo with its audit entry in one transaction; a refused entry rolls the change back. */
  const audited = <T>(req: Request, res: Response, fn: (agents: AgentRepo) => Promise<{ result: T; entry: Entry }>) =>
    changeAudited(deps.audit, req, res, (tx) => fn(createAgentRepo(tx)));

  /** Records a refusal found before any change is attempted, then answers it. */
  async function refuse(req: Request, res: Response, r: { result: DrydockError; entry: Entry }): Promise<never> {
    await deps.audit.write(entryFor(req, r.entry));
    auditLocals(res).audited = true;
    throw r.result;
  }

  router.post('/agents/invites', async (req, res) => {
    const body = createInviteBody.parse(req.body ?? {});
    const code = inviteCode(randomBytes(18).toString('base64url'), deps.ca.fingerprint256);
    const invite = await audited(req, res, async (agents) => {
      const i = await agents.createInvite({
        codeHash: sha256Hex(code),
        expiresAt: new Date(Date.now() + body.expiresInMinutes * 60_000),
        slug: body.slug ?? null,
        note: body.note ?? null,
        createdBy: operator(req),
      });
      // The code is shown here once; only its hash is kept, and the audit entry records only that it is set.
      const after = { slug: i.slug, anySlug: i.slug === null, expiresAt: i.expiresAt.toISOString(), note: i.note, code: 'set' };
      return { result: i, entry: { outcome: 'accepted', targetId: i.id, after } };
    });
    res.status(201).json({ ...invite, code, caFingerprint256: deps.ca.fingerprint256 });
  });

  router.get('/agents/invites', async (_req, res) => {
    const now = Date.now();
    res.json(
      (await deps.agents.listInvites()).map((i) => ({
        ...i,
        state: i.usedAt ? 'used' : i.expiresAt.getTime() <= now ? 'expired' : 'unused',
      })),
    );
  });

  router.post(
    '/agents/register',
    rateLimit(registerLimiter, clientAddress, 'registrations from this address'),
    async (req, res) => {
      const body = registerBody.parse(req.body);
      // Before the invite is used: a bad CSR must not burn the code.
      let csrProblem: string | undefined;
      try {
        await deps.ca.signAgentCsr(body.csr, body.slug);
      } catch (err) {
        csrProblem = (err as Error).message;
      }
      if (csrProblem) throw badRequest(`csr: ${csrProblem}`);
      const data = {
        slug: body.slug,
        name: body.name ?? body.slug,
        agentUrl: body.agentUrl.replace(/\/$/, ''),
        composeDir: body.composeDir,
        composeProjectName: body.composeProjectName ?? body.slug,
        csrPem: body.csr,
        clientAddress: req.ip ?? null,
      };
      const asked = { slug: data.slug, agentUrl: data.agentUrl, composeDir: data.composeDir, composeProjectName: data.composeProjectName };
      const result = await audited<Awaited<ReturnType<AgentRepo['register']>>>(req, res, async (agents) => {
        const r = await agents.register(sha256Hex(body.inviteCode), data);
        return 'refused' in r
          ? { result: r, entry: { outcome: 'refused', reason: REFUSED[r.refused], after: asked } }
          : { result: r, entry: { outcome: 'accepted', targetId: r.registration.id, after: { ...asked, status: 'pending', keyFingerprint256: keyOf(r.registration) ?? null } } };
      });
      if ('refused' in result) throw forbidden(REFUSED[result.refused]);
      log(`agent registration ${result.registration.id} for ${body.slug} from ${req.ip} (${body.agentUrl}): pending approval`);
      await deps.notifier
        ?.emit({
          key: `agent:registration:${result.registration.id}`,
          type: 'agent.awaiting-approval',
          summary: `the agent of ${body.slug} registered and waits for an admin's approval`,
          details: { registrationId: result.registration.id, slug: body.slug, agentUrl: data.agentUrl, clientAddress: data.clientAddress },
          links: { ui: deps.notifier.links.agents() },
        })
        .catch(() => undefined); // recorded by the notifier's log; the registration itself stands
      res.status(201).json({ registrationId: result.registration.id, status: 'pending' });
    },
  );

  router.post('/agents/poll', rateLimit(pollAddressLimiter, clientAddress, 'polls from this address'), async (req, res) => {
    const body = pollBody.parse(req.body);
    const limited = await pollLimiter.hit(`${body.registrationId}:${body.slug}`);
    if (!limited.ok) return tooManyRequests(res, limited.retryAfterSeconds, 'polls for this registration');
    const reg = await deps.agents.getRegistration(body.registrationId);
    if (!reg || reg.slug !== body.slug) throw notFound(`no registration ${body.registrationId} for ${body.slug}`);
    switch (reg.status) {
      case 'pending':
        return void res.json({ status: 'pending' });
      case 'approved':
        return void res.json({ status: 'approved', certificate: reg.certPem, caCertificate: deps.ca.certPem });
      case 'rejected':
        return void res.json({ status: 'rejected', reason: reg.reason });
      default:
        throw forbidden(`the agent of ${reg.slug} has been revoked`, { status: 'revoked' });
    }
  });

  router.get('/agents/registrations', async (req, res) => {
    const { status } = statusQuery.parse(req.query);
    res.json((await deps.agents.listRegistrations(status as RegistrationStatus | undefined)).map(registrationView));
  });

  router.get('/agents/registrations/:id', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const reg = await deps.agents.getRegistration(id);
    if (!reg) throw notFound(`no registration with id ${id}`);
    res.json(registrationView(reg));
  });

  router.post('/agents/registrations/:id/approve', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const body = approveBody.parse(req.body ?? {});
    const reg = await deps.agents.getRegistration(id);
    if (reg?.status !== 'pending') return refuse(req, res, undecidable(id, reg, 'pending'));
    const cert = await deps.ca.signAgentCsr(reg.csrPem, reg.slug);
    const approved = await audited<DrydockError | { registration: RegistrationRecord; instance: InstanceRecord }>(req, res, async (agents) => {
      const a = await agents.approve(id, {
        decidedBy: operator(req),
        certPem: cert.certPem,
        certSerial: cert.serial,
        certFingerprint: cert.fingerprint256,
        certNotAfter: cert.notAfter,
        name: body.name,
        coreServices: body.coreServices ?? [...DEFAULT_CORE_SERVICES],
        confirmReplace: body.confirmReplace,
      });
      // Another decision came first.
      if (!a) return undecidable(id, await agents.getRegistration(id), 'pending');
      const view = replacementView(a.registration, 'replaces' in a ? a.replaces : a.replaced);
      if ('replaces' in a) {
        const refusal = replacementConflict(reg, view);
        return { result: refusal, entry: { outcome: 'refused', reason: refusal.message, before: view.current, after: view.replacement } };
      }
      const after = { ...view.replacement, certFingerprint256: cert.fingerprint256, status: 'approved', instanceId: a.instance.id };
      return { result: a, entry: { outcome: 'accepted', before: { ...view.current, status: 'pending' }, after } };
    });
    if (approved instanceof Error) throw approved;
    log(`agent ${reg.slug} approved by ${operator(req)}: ${reg.agentUrl}`);
    res.json({ registration: registrationView(approved.registration), instance: approved.instance });
  });

  router.post('/agents/registrations/:id/reject', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const body = decisionBody.parse(req.body ?? {});
    const rejected = await audited<DrydockError | RegistrationRecord>(req, res, async (agents) => {
      const reg = await agents.reject(id, operator(req), body.reason ?? null);
      if (!reg) return undecidable(id, await agents.getRegistration(id), 'pending');
      const after = { slug: reg.slug, status: reg.status, reason: reg.reason };
      return { result: reg, entry: { outcome: 'accepted', before: { slug: reg.slug, status: 'pending' }, after } };
    });
    if (rejected instanceof Error) throw rejected;
    res.json(registrationView(rejected));
  });

  router.post('/agents/registrations/:id/revoke', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const body = decisionBody.parse(req.body ?? {});
    const revoked = await audited<DrydockError | RegistrationRecord>(req, res, async (agents) => {
      const reg = await agents.revoke(id, operator(req), body.reason ?? null);
      if (!reg) return undecidable(id, await agents.getRegistration(id), 'approved');
      const agent = { slug: reg.slug, agentUrl: reg.agentUrl, certFingerprint256: reg.certFingerprint };
      return { result: reg, entry: { outcome: 'accepted', before: { ...agent, status: 'approved' }, after: { ...agent, status: reg.status, reason: reg.reason } } };
    });
    if (revoked instanceof Error) throw revoked;
    log(`agent ${revoked.slug} revoked by ${operator(req)}`);
    res.json(registrationView(revoked));
  });

  return router;
}
