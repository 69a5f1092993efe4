-- Drift detection: the last check of each instance.
CREATE TABLE "InstanceDrift" (
    "instanceId" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "report" JSONB NOT NULL,
    "checkedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "driftedSince" TIMESTAMP(3),

    CONSTRAINT "InstanceDrift_pkey" PRIMARY KEY ("instanceId"),
    CONSTRAINT "InstanceDrift_status_check" CHECK ("status" IN ('in-sync', 'drifted', 'unknown'))
);

ALTER TABLE "InstanceDrift" ADD CONSTRAINT "InstanceDrift_instanceId_fkey" FOREIGN KEY ("instanceId") REFERENCES "Instance"("id") ON DELETE CASCADE ON UPDATE CASCADE;
