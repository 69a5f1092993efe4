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
 */
import { randomBytes } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { badRequest, conflict, forbidden, notFound } from '../../core/errors.js';
import { inviteCode } from '../../core/invite-code.js';
import { keyFingerprint256, sha256Hex, type IssuedCertificate } from '../../core/pki.js';
import { DEFAULT_CORE_SERVICES } from '../../core/validation.js';
import type { AgentRepo, InviteRefusal, RegistrationRecord, RegistrationStatus, Replacement } from '../../prisma/repositories.js';
import { operatorOf } from '../auth.js';
import { auditLocals } from '../audit.js';
import { agentApproveBody as approveBody, agentDecisionBody as decisionBody, agentPollBody as pollBody, agentRegisterBody as registerBody, createInviteBody } from '../schemas.js';
import { createRateLimiter, rateLimit, tooManyRequests, type RateLimit } from '../rate-limit.js';

export interface AgentCa {
  certPem: string;
  fingerprint256: string;
  signAgentCsr(csrPem: string, slug: string): Promise<IssuedCertificate>;
}

export interface AgentsRouterDeps {
  agents: AgentRepo;
  ca: AgentCa;
  rateLimits?: { register?: RateLimit; poll?: RateLimit; pollAddress?: RateLimit };
  log?: (m: string) => void;
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

export function createRouter(deps: AgentsRouterDeps): Router {
  const router = Router();
  const log = deps.log ?? (() => {});
  const registerLimiter = createRateLimiter(deps.rateLimits?.register ?? REGISTER_LIMIT);
  const pollLimiter = createRateLimiter(deps.rateLimits?.poll ?? POLL_LIMIT);
  const pollAddressLimiter = createRateLimiter(deps.rateLimits?.pollAddress ?? POLL_ADDRESS_LIMIT);
  const clientAddress = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

  router.post('/agents/invites', async (req, res) => {
    const body = createInviteBody.parse(req.body ?? {});
    const code = inviteCode(randomBytes(18).toString('base64url'), deps.ca.fingerprint256);
    const invite = await deps.agents.createInvite({
      codeHash: sha256Hex(code),
      expiresAt: new Date(Date.now() + body.expiresInMinutes * 60_000),
      slug: body.slug ?? null,
      note: body.note ?? null,
      createdBy: operator(req),
    });
    // The code is shown here once; only its hash is kept (the audit entry records only that it is set).
    Object.assign(auditLocals(res), { auditTarget: { kind: 'invite', id: invite.id }, auditAfter: { slug: invite.slug, expiresAt: invite.expiresAt, code: 'set' } });
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
      const result = await deps.agents.register(sha256Hex(body.inviteCode), {
        slug: body.slug,
        name: body.name ?? body.slug,
        agentUrl: body.agentUrl.replace(/\/$/, ''),
        composeDir: body.composeDir,
        composeProjectName: body.composeProjectName ?? body.slug,
        csrPem: body.csr,
        clientAddress: req.ip ?? null,
      });
      if ('refused' in result) throw forbidden(REFUSED[result.refused]);
      log(`agent registration ${result.registration.id} for ${body.slug} from ${req.ip} (${body.agentUrl}): pending approval`);
      Object.assign(auditLocals(res), { auditTarget: { kind: 'agent', id: result.registration.id }, auditAfter: { slug: body.slug, agentUrl: body.agentUrl } });
      res.status(201).json({ registrationId: result.registration.id, status: 'pending' });
    },
  );

  router.post('/agents/poll', rateLimit(pollAddressLimiter, clientAddress, 'polls from this address'), async (req, res) => {
    const body = pollBody.parse(req.body);
    const limited = pollLimiter.hit(`${body.registrationId}:${body.slug}`);
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

  async function pendingOrConflict(id: string, wanted: RegistrationStatus): Promise<never> {
    const reg = await deps.agents.getRegistration(id);
    if (!reg) throw notFound(`no registration with id ${id}`);
    throw conflict(`registration ${id} is ${reg.status}, not ${wanted}`, { status: reg.status });
  }

  router.post('/agents/registrations/:id/approve', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const body = approveBody.parse(req.body ?? {});
    const reg = await deps.agents.getRegistration(id);
    if (!reg) throw notFound(`no registration with id ${id}`);
    if (reg.status !== 'pending') return pendingOrConflict(id, 'pending');
    const cert = await deps.ca.signAgentCsr(reg.csrPem, reg.slug);
    const approved = await deps.agents.approve(id, {
      decidedBy: operator(req),
      certPem: cert.certPem,
      certSerial: cert.serial,
      certFingerprint: cert.fingerprint256,
      certNotAfter: cert.notAfter,
      name: body.name,
      coreServices: body.coreServices ?? [...DEFAULT_CORE_SERVICES],
      confirmReplace: body.confirmReplace,
    });
    if (!approved) return pendingOrConflict(id, 'pending');
    if ('replaces' in approved) {
      const view = replacementView(approved.registration, approved.replaces);
      const what = [
        view.current.instance && `the instance ${reg.slug}${view.current.instance.agentUrl ? ` (agent ${view.current.instance.agentUrl})` : ' (run on this host)'}`,
        view.current.agent && `the approved agent at ${view.current.agent.agentUrl}`,
      ].filter(Boolean);
      throw conflict(`approving this registration re-points ${what.join(' and ')} to ${reg.agentUrl}; confirm with confirmReplace: true`, {
        replaces: view,
      });
    }
    log(`agent ${reg.slug} approved by ${operator(req)}: ${reg.agentUrl}`);
    res.json({ registration: registrationView(approved.registration), instance: approved.instance });
  });

  router.post('/agents/registrations/:id/reject', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const body = decisionBody.parse(req.body ?? {});
    const reg = await deps.agents.reject(id, operator(req), body.reason ?? null);
    if (!reg) return pendingOrConflict(id, 'pending');
    res.json(registrationView(reg));
  });

  router.post('/agents/registrations/:id/revoke', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const body = decisionBody.parse(req.body ?? {});
    const reg = await deps.agents.revoke(id, operator(req), body.reason ?? null);
    if (!reg) return pendingOrConflict(id, 'approved');
    log(`agent ${reg.slug} revoked by ${operator(req)}`);
    res.json(registrationView(reg));
  });

  return router;
}
