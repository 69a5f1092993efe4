-- CreateTable
CREATE TABLE "AgentInvite" (
    "id" TEXT NOT NULL,
    "codeHash" TEXT NOT NULL,
    "slug" TEXT,
    "note" TEXT,
    "createdBy" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),

    CONSTRAINT "AgentInvite_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AgentRegistration" (
    "id" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "agentUrl" TEXT NOT NULL,
    "composeDir" TEXT NOT NULL,
    "composeProjectName" TEXT NOT NULL,
    "csrPem" TEXT NOT NULL,
    "clientAddress" TEXT,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "inviteId" TEXT NOT NULL,
    "instanceId" TEXT,
    "certPem" TEXT,
    "certSerial" TEXT,
    "certFingerprint" TEXT,
    "certNotAfter" TIMESTAMP(3),
    "decidedBy" TEXT,
    "decidedAt" TIMESTAMP(3),
    "reason" TEXT,
    "revokedBy" TEXT,
    "revokedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "AgentRegistration_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "AgentInvite_codeHash_key" ON "AgentInvite"("codeHash");

-- CreateIndex
CREATE INDEX "AgentRegistration_slug_status_idx" ON "AgentRegistration"("slug", "status");

-- CreateIndex
CREATE INDEX "AgentRegistration_status_createdAt_idx" ON "AgentRegistration"("status", "createdAt");

-- At most one approved agent per slug (not expressible in the Prisma schema).
CREATE UNIQUE INDEX "AgentRegistration_one_approved_per_slug" ON "AgentRegistration"("slug") WHERE "status" = 'approved';

-- AddForeignKey
ALTER TABLE "AgentRegistration" ADD CONSTRAINT "AgentRegistration_inviteId_fkey" FOREIGN KEY ("inviteId") REFERENCES "AgentInvite"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
