DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE import_run_undo;
ALTER TABLE import_runs DROP COLUMN undo_watermark, DROP COLUMN reverts_run_id, DROP COLUMN reverted_by_run_id;
DROP INDEX recipients_removed_by_run_id_idx;
ALTER TABLE users
    DROP CONSTRAINT users_import_id_fkey,
    ADD CONSTRAINT users_import_id_fkey FOREIGN KEY (import_id) REFERENCES imports (id);
ALTER TABLE list_exclusions
    DROP CONSTRAINT list_exclusions_recipient_id_fkey,
    ADD CONSTRAINT list_exclusions_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES recipients (id);
ALTER TABLE list_additions
    DROP CONSTRAINT list_additions_recipient_id_fkey,
    ADD CONSTRAINT list_additions_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES recipients (id);
ALTER TABLE recipients
    DROP CONSTRAINT recipients_removed_by_run_id_fkey,
    ADD CONSTRAINT recipients_removed_by_run_id_fkey FOREIGN KEY (removed_by_run_id) REFERENCES import_runs (id),
    DROP CONSTRAINT recipients_import_id_fkey,
    ADD CONSTRAINT recipients_import_id_fkey FOREIGN KEY (import_id) REFERENCES imports (id);
-- Detached recipients (import_id NULL) must be gone before this.
ALTER TABLE recipients ALTER COLUMN import_id SET NOT NULL;
DROP INDEX imports_purge_after_idx;
DROP INDEX imports_name_key;
CREATE UNIQUE INDEX imports_name_key ON imports (lower(btrim(name)));
ALTER TABLE imports DROP CONSTRAINT imports_deleted_shape,
    DROP COLUMN deleted_at, DROP COLUMN deleted_by, DROP COLUMN delete_mode, DROP COLUMN purge_after, DROP COLUMN deleted_user_ids;
