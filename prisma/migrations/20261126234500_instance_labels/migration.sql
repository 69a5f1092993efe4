-- AlterTable
ALTER TABLE "Instance" ADD COLUMN "labels" TEXT[] DEFAULT ARRAY[]::TEXT[];
