-- Notifications: endpoints, the outbox of events, deliveries, and when each
-- agent was last reached (for "agent offline").
CREATE TABLE "NotificationEndpoint" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "urlSealed" TEXT NOT NULL,
    "urlOrigin" TEXT NOT NULL,
    "secretSealed" TEXT,
    "events" TEXT[],
    "labels" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "createdBy" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "NotificationEndpoint_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "NotificationEndpoint_kind_check" CHECK ("kind" IN ('webhook', 'slack'))
);

CREATE TABLE "NotificationEvent" (
    "id" BIGSERIAL NOT NULL,
    "key" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "instanceId" TEXT,
    "instanceSlug" TEXT,
    "labels" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "summary" TEXT NOT NULL,
    "details" JSONB NOT NULL DEFAULT '{}',
    "links" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "NotificationEvent_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "NotificationEvent_key_key" ON "NotificationEvent"("key");
CREATE INDEX "NotificationEvent_createdAt_idx" ON "NotificationEvent"("createdAt");

CREATE TABLE "NotificationDelivery" (
    "id" BIGSERIAL NOT NULL,
    "endpointId" TEXT NOT NULL,
    "eventId" BIGINT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "responseStatus" INTEGER,
    "lastAttemptAt" TIMESTAMP(3),
    "deliveredAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "NotificationDelivery_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "NotificationDelivery_status_check" CHECK ("status" IN ('pending', 'delivered')),
    CONSTRAINT "NotificationDelivery_endpointId_fkey" FOREIGN KEY ("endpointId") REFERENCES "NotificationEndpoint"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "NotificationDelivery_eventId_fkey" FOREIGN KEY ("eventId") REFERENCES "NotificationEvent"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "NotificationDelivery_endpointId_eventId_key" ON "NotificationDelivery"("endpointId", "eventId");
CREATE INDEX "NotificationDelivery_endpointId_status_eventId_idx" ON "NotificationDelivery"("endpointId", "status", "eventId");

CREATE TABLE "AgentContact" (
    "instanceId" TEXT NOT NULL,
    "lastContactAt" TIMESTAMP(3) NOT NULL,
    "lastCheckAt" TIMESTAMP(3) NOT NULL,
    "lastError" TEXT,

    CONSTRAINT "AgentContact_pkey" PRIMARY KEY ("instanceId")
);
