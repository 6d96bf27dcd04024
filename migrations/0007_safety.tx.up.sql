-- Safety nets: imports are soft-deleted (restorable until purged), a run
-- keeps what it needs to be undone, and every administrative action is
-- written to an append-only audit log.

-- A deleted import is hidden and inert until purge_after, when a background
-- job deletes it with its files and runs. delete_mode says what happened to
-- its recipients: REMOVE marked them removed (removed_at = deleted_at, no
-- run); KEEP left them active. For a USER import deleted with REMOVE,
-- deleted_user_ids are the accounts the delete disabled (restore enables
-- them again).
ALTER TABLE imports
    ADD COLUMN deleted_at       timestamptz,
    ADD COLUMN deleted_by       bigint REFERENCES users (id),
    ADD COLUMN delete_mode      text CHECK (delete_mode IN ('REMOVE', 'KEEP')),
    ADD COLUMN purge_after      timestamptz,
    ADD COLUMN deleted_user_ids bigint[],
    ADD CONSTRAINT imports_deleted_shape CHECK (
        (deleted_at IS NULL) = (delete_mode IS NULL) AND (deleted_at IS NULL) = (purge_after IS NULL));

-- Names are unique among live imports; a deleted one's name is free again
-- (restoring it then needs a rename of one of them).
DROP INDEX imports_name_key;
CREATE UNIQUE INDEX imports_name_key ON imports (lower(btrim(name))) WHERE deleted_at IS NULL;
CREATE INDEX imports_purge_after_idx ON imports (purge_after) WHERE deleted_at IS NOT NULL;

-- When a purged import's recipients were kept they stay, detached from any
-- import; what was removed goes with the import. No row may point at
-- nothing: every reference below is a foreign key that says what happens
-- when its target goes.
ALTER TABLE recipients ALTER COLUMN import_id DROP NOT NULL;
ALTER TABLE recipients
    DROP CONSTRAINT recipients_import_id_fkey,
    ADD CONSTRAINT recipients_import_id_fkey FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE SET NULL,
    DROP CONSTRAINT recipients_removed_by_run_id_fkey,
    ADD CONSTRAINT recipients_removed_by_run_id_fkey FOREIGN KEY (removed_by_run_id) REFERENCES import_runs (id) ON DELETE SET NULL;
ALTER TABLE list_additions
    DROP CONSTRAINT list_additions_recipient_id_fkey,
    ADD CONSTRAINT list_additions_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES recipients (id) ON DELETE CASCADE;
ALTER TABLE list_exclusions
    DROP CONSTRAINT list_exclusions_recipient_id_fkey,
    ADD CONSTRAINT list_exclusions_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES recipients (id) ON DELETE CASCADE;
-- Deleting a purged import's runs sets these references to NULL: indexed,
-- so that is a lookup per run, not a scan of the table.
CREATE INDEX recipients_removed_by_run_id_idx ON recipients (removed_by_run_id) WHERE removed_by_run_id IS NOT NULL;
ALTER TABLE users
    DROP CONSTRAINT users_import_id_fkey,
    ADD CONSTRAINT users_import_id_fkey FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE SET NULL;

-- Undo. A run that applies records undo_watermark, the highest recipient id
-- its import had before it: the rows it created are the import's rows above
-- it (runs of one import never overlap). Rows it changed, restored or
-- removed have their before-image in import_run_undo. NULL: the run cannot
-- be undone (dry, not applied, pruned after the retention period, or a
-- revert itself).
ALTER TABLE import_runs
    ADD COLUMN undo_watermark     bigint,
    ADD COLUMN reverts_run_id     bigint REFERENCES import_runs (id) ON DELETE SET NULL,
    ADD COLUMN reverted_by_run_id bigint REFERENCES import_runs (id) ON DELETE SET NULL;

-- Before-images, compactly: an update or restore ('U') keeps every column
-- the run overwrote; a removal ('D') only what it overwrote, updated_at.
-- recipient_id is deliberately not a foreign key: checking one locks each
-- recipient a run changes, which cost a nightly run about a second for
-- 25,000 changes. Nothing can leave it dangling: undo rows belong to a run
-- of the recipient's own import and go with the run (cascade) or when it
-- is reverted or pruned; a revert deletes only rows created after every
-- run that still has undo rows; a purge deletes the runs with the import.
CREATE TABLE import_run_undo (
    run_id             bigint      NOT NULL REFERENCES import_runs (id) ON DELETE CASCADE,
    recipient_id       bigint      NOT NULL,
    op                 "char"      NOT NULL CHECK (op IN ('U', 'D')),
    type               text,
    first_name         text,
    last_name          text,
    grade              text,
    grade_rank         smallint,
    school             text,
    language           text,
    phones             jsonb,
    emails             jsonb,
    custom_fields      jsonb,
    row_hash           bigint,
    updated_at         timestamptz NOT NULL,
    removed_at         timestamptz,
    removed_by_run_id  bigint      REFERENCES import_runs (id) ON DELETE SET NULL,
    PRIMARY KEY (run_id, recipient_id)
);

CREATE INDEX import_run_undo_removed_by_run_id_idx ON import_run_undo (removed_by_run_id) WHERE removed_by_run_id IS NOT NULL;

-- Who did what. Entries are written in the transaction of the action they
-- record and can never be changed or deleted: the table refuses it.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    -- NULL: the system (a scheduled purge, a command-line bootstrap).
    actor_id     bigint REFERENCES users (id),
    actor_email  text,
    action       text        NOT NULL,
    target_type  text        NOT NULL,
    -- Targets are not foreign keys: the log outlives what it names (a
    -- purged import), and keeps the name it had.
    target_id    bigint,
    target_name  text,
    details      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object')
);

CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only'
        USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'audit_log_append_only';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
