-- Recipients live in segments: `recipients` is partitioned by segment_id.
--
-- Segment 0 (recipients_s0) is shared: every recipient so far, and the
-- imports whose first load is small. A large first load (at least
-- ROLLCALL_SEGMENT_ROWS lines) gets a segment of its own: the run copies its
-- rows into a fresh table without indexes, builds the indexes and keys in
-- bulk, and attaches the table as a partition, all in the run's one
-- transaction. Building an index over a million rows at once costs a
-- fraction of keeping seven indexes and a foreign key up to date row by
-- row (docs/benchmarks.md, "Against the floor").
--
-- An import's rows all live in one segment, imports.segment_id, which
-- never changes once the import has rows: (import_id, external_id) stays
-- unique because the unique key includes the segment, and the import's
-- segment is fixed. segment_id, unlike import_id (which a purge sets to
-- NULL), never changes on a row.
ALTER TABLE list_additions DROP CONSTRAINT list_additions_recipient_id_fkey;
ALTER TABLE list_exclusions DROP CONSTRAINT list_exclusions_recipient_id_fkey;

-- The table as it was becomes segment 0. Its identity sequence goes with
-- the identity; the partitioned table's carries on from where it stopped.
CREATE TEMP TABLE recipients_id_carry ON COMMIT DROP AS
    SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('recipients', 'id')::regclass), 0) AS last_id;
ALTER TABLE recipients RENAME TO recipients_s0;
ALTER TABLE recipients_s0 ALTER COLUMN id DROP IDENTITY;
ALTER TABLE recipients_s0 ADD COLUMN segment_id bigint NOT NULL DEFAULT 0;
ALTER TABLE recipients_s0 ALTER COLUMN segment_id DROP DEFAULT;
ALTER TABLE recipients_s0
    DROP CONSTRAINT recipients_pkey,
    ADD CONSTRAINT recipients_s0_pkey PRIMARY KEY (id, segment_id),
    DROP CONSTRAINT recipients_import_external_id_key,
    ADD CONSTRAINT recipients_s0_import_external_id_key UNIQUE (import_id, external_id, segment_id),
    ADD CONSTRAINT recipients_s0_segment CHECK (segment_id = 0);
ALTER INDEX recipients_custom_fields_idx RENAME TO recipients_s0_custom_fields_idx;
ALTER INDEX recipients_grade_name_idx RENAME TO recipients_s0_grade_name_idx;
ALTER INDEX recipients_name_idx RENAME TO recipients_s0_name_idx;
ALTER INDEX recipients_removed_by_run_id_idx RENAME TO recipients_s0_removed_by_run_id_idx;
ALTER INDEX recipients_school_grade_idx RENAME TO recipients_s0_school_grade_idx;
ALTER STATISTICS recipients_school_grade_stats RENAME TO recipients_s0_school_grade_stats;

-- The columns in the order the old table has them (a partition whose
-- columns are in another order costs a conversion per row routed to it).
CREATE TABLE recipients (
    id                 bigint      GENERATED ALWAYS AS IDENTITY,
    import_id          bigint,
    external_id        text        NOT NULL,
    type               text        NOT NULL,
    first_name         text        NOT NULL DEFAULT '',
    last_name          text        NOT NULL DEFAULT '',
    grade              text,
    grade_rank         smallint,
    school             text,
    language           text,
    phones             jsonb       NOT NULL DEFAULT '[]',
    emails             jsonb       NOT NULL DEFAULT '[]',
    custom_fields      jsonb       NOT NULL DEFAULT '{}',
    row_hash           bigint      NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    removed_at         timestamptz,
    removed_by_run_id  bigint,
    school_key         text,
    first_name_key     text        NOT NULL,
    last_name_key      text        NOT NULL,
    language_key       text,
    custom_fields_key  jsonb       NOT NULL,
    segment_id         bigint      NOT NULL,
    CONSTRAINT recipients_external_id_check CHECK (external_id <> ''),
    CONSTRAINT recipients_grade_rank_check CHECK (grade_rank BETWEEN -1 AND 12),
    CONSTRAINT recipients_type_check CHECK (type IN ('STUDENT', 'STAFF', 'CONTACT', 'OTHER')),
    CONSTRAINT recipients_pkey PRIMARY KEY (id, segment_id),
    CONSTRAINT recipients_import_external_id_key UNIQUE (import_id, external_id, segment_id),
    CONSTRAINT recipients_import_id_fkey FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE SET NULL,
    CONSTRAINT recipients_removed_by_run_id_fkey FOREIGN KEY (removed_by_run_id) REFERENCES import_runs (id) ON DELETE SET NULL
) PARTITION BY LIST (segment_id);
CREATE INDEX recipients_custom_fields_idx ON recipients USING gin (custom_fields jsonb_path_ops) WHERE removed_at IS NULL;
CREATE INDEX recipients_grade_name_idx ON recipients (grade_rank, last_name, first_name, id) WHERE removed_at IS NULL;
CREATE INDEX recipients_name_idx ON recipients (last_name, first_name, id) WHERE removed_at IS NULL;
CREATE INDEX recipients_removed_by_run_id_idx ON recipients (removed_by_run_id) WHERE removed_by_run_id IS NOT NULL;
CREATE INDEX recipients_school_grade_idx ON recipients (school_key, grade_rank) WHERE removed_at IS NULL;
-- The partitions' own statistics objects (a segment's run creates its
-- from this one) are what the planner uses for each partition's scan.
CREATE STATISTICS recipients_school_grade_stats (mcv, dependencies) ON school_key, grade_rank FROM recipients;

-- The indexes above match the old table's, which attaching adopts as they
-- are; its foreign keys become the partitioned table's.
ALTER TABLE recipients ATTACH PARTITION recipients_s0 FOR VALUES IN (0);
ALTER TABLE recipients_s0 DROP CONSTRAINT recipients_s0_segment;
SELECT setval(pg_get_serial_sequence('recipients', 'id'), last_id) FROM recipients_id_carry WHERE last_id > 0;

-- A list's hand-made entries name the recipient's segment too (a foreign
-- key must match a unique key, and the partitioned table's includes it).
ALTER TABLE list_additions ADD COLUMN recipient_segment_id bigint NOT NULL DEFAULT 0;
ALTER TABLE list_additions ALTER COLUMN recipient_segment_id DROP DEFAULT;
ALTER TABLE list_additions ADD CONSTRAINT list_additions_recipient_id_fkey
    FOREIGN KEY (recipient_id, recipient_segment_id) REFERENCES recipients (id, segment_id) ON DELETE CASCADE;
ALTER TABLE list_exclusions ADD COLUMN recipient_segment_id bigint NOT NULL DEFAULT 0;
ALTER TABLE list_exclusions ALTER COLUMN recipient_segment_id DROP DEFAULT;
ALTER TABLE list_exclusions ADD CONSTRAINT list_exclusions_recipient_id_fkey
    FOREIGN KEY (recipient_id, recipient_segment_id) REFERENCES recipients (id, segment_id) ON DELETE CASCADE;

-- Where an import's recipients live; a first load may move it, once, from
-- the shared segment to a new one of its own.
ALTER TABLE imports ADD COLUMN segment_id bigint NOT NULL DEFAULT 0;
CREATE SEQUENCE recipient_segments_seq;

-- The partitioned table's own statistics, which the planner uses for joins
-- and autovacuum never gathers (runs refresh them after large changes).
ANALYZE recipients;
