-- CreateTable
CREATE TABLE "Instance" (
    "id" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "isRemote" BOOLEAN NOT NULL DEFAULT false,
    "isRegistered" BOOLEAN NOT NULL DEFAULT false,
    "imageTag" TEXT,
    "composeProjectName" TEXT NOT NULL,
    "composeDir" TEXT NOT NULL,
    "coreServices" TEXT[],
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Instance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InstanceUpgrade" (
    "id" TEXT NOT NULL,
    "instanceId" TEXT NOT NULL,
    "mode" TEXT NOT NULL,
    "imageTag" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "currentStep" TEXT,
    "steps" JSONB NOT NULL DEFAULT '[]',
    "error" TEXT,
    "workflowId" TEXT NOT NULL,
    "runId" TEXT,
    "requestedBy" TEXT,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "InstanceUpgrade_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Instance_slug_key" ON "Instance"("slug");

-- CreateIndex
CREATE INDEX "InstanceUpgrade_instanceId_startedAt_idx" ON "InstanceUpgrade"("instanceId", "startedAt");

-- AddForeignKey
ALTER TABLE "InstanceUpgrade" ADD CONSTRAINT "InstanceUpgrade_instanceId_fkey" FOREIGN KEY ("instanceId") REFERENCES "Instance"("id") ON DELETE CASCADE ON UPDATE CASCADE;
