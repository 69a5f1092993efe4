-- Release bundles (immutable, keyed by version) and per-instance release, values and sealed secrets.
-- Existing instances get releaseVersion NULL, which means the default release the control plane ships.
CREATE TABLE "Release" (
    "version" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "contentHash" TEXT NOT NULL,
    "files" JSONB NOT NULL,
    "source" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Release_pkey" PRIMARY KEY ("version")
);

ALTER TABLE "Instance" ADD COLUMN "releaseVersion" TEXT;
ALTER TABLE "Instance" ADD COLUMN "values" JSONB NOT NULL DEFAULT '{}';
ALTER TABLE "Instance" ADD COLUMN "secrets" JSONB NOT NULL DEFAULT '{}';
