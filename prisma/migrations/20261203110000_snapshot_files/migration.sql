-- CreateTable
CREATE TABLE "SnapshotFiles" (
    "id" TEXT NOT NULL,
    "upgradeId" TEXT NOT NULL,
    "sealed" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "SnapshotFiles_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "SnapshotFiles_upgradeId_idx" ON "SnapshotFiles"("upgradeId");

-- AddForeignKey
ALTER TABLE "SnapshotFiles" ADD CONSTRAINT "SnapshotFiles_upgradeId_fkey" FOREIGN KEY ("upgradeId") REFERENCES "InstanceUpgrade"("id") ON DELETE CASCADE ON UPDATE CASCADE;
