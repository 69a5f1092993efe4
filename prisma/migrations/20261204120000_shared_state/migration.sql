-- State every control-plane process must agree on (issue 17).

-- Rate limits counted across processes: one row per limiter key, the times
-- (milliseconds since the epoch, PostgreSQL's clock) of the requests counted
-- in its window. Rows whose window has passed are pruned by the processes.
CREATE TABLE "RateLimitHits" (
    "key" TEXT NOT NULL,
    "hits" BIGINT[] NOT NULL,
    "counted" BOOLEAN NOT NULL DEFAULT true,
    "expiresAtMs" BIGINT NOT NULL,

    CONSTRAINT "RateLimitHits_pkey" PRIMARY KEY ("key")
);
CREATE INDEX "RateLimitHits_expiresAtMs_idx" ON "RateLimitHits"("expiresAtMs");

-- The agent CA and the control plane's client identity: certificates in the
-- clear, private keys sealed with the control plane's secret key.
CREATE TABLE "KeyMaterial" (
    "name" TEXT NOT NULL,
    "certPem" TEXT NOT NULL,
    "keySealed" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "KeyMaterial_pkey" PRIMARY KEY ("name")
);
