/**
 * Snapshots' files (the managed files and `.env`, byte for byte) kept out of
 * the workflow history: sealed with the keyring into PostgreSQL, and the
 * history carries only the row's id. The id is bound into the ciphertext, so
 * a sealed blob copied onto another row does not open.
 */
import type { Keyring } from '../core/keyring.js';
import type { TenantSnapshot } from '../core/types.js';
import type { PrismaClient } from './generated/client.js';
import { nowIso, sqlOf, utcParam } from './db.js';

type Files = TenantSnapshot['files'];
const aad = (id: string) => `snapshot-files:${id}`;

export function createSnapshotStore(prisma: PrismaClient, keyring: Keyring) {
  const sql = sqlOf(prisma);
  return {
    async save(upgradeId: string, files: Files): Promise<string> {
      const id = crypto.randomUUID();
      // Once per upgrade: plain SQL (see sqlOf).
      await sql(`INSERT INTO "SnapshotFiles" (id, "upgradeId", sealed, "createdAt") VALUES ($1, $2, $3, ${utcParam(4)})`, [
        id,
        upgradeId,
        keyring.sealString(JSON.stringify(files), aad(id)),
        nowIso(),
      ]);
      return id;
    },
    /** Undefined when the row is gone (its upgrade was deleted). */
    async load(id: string): Promise<Files | undefined> {
      const row = await prisma.snapshotFiles.findUnique({ where: { id } });
      return row ? (JSON.parse(keyring.openString(row.sealed, aad(id))) as Files) : undefined;
    },
  };
}

export type SnapshotStore = ReturnType<typeof createSnapshotStore>;
