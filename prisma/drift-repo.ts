/**
 * The last drift check of each instance (InstanceDrift): written by the
 * driftCheck workflow's activities, read by the instances API.
 */
import type { DriftReport, DriftStatus } from '../core/drift.js';
import type { PrismaClient } from './generated/client.js';

export interface DriftRecord {
  instanceId: string;
  status: DriftStatus;
  report: DriftReport;
  checkedAt: Date;
  driftedSince: Date | null;
}

/** What the instances list shows per instance: the state and what differs, not the diffs. */
export interface DriftState {
  status: DriftStatus;
  checkedAt: Date;
  driftedSince: Date | null;
  files: number;
  images: number;
  reason?: string;
}

export const driftStateOf = (r: DriftRecord): DriftState => ({
  status: r.status,
  checkedAt: r.checkedAt,
  driftedSince: r.driftedSince,
  files: r.report.files.length,
  images: r.report.images.length,
  ...(r.report.reason ? { reason: r.report.reason } : {}),
});

const toRecord = (row: { instanceId: string; status: string; report: unknown; checkedAt: Date; driftedSince: Date | null }): DriftRecord => ({
  instanceId: row.instanceId,
  status: row.status as DriftStatus,
  report: row.report as DriftReport,
  checkedAt: row.checkedAt,
  driftedSince: row.driftedSince,
});

export function createDriftRepo(prisma: PrismaClient) {
  return {
    /** Stores a check's result; false when the instance was deleted meanwhile. */
    async record(instanceId: string, report: DriftReport, now = new Date()): Promise<boolean> {
      return prisma.$transaction(async (tx) => {
        if (!(await tx.instance.findUnique({ where: { id: instanceId }, select: { id: true } }))) return false;
        const prev = await tx.instanceDrift.findUnique({ where: { instanceId } });
        const driftedSince = report.status === 'drifted' ? (prev?.status === 'drifted' ? prev.driftedSince : now) : null;
        const data = { status: report.status, report: report as object, checkedAt: now, driftedSince };
        await tx.instanceDrift.upsert({ where: { instanceId }, create: { instanceId, ...data }, update: data });
        return true;
      });
    },
    async get(instanceId: string): Promise<DriftRecord | undefined> {
      const row = await prisma.instanceDrift.findUnique({ where: { instanceId } });
      return row ? toRecord(row) : undefined;
    },
    /** instanceId -> state, for every instance checked at least once. */
    async states(): Promise<Map<string, DriftState>> {
      const rows = await prisma.instanceDrift.findMany();
      return new Map(rows.map((r) => [r.instanceId, driftStateOf(toRecord(r))]));
    },
  };
}

export type DriftRepo = ReturnType<typeof createDriftRepo>;
