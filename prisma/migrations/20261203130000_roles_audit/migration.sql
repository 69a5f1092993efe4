-- Roles. Until now every operator could do everything, and the first one is
-- the admin: existing operators and their tokens keep that (admin); from here
-- on a new operator or token is a viewer unless given a role.
ALTER TABLE "Operator" ADD COLUMN "role" TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE "Operator" ALTER COLUMN "role" SET DEFAULT 'viewer';
ALTER TABLE "Operator" ADD CONSTRAINT "Operator_role_check" CHECK ("role" IN ('viewer', 'operator', 'admin'));
ALTER TABLE "ApiToken" ADD COLUMN "role" TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE "ApiToken" ALTER COLUMN "role" SET DEFAULT 'viewer';
ALTER TABLE "ApiToken" ADD CONSTRAINT "ApiToken_role_check" CHECK ("role" IN ('viewer', 'operator', 'admin'));

-- The audit log.
CREATE TABLE "AuditEntry" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actorKind" TEXT NOT NULL,
    "actorId" TEXT,
    "actorName" TEXT,
    "tokenId" TEXT,
    "tokenName" TEXT,
    "action" TEXT NOT NULL,
    "targetKind" TEXT,
    "targetId" TEXT,
    "clientAddress" TEXT,
    "outcome" TEXT NOT NULL,
    "reason" TEXT,
    "before" JSONB,
    "after" JSONB,

    CONSTRAINT "AuditEntry_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "AuditEntry_outcome_check" CHECK ("outcome" IN ('accepted', 'refused'))
);
CREATE INDEX "AuditEntry_at_idx" ON "AuditEntry"("at");
CREATE INDEX "AuditEntry_actorName_at_idx" ON "AuditEntry"("actorName", "at");
CREATE INDEX "AuditEntry_targetKind_targetId_at_idx" ON "AuditEntry"("targetKind", "targetId", "at");
CREATE INDEX "AuditEntry_action_at_idx" ON "AuditEntry"("action", "at");

-- Append-only in the database itself, whatever the code does: rows can be
-- added, never changed or removed (TRUNCATE included).
CREATE FUNCTION "audit_entry_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % on "AuditEntry" refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER "AuditEntry_no_update_delete" BEFORE UPDATE OR DELETE ON "AuditEntry"
  FOR EACH ROW EXECUTE FUNCTION "audit_entry_append_only"();
CREATE TRIGGER "AuditEntry_no_truncate" BEFORE TRUNCATE ON "AuditEntry"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_entry_append_only"();
