-- Every segment's rows back into one plain table.
ALTER TABLE imports DROP COLUMN segment_id;
DROP SEQUENCE recipient_segments_seq;
ALTER TABLE list_additions DROP CONSTRAINT list_additions_recipient_id_fkey, DROP COLUMN recipient_segment_id;
ALTER TABLE list_exclusions DROP CONSTRAINT list_exclusions_recipient_id_fkey, DROP COLUMN recipient_segment_id;

CREATE TEMP TABLE recipients_id_carry ON COMMIT DROP AS
    SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('recipients', 'id')::regclass), 0) AS last_id;
CREATE TABLE recipients_flat (LIKE recipients INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO recipients_flat SELECT * FROM recipients;
DROP TABLE recipients;
ALTER TABLE recipients_flat RENAME TO recipients;
ALTER TABLE recipients DROP COLUMN segment_id;
ALTER TABLE recipients ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('recipients', 'id'), last_id) FROM recipients_id_carry WHERE last_id > 0;
ALTER TABLE recipients
    ADD CONSTRAINT recipients_pkey PRIMARY KEY (id),
    ADD CONSTRAINT recipients_import_external_id_key UNIQUE (import_id, external_id),
    ADD CONSTRAINT recipients_import_id_fkey FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE SET NULL,
    ADD CONSTRAINT recipients_removed_by_run_id_fkey FOREIGN KEY (removed_by_run_id) REFERENCES import_runs (id) ON DELETE SET NULL;
CREATE INDEX recipients_custom_fields_idx ON recipients USING gin (custom_fields jsonb_path_ops) WHERE removed_at IS NULL;
CREATE INDEX recipients_grade_name_idx ON recipients (grade_rank, last_name, first_name, id) WHERE removed_at IS NULL;
CREATE INDEX recipients_name_idx ON recipients (last_name, first_name, id) WHERE removed_at IS NULL;
CREATE INDEX recipients_removed_by_run_id_idx ON recipients (removed_by_run_id) WHERE removed_by_run_id IS NOT NULL;
CREATE INDEX recipients_school_grade_idx ON recipients (school_key, grade_rank) WHERE removed_at IS NULL;
CREATE STATISTICS recipients_school_grade_stats (mcv, dependencies) ON school_key, grade_rank FROM recipients;

ALTER TABLE list_additions ADD CONSTRAINT list_additions_recipient_id_fkey
    FOREIGN KEY (recipient_id) REFERENCES recipients (id) ON DELETE CASCADE;
ALTER TABLE list_exclusions ADD CONSTRAINT list_exclusions_recipient_id_fkey
    FOREIGN KEY (recipient_id) REFERENCES recipients (id) ON DELETE CASCADE;
