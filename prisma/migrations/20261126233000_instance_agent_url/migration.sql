-- AlterTable
ALTER TABLE "Instance" ADD COLUMN "agentUrl" TEXT;
