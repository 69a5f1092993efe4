/**
 * Prisma behind small repositories: the API and the activities see these
 * functions, never the client, so the data model can change in one place.
 */
import { posix } from 'node:path';
import type { StepProgress, UpgradeMode, UpgradeStatus } from '../core/types.js';
import { nowIso, sqlOf, utcParam } from './db.js';
import type { PrismaClient } from './generated/client.js';

export interface InstanceRecord {
  id: string;
  slug: string;
  name: string;
  isRemote: boolean;
  isRegistered: boolean;
  imageTag: string | null;
  composeProjectName: string;
  composeDir: string;
  coreServices: string[];
  agentUrl: string | null;
  labels: string[];
  /** NULL: the default release. */
  releaseVersion: string | null;
  /** Non-secret values; secrets are read apart (sealedSecrets) and never part of this record. */
  values: Record<string, unknown>;
  /** Names of the secrets that are set. */
  secretsSet: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface NewInstance {
  slug: string;
  name: string;
  composeProjectName: string;
  composeDir: string;
  coreServices: string[];
  imageTag?: string | null;
  isRemote?: boolean;
  labels?: string[];
  releaseVersion?: string | null;
  values?: Record<string, unknown>;
  /** Name -> sealed string. */
  secrets?: Record<string, string>;
}

export interface UpgradeRecord {
  id: string;
  instanceId: string;
  mode: UpgradeMode;
  imageTag: string;
  status: UpgradeStatus;
  currentStep: string | null;
  steps: StepProgress[];
  error: string | null;
  workflowId: string;
  runId: string | null;
  requestedBy: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface NewUpgrade {
  id: string;
  instanceId: string;
  mode: UpgradeMode;
  imageTag: string;
  workflowId: string;
  runId?: string;
  requestedBy?: string;
  status: UpgradeStatus;
}

export interface UpgradeProgress {
  status: UpgradeStatus;
  currentStep: string | null;
  steps: StepProgress[];
  error?: string | null;
  finished?: boolean;
}

const UNIQUE_VIOLATION = 'P2002';

/** The sealed secrets never leave the repository inside an instance record: only their names do. */
export function toInstance(row: Record<string, unknown>): InstanceRecord {
  const { secrets, values, ...rest } = row;
  return {
    ...(rest as unknown as Omit<InstanceRecord, 'values' | 'secretsSet'>),
    values: (values as Record<string, unknown> | null) ?? {},
    secretsSet: Object.keys((secrets as Record<string, string> | null) ?? {}).sort(),
  };
}

/**
 * The instance row in plain SQL (see sqlOf): read by most steps of every
 * upgrade. Prisma keeps DateTime in `timestamp` columns as UTC; read as
 * timestamptz here so pg makes the same Dates whatever the process's zone.
 */
const INSTANCE_BY_ID = `SELECT id, slug, name, "isRemote", "isRegistered", "imageTag", "composeProjectName", "composeDir", "coreServices",
  "agentUrl", labels, "releaseVersion", values, secrets,
  "createdAt" AT TIME ZONE 'UTC' AS "createdAt", "updatedAt" AT TIME ZONE 'UTC' AS "updatedAt"
  FROM "Instance" WHERE id = $1`;

export function createInstanceRepo(prisma: PrismaClient) {
  const sql = sqlOf(prisma);
  return {
    /** Returns undefined when the slug is taken. */
    async create(data: NewInstance): Promise<InstanceRecord | undefined> {
      try {
        return toInstance(await prisma.instance.create({ data: data as never }));
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) return undefined;
        throw err;
      }
    },
    list: async (): Promise<InstanceRecord[]> => (await prisma.instance.findMany({ orderBy: { slug: 'asc' } })).map(toInstance),
    get: async (id: string): Promise<InstanceRecord | undefined> => {
      const [row] = await sql(INSTANCE_BY_ID, [id]);
      return row ? toInstance(row) : undefined;
    },
    async update(id: string, data: { imageTag?: string | null; labels?: string[]; releaseVersion?: string | null; name?: string; coreServices?: string[] }): Promise<void> {
      await prisma.instance.update({ where: { id }, data });
    },
    /**
     * The tag, and the release when one is given (undefined leaves it): once
     * per upgrade, so plain SQL (see sqlOf). Throws when the instance is gone, as update does.
     */
    async setImageTag(id: string, imageTag: string | null, releaseVersion?: string | null): Promise<void> {
      const rows = await sql(
        `UPDATE "Instance" SET "imageTag" = $2, "releaseVersion" = CASE WHEN $3::boolean THEN $4 ELSE "releaseVersion" END, "updatedAt" = ${utcParam(5)}
         WHERE id = $1 RETURNING id`,
        [id, imageTag, releaseVersion !== undefined, releaseVersion ?? null, nowIso()],
      );
      if (rows.length === 0) throw new Error(`instance ${id} does not exist`);
    },
    withLabel: async (label: string): Promise<InstanceRecord[]> =>
      (await prisma.instance.findMany({ where: { labels: { has: label } }, orderBy: { slug: 'asc' } })).map(toInstance),
    byIds: async (ids: string[]): Promise<InstanceRecord[]> => (await prisma.instance.findMany({ where: { id: { in: ids } } })).map(toInstance),
    /** Name -> sealed string; opened only by whoever renders. */
    async sealedSecrets(id: string): Promise<Record<string, string>> {
      const row = await prisma.instance.findUnique({ where: { id }, select: { secrets: true } });
      return (row?.secrets as Record<string, string> | null) ?? {};
    },
    /** Replaces values and merges secrets (null deletes one). */
    async setValues(id: string, values: Record<string, unknown>, secrets: Record<string, string | null>): Promise<void> {
      await prisma.$transaction(async (tx) => {
        const row = await tx.instance.findUnique({ where: { id }, select: { secrets: true } });
        const merged = { ...((row?.secrets as Record<string, string> | null) ?? {}) };
        for (const [k, v] of Object.entries(secrets)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        await tx.instance.update({ where: { id }, data: { values: values as object, secrets: merged } });
      });
    },
    /** Another instance managing this compose directory and project, if any. */
    async managing(composeDir: string, composeProjectName: string): Promise<InstanceRecord | undefined> {
      // `/srv/acme/` and `/srv/acme/./` are `/srv/acme`.
      const norm = (d: string) => posix.normalize(d).replace(/(.)\/+$/, '$1');
      const rows = await prisma.instance.findMany({ where: { composeProjectName } });
      const row = rows.find((r) => norm(r.composeDir) === norm(composeDir));
      return row ? toInstance(row) : undefined;
    },
  };
}

export interface ReleaseRecord {
  version: string;
  name: string;
  contentHash: string;
  files: Record<string, string>;
  source: string;
  createdAt: Date;
}

export function createReleaseRepo(prisma: PrismaClient) {
  const toRelease = (row: Record<string, unknown>) => ({ ...(row as unknown as ReleaseRecord), files: row.files as Record<string, string> });
  return {
    /**
     * Publishes a version once: `created` the first time, `same` when the
     * version exists with this content, `conflict` when with other content.
     * The primary key decides between two processes publishing at once.
     */
    async publish(r: Omit<ReleaseRecord, 'createdAt'>): Promise<{ outcome: 'created' | 'same' | 'conflict'; release: ReleaseRecord }> {
      // Looked up first: publishing a release that is there already (every start publishes the shipped one) then
      // needs no failing statement, which the embedded PGlite socket answers by dropping the connection.
      const found = await prisma.release.findUnique({ where: { version: r.version } });
      if (found) {
        const existing = toRelease(found);
        return { outcome: existing.contentHash === r.contentHash ? 'same' : 'conflict', release: existing };
      }
      try {
        return { outcome: 'created', release: toRelease(await prisma.release.create({ data: r })) };
      } catch (err) {
        if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
        const existing = toRelease((await prisma.release.findUnique({ where: { version: r.version } }))!);
        return { outcome: existing.contentHash === r.contentHash ? 'same' : 'conflict', release: existing };
      }
    },
    get: async (version: string): Promise<ReleaseRecord | undefined> => {
      const row = await prisma.release.findUnique({ where: { version } });
      return row ? toRelease(row) : undefined;
    },
    list: async (): Promise<Omit<ReleaseRecord, 'files'>[]> =>
      prisma.release.findMany({ orderBy: { createdAt: 'asc' }, select: { version: true, name: true, contentHash: true, source: true, createdAt: true } }),
  };
}
export type ReleaseRepo = ReturnType<typeof createReleaseRepo>;

/** UpgradeRecord's columns, the times read as UTC (see INSTANCE_BY_ID). */
const UPGRADE_COLUMNS = `id, "instanceId", mode, "imageTag", status, "currentStep", steps, error, "workflowId", "runId", "requestedBy",
  "startedAt" AT TIME ZONE 'UTC' AS "startedAt", "finishedAt" AT TIME ZONE 'UTC' AS "finishedAt"`;

function toUpgrade(row: Record<string, unknown>): UpgradeRecord {
  return { ...(row as unknown as UpgradeRecord), steps: (row.steps as StepProgress[] | null) ?? [] };
}

export function createUpgradeRepo(prisma: PrismaClient) {
  const sql = sqlOf(prisma);
  return {
    /**
     * Creates the row unless it exists. Both the API (right after starting the
     * workflow) and the workflow's first step call it: whichever comes first
     * wins, and a crash between start and insert loses nothing.
     */
    async ensure(data: NewUpgrade): Promise<void> {
      const { runId, requestedBy, status, ...rest } = data;
      await prisma.instanceUpgrade.upsert({
        where: { id: data.id },
        create: { ...rest, status, runId: runId ?? null, requestedBy: requestedBy ?? null },
        update: runId ? { runId } : {},
      });
    },
    /**
     * The workflow's side of ensure: the row, running, with the first step's
     * progress when given. `created` or `queued` (the API's row, now running)
     * only for the call that made it so, so a step retried, or a first record
     * repeated, counts the upgrade started once; `existing` when it already
     * was, and then `progress` was not written.
     */
    async markRunning(data: Omit<NewUpgrade, 'status'>, progress?: Omit<UpgradeProgress, 'finished'>): Promise<'created' | 'queued' | 'existing'> {
      const { runId, requestedBy, ...rest } = data;
      // Once per upgrade: plain SQL (see sqlOf). ON CONFLICT DO NOTHING is Prisma's skipDuplicates.
      const created = await sql(
        `INSERT INTO "InstanceUpgrade" (id, "instanceId", mode, "imageTag", status, "currentStep", steps, error, "workflowId", "runId", "requestedBy", "startedAt")
         VALUES ($1, $2, $3, $4, 'running', $5, $6::jsonb, $7, $8, $9, $10, ${utcParam(11)})
         ON CONFLICT DO NOTHING RETURNING id`,
        [
          rest.id,
          rest.instanceId,
          rest.mode,
          rest.imageTag,
          progress?.currentStep ?? null,
          JSON.stringify(progress?.steps ?? []),
          progress?.error ?? null,
          rest.workflowId,
          runId ?? null,
          requestedBy ?? null,
          nowIso(),
        ],
      );
      if (created.length > 0) return 'created';
      // Plain SQL too: every step of a group run together (UpgradeRun.together) but the first lands here.
      const queued = progress
        ? await sql(
            `UPDATE "InstanceUpgrade" SET status = 'running', "currentStep" = $3, steps = $4::jsonb, error = $5, "runId" = COALESCE($2, "runId")
             WHERE id = $1 AND status = 'queued' RETURNING id`,
            [data.id, runId ?? null, progress.currentStep, JSON.stringify(progress.steps), progress.error ?? null],
          )
        : await sql(`UPDATE "InstanceUpgrade" SET status = 'running', "runId" = COALESCE($2, "runId") WHERE id = $1 AND status = 'queued' RETURNING id`, [
            data.id,
            runId ?? null,
          ]);
      return queued.length > 0 ? 'queued' : 'existing';
    },
    /**
     * Answers the saved row (one UPDATE … RETURNING): its mode for the metrics,
     * and what a notification of the change names, without reading it again.
     */
    async saveProgress(id: string, p: UpgradeProgress): Promise<UpgradeRecord> {
      // At least once per upgrade (its end): plain SQL (see sqlOf).
      const [row] = await sql(
        `UPDATE "InstanceUpgrade" SET status = $2, "currentStep" = $3, steps = $4::jsonb, error = $5,
           "finishedAt" = CASE WHEN $6::boolean THEN ${utcParam(7)} END
         WHERE id = $1 RETURNING ${UPGRADE_COLUMNS}`,
        [id, p.status, p.currentStep, JSON.stringify(p.steps), p.error ?? null, !!p.finished, nowIso()],
      );
      if (!row) throw new Error(`upgrade ${id} does not exist`);
      return toUpgrade(row);
    },
    /** Progress that rode on a step's activity: never over an upgrade already finished (a late attempt's write). */
    async saveStepProgress(id: string, p: Omit<UpgradeProgress, 'finished'>): Promise<void> {
      // Once per step of every upgrade: plain SQL (see sqlOf).
      await sql(
        'UPDATE "InstanceUpgrade" SET status = $2, "currentStep" = $3, steps = $4::jsonb, error = $5 WHERE id = $1 AND "finishedAt" IS NULL',
        [id, p.status, p.currentStep, JSON.stringify(p.steps), p.error ?? null],
      );
    },
    get: async (id: string): Promise<UpgradeRecord | undefined> => {
      const row = await prisma.instanceUpgrade.findUnique({ where: { id } });
      return row ? toUpgrade(row) : undefined;
    },
    listForInstance: async (instanceId: string, limit = 50): Promise<UpgradeRecord[]> =>
      (await prisma.instanceUpgrade.findMany({ where: { instanceId }, orderBy: { startedAt: 'desc' }, take: limit })).map(
        toUpgrade,
      ),
  };
}

export type InstanceRepo = ReturnType<typeof createInstanceRepo>;
export type UpgradeRepo = ReturnType<typeof createUpgradeRepo>;

// ---------------------------------------------------------------------------
// Agents: invites (stored hashed), registrations and the operator's decisions.

export type RegistrationStatus = 'pending' | 'approved' | 'rejected' | 'revoked';

export interface InviteRecord {
  id: string;
  slug: string | null;
  note: string | null;
  createdBy: string | null;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

export interface RegistrationRecord {
  id: string;
  slug: string;
  name: string;
  agentUrl: string;
  composeDir: string;
  composeProjectName: string;
  csrPem: string;
  clientAddress: string | null;
  status: RegistrationStatus;
  inviteId: string;
  instanceId: string | null;
  certPem: string | null;
  certSerial: string | null;
  certFingerprint: string | null;
  certNotAfter: Date | null;
  decidedBy: string | null;
  decidedAt: Date | null;
  reason: string | null;
  revokedBy: string | null;
  revokedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewRegistration {
  slug: string;
  name: string;
  agentUrl: string;
  composeDir: string;
  composeProjectName: string;
  csrPem: string;
  clientAddress: string | null;
}

export type InviteRefusal = 'unknown' | 'used' | 'expired' | 'other-slug';

export interface Approval {
  decidedBy: string;
  certPem: string;
  certSerial: string;
  certFingerprint: string;
  certNotAfter: Date;
  /** For an Instance created at approval. */
  name?: string;
  coreServices: string[];
  /** Replace the slug's instance or approved agent (the operator saw and confirmed what `replaces` showed). */
  confirmReplace?: boolean;
}

/** What approving a registration would replace: the slug's instance and its approved agent, if any. */
export interface Replacement {
  instance?: InstanceRecord;
  agent?: RegistrationRecord;
}

const INVITE_SELECT = { id: true, slug: true, note: true, createdBy: true, createdAt: true, expiresAt: true, usedAt: true } as const;

/**
 * Built on a transaction's client (the audit log's, api/audit.ts), the agent
 * repo's multi-step changes join that transaction rather than open their own:
 * the change and its audit entry commit together or not at all.
 */
export function createAgentRepo(prisma: PrismaClient) {
  const sql = sqlOf(prisma);
  const asRegistration = (row: unknown) => row as RegistrationRecord;
  // A transaction's client has no $transaction of its own.
  const atomically = <T>(fn: (tx: PrismaClient) => Promise<T>): Promise<T> =>
    typeof prisma.$transaction === 'function' ? prisma.$transaction((tx) => fn(tx as unknown as PrismaClient)) : fn(prisma);
  return {
    createInvite: (data: { codeHash: string; expiresAt: Date; slug?: string | null; note?: string | null; createdBy?: string | null }): Promise<InviteRecord> =>
      prisma.agentInvite.create({ data, select: INVITE_SELECT }),

    listInvites: (limit = 200): Promise<InviteRecord[]> =>
      prisma.agentInvite.findMany({ orderBy: { createdAt: 'desc' }, take: limit, select: INVITE_SELECT }),

    /**
     * Uses the invite and records the registration in one transaction: of two
     * registrations racing on one code, exactly one gets it.
     */
    async register(codeHash: string, data: NewRegistration, now = new Date()): Promise<{ registration: RegistrationRecord } | { refused: InviteRefusal }> {
      return atomically(async (tx) => {
        const invite = await tx.agentInvite.findUnique({ where: { codeHash } });
        if (!invite) return { refused: 'unknown' as const };
        if (invite.usedAt) return { refused: 'used' as const };
        if (invite.expiresAt.getTime() <= now.getTime()) return { refused: 'expired' as const };
        if (invite.slug && invite.slug !== data.slug) return { refused: 'other-slug' as const };
        const claimed = await tx.agentInvite.updateMany({ where: { id: invite.id, usedAt: null }, data: { usedAt: now } });
        if (claimed.count !== 1) return { refused: 'used' as const };
        const registration = await tx.agentRegistration.create({ data: { ...data, inviteId: invite.id } });
        return { registration: asRegistration(registration) };
      });
    },

    getRegistration: async (id: string): Promise<RegistrationRecord | undefined> =>
      asRegistration(await prisma.agentRegistration.findUnique({ where: { id } })) ?? undefined,

    listRegistrations: async (status?: RegistrationStatus, limit = 200): Promise<RegistrationRecord[]> =>
      (await prisma.agentRegistration.findMany({ where: status ? { status } : {}, orderBy: { createdAt: 'desc' }, take: limit })).map(asRegistration),

    /**
     * pending → approved: stores the signed certificate, supersedes an earlier
     * approved agent of the slug, and creates or links the Instance (remote,
     * registered, agent URL). Undefined when the registration is not pending.
     *
     * When the slug already has an instance or an approved agent, nothing
     * changes unless `confirmReplace` is set: the answer is what would be
     * replaced, for the operator to confirm. Approvals of one slug take turns
     * (a transaction-scoped advisory lock), so two racing approvals see each
     * other and the second gets an answer rather than the partial unique
     * index's error (migration 20261126235900_agents).
     */
    async approve(
      id: string,
      a: Approval,
    ): Promise<{ registration: RegistrationRecord; instance: InstanceRecord; replaced: Replacement } | { replaces: Replacement; registration: RegistrationRecord } | undefined> {
      return atomically(async (tx) => {
        const pending = await tx.agentRegistration.findUnique({ where: { id }, select: { slug: true } });
        if (!pending) return undefined;
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`drydock-agent-approval:${pending.slug}`}))`;
        const reg = asRegistration(await tx.agentRegistration.findUnique({ where: { id } }));
        if (reg.status !== 'pending') return undefined;
        const instance = await tx.instance.findUnique({ where: { slug: reg.slug } });
        const current = asRegistration(await tx.agentRegistration.findFirst({ where: { slug: reg.slug, status: 'approved' } })) ?? undefined;
        const replaced: Replacement = { instance: instance ? toInstance(instance) : undefined, agent: current };
        if ((instance || current) && !a.confirmReplace) return { registration: reg, replaces: replaced };
        const now = new Date();
        await tx.agentRegistration.updateMany({
          where: { slug: reg.slug, status: 'approved' },
          data: { status: 'revoked', revokedAt: now, revokedBy: a.decidedBy, reason: `superseded by registration ${reg.id}` },
        });
        const linked = {
          isRemote: true,
          isRegistered: true,
          agentUrl: reg.agentUrl,
          composeDir: reg.composeDir,
          composeProjectName: reg.composeProjectName,
        };
        const linkedInstance = await tx.instance.upsert({
          where: { slug: reg.slug },
          update: linked,
          create: { slug: reg.slug, name: a.name ?? reg.name, coreServices: a.coreServices, ...linked },
        });
        const updated = await tx.agentRegistration.update({
          where: { id },
          data: {
            status: 'approved',
            decidedBy: a.decidedBy,
            decidedAt: now,
            certPem: a.certPem,
            certSerial: a.certSerial,
            certFingerprint: a.certFingerprint,
            certNotAfter: a.certNotAfter,
            instanceId: linkedInstance.id,
          },
        });
        return { registration: asRegistration(updated), instance: toInstance(linkedInstance), replaced };
      });
    },

    /** pending → rejected; undefined when it is not pending. */
    async reject(id: string, decidedBy: string, reason: string | null): Promise<RegistrationRecord | undefined> {
      const r = await prisma.agentRegistration.updateMany({
        where: { id, status: 'pending' },
        data: { status: 'rejected', decidedBy, decidedAt: new Date(), reason },
      });
      return r.count === 1 ? asRegistration(await prisma.agentRegistration.findUnique({ where: { id } })) : undefined;
    },

    /** approved → revoked, and the instance loses its agent URL; undefined when it is not approved. */
    async revoke(id: string, revokedBy: string, reason: string | null): Promise<RegistrationRecord | undefined> {
      return atomically(async (tx) => {
        const r = await tx.agentRegistration.updateMany({
          where: { id, status: 'approved' },
          data: { status: 'revoked', revokedBy, revokedAt: new Date(), reason },
        });
        if (r.count !== 1) return undefined;
        const reg = asRegistration(await tx.agentRegistration.findUnique({ where: { id } }));
        if (reg.instanceId) await tx.instance.updateMany({ where: { id: reg.instanceId, agentUrl: reg.agentUrl }, data: { agentUrl: null } });
        return reg;
      });
    },

    /** The agent the control plane may call for a slug: approved, with its URL and certificate fingerprint. */
    async approvedAgent(slug: string): Promise<{ agentUrl: string; fingerprint256?: string } | undefined> {
      // One round trip in plain SQL (see sqlOf): the remote driver asks before every agent call (about fifteen per release upgrade).
      const rows = await sql<{ agentUrl: string; certFingerprint: string | null }>(
        `SELECT COALESCE(i."agentUrl", r."agentUrl") AS "agentUrl", r."certFingerprint"
         FROM "AgentRegistration" r LEFT JOIN "Instance" i ON i.id = r."instanceId"
         WHERE r.slug = $1 AND r.status = 'approved'
         LIMIT 1`,
        [slug],
      );
      const reg = rows[0];
      return reg ? { agentUrl: reg.agentUrl, fingerprint256: reg.certFingerprint ?? undefined } : undefined;
    },
  };
}

export type AgentRepo = ReturnType<typeof createAgentRepo>;

// ---------------------------------------------------------------------------
// What /metrics reads at scrape time: one grouped query each.

export function createMetricsRepo(prisma: PrismaClient) {
  return {
    parkedUpgrades: async (): Promise<{ mode: string; count: number }[]> =>
      (await prisma.instanceUpgrade.groupBy({ by: ['mode'], where: { status: 'needs-attention' }, _count: { _all: true } })).map((r) => ({
        mode: r.mode,
        count: r._count._all,
      })),
    agentStates: async (): Promise<{ state: string; count: number }[]> =>
      (await prisma.agentRegistration.groupBy({ by: ['status'], _count: { _all: true } })).map((r) => ({ state: r.status, count: r._count._all })),
  };
}
