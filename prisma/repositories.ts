/**
 * Prisma behind small repositories: the API and the activities see these
 * functions, never the client, so the data model can change in one place.
 */
import type { StepProgress, UpgradeMode, UpgradeStatus } from '../core/types.js';
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

export function createInstanceRepo(prisma: PrismaClient) {
  return {
    /** Returns undefined when the slug is taken. */
    async create(data: NewInstance): Promise<InstanceRecord | undefined> {
      try {
        return await prisma.instance.create({ data });
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) return undefined;
        throw err;
      }
    },
    list: (): Promise<InstanceRecord[]> => prisma.instance.findMany({ orderBy: { slug: 'asc' } }),
    get: async (id: string): Promise<InstanceRecord | undefined> =>
      (await prisma.instance.findUnique({ where: { id } })) ?? undefined,
    async setImageTag(id: string, imageTag: string | null): Promise<void> {
      await prisma.instance.update({ where: { id }, data: { imageTag } });
    },
  };
}

function toUpgrade(row: Record<string, unknown>): UpgradeRecord {
  return { ...(row as unknown as UpgradeRecord), steps: (row.steps as StepProgress[] | null) ?? [] };
}

export function createUpgradeRepo(prisma: PrismaClient) {
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
    async saveProgress(id: string, p: UpgradeProgress): Promise<void> {
      await prisma.instanceUpgrade.update({
        where: { id },
        data: {
          status: p.status,
          currentStep: p.currentStep,
          steps: p.steps as object[],
          error: p.error ?? null,
          finishedAt: p.finished ? new Date() : null,
        },
      });
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
