/**
 * Key material every control-plane process shares (the agent CA, the control
 * plane's client identity): a certificate and its private key, which arrives
 * here sealed already (platform/ca.ts seals it with the keyring).
 */
import type { PrismaClient } from './generated/client.js';

export interface KeyMaterialRecord {
  name: string;
  certPem: string;
  keySealed: string;
}

export function createKeyMaterialRepo(prisma: PrismaClient) {
  const fields = { name: true, certPem: true, keySealed: true } as const;
  return {
    async get(name: string): Promise<KeyMaterialRecord | undefined> {
      return (await prisma.keyMaterial.findUnique({ where: { name }, select: fields })) ?? undefined;
    },
    /** Stores it unless the name exists; true when this call stored it (of processes starting at once, exactly one does). */
    async insertIfAbsent(r: KeyMaterialRecord): Promise<boolean> {
      return (await prisma.keyMaterial.createMany({ data: [r], skipDuplicates: true })).count === 1;
    },
    /** Replaces it only if it still holds `expectedCertPem`: of processes renewing at once, one wins. */
    async replace(expectedCertPem: string, r: KeyMaterialRecord): Promise<boolean> {
      const { count } = await prisma.keyMaterial.updateMany({
        where: { name: r.name, certPem: expectedCertPem },
        data: { certPem: r.certPem, keySealed: r.keySealed, updatedAt: new Date() },
      });
      return count === 1;
    },
  };
}
