/**
 * Snapshots' files (the managed files and `.env`, byte for byte) kept out of
 * the workflow history: sealed with the keyring into PostgreSQL, and the
 * history carries only the row's id. The id is bound into the ciphertext, so
 * a sealed blob copied onto another row does not open.
 */
import type { Keyring } from '../core/keyring.js';
import type { TenantSnapshot } from '../core/types.js';
import type { PrismaClient } from './generated/client.js';

type Files = TenantSnapshot['files'];
const aad = (id: string) => `snapshot-files:${id}`;

export function createSnapshotStore(prisma: PrismaClient, keyring: Keyring) {
  return {
    async save(upgradeId: string, files: Files): Promise<string> {
      const id = crypto.randomUUID();
      await prisma.snapshotFiles.create({ data: { id, upgradeId, sealed: keyring.sealString(JSON.stringify(files), aad(id)) } });
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
