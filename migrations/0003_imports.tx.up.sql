-- Imports: named sources of recipient data, the files that arrive for them,
-- every run that applies a file, and the recipients they produce.

CREATE TABLE imports (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                   text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    description            text        NOT NULL DEFAULT '',
    kind                   text        NOT NULL DEFAULT 'RECIPIENT' CHECK (kind IN ('RECIPIENT', 'USER')),
    method                 text        NOT NULL CHECK (method IN ('FULL', 'UPDATE', 'CREATE_ONLY')),
    -- NULL: columns are mapped by their header names on every run.
    mapping                jsonb       CHECK (mapping IS NULL OR jsonb_typeof(mapping) = 'array'),
    default_recipient_type text        NOT NULL DEFAULT 'STUDENT' CHECK (default_recipient_type IN ('STUDENT', 'STAFF', 'CONTACT', 'OTHER')),
    -- Guards, in percent: a FULL run removing more than removal_threshold of
    -- the active recipients is held; a run rejecting more than
    -- rejection_threshold of its rows fails.
    removal_threshold      numeric(5,2) NOT NULL DEFAULT 10 CHECK (removal_threshold BETWEEN 0 AND 100),
    rejection_threshold    numeric(5,2) NOT NULL DEFAULT 5 CHECK (rejection_threshold BETWEEN 0 AND 100),
    created_by             bigint      REFERENCES users (id),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    -- When changes were last applied, and by which run.
    last_run_at            timestamptz,
    last_run_id            bigint,
    -- When a file last arrived, and which.
    file_date              timestamptz,
    latest_file_id         bigint
);

CREATE UNIQUE INDEX imports_name_key ON imports (lower(btrim(name)));

-- The Method is chosen at creation and can never be changed, nor the kind:
-- the API offers no way to, and the database refuses it too.
CREATE FUNCTION imports_fixed_columns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.method IS DISTINCT FROM OLD.method THEN
        RAISE EXCEPTION 'the method of import % cannot be changed', OLD.id
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'imports_method_fixed';
    END IF;
    IF NEW.kind IS DISTINCT FROM OLD.kind THEN
        RAISE EXCEPTION 'the kind of import % cannot be changed', OLD.id
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'imports_kind_fixed';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER imports_fixed_columns BEFORE UPDATE ON imports
    FOR EACH ROW EXECUTE FUNCTION imports_fixed_columns();

-- A file as it arrived. Its bytes are in import_file_chunks, written in the
-- same transaction as this row: a file is never half stored, and any node
-- can run it later.
CREATE TABLE import_files (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_id    bigint      NOT NULL REFERENCES imports (id),
    name         text        NOT NULL,
    size         bigint      NOT NULL CHECK (size >= 0),
    sha256       bytea       NOT NULL CHECK (length(sha256) = 32),
    -- Lines in the file (a record with quoted line breaks spans several), for
    -- progress estimates.
    line_count   bigint      NOT NULL DEFAULT 0,
    -- The first record, as read at upload, so mappings can be proposed
    -- without reading the file.
    header       text[]      NOT NULL DEFAULT '{}',
    uploaded_by  bigint      REFERENCES users (id),
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX import_files_import_id_idx ON import_files (import_id, id);

CREATE TABLE import_file_chunks (
    file_id  bigint  NOT NULL REFERENCES import_files (id) ON DELETE CASCADE,
    seq      integer NOT NULL,
    data     bytea   NOT NULL,
    PRIMARY KEY (file_id, seq)
);
-- CSV chunks are stored as they are: compressing them on the way in would
-- make every upload CPU-bound.
ALTER TABLE import_file_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

ALTER TABLE imports ADD CONSTRAINT imports_latest_file_id_fkey FOREIGN KEY (latest_file_id) REFERENCES import_files (id);

CREATE TABLE import_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_id       bigint      NOT NULL REFERENCES imports (id),
    file_id         bigint      NOT NULL REFERENCES import_files (id),
    status          text        NOT NULL DEFAULT 'QUEUED'
                    CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'SUCCEEDED_WITH_ERRORS', 'FAILED', 'HELD', 'CANCELED')),
    trigger         text        NOT NULL CHECK (trigger IN ('MANUAL', 'UPLOAD', 'SCHEDULE', 'REVERT')),
    dry_run         boolean     NOT NULL DEFAULT false,
    requested_by    bigint      REFERENCES users (id),
    -- An administrator's approval of a held run: it then applies regardless
    -- of the removal guard.
    approved_by     bigint      REFERENCES users (id),
    approved_at     timestamptz,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    -- Written about once a second while running, so a run whose worker died
    -- is noticed and recovered.
    heartbeat_at    timestamptz,
    -- The River job currently responsible for the run, and how many times
    -- the run was started.
    job_id          bigint,
    attempts        integer     NOT NULL DEFAULT 0,
    phase           text,
    rows_processed  bigint      NOT NULL DEFAULT 0,
    rows_total      bigint,
    rows_read       integer     NOT NULL DEFAULT 0,
    created         integer     NOT NULL DEFAULT 0,
    updated         integer     NOT NULL DEFAULT 0,
    unchanged       integer     NOT NULL DEFAULT 0,
    removed         integer     NOT NULL DEFAULT 0,
    restored        integer     NOT NULL DEFAULT 0,
    rejected        integer     NOT NULL DEFAULT 0,
    message         text        NOT NULL DEFAULT '',
    warnings        text[]      NOT NULL DEFAULT '{}'
);

CREATE INDEX import_runs_import_id_idx ON import_runs (import_id, id DESC);
-- At most one run per import is queued, running or held: the database
-- settles races between concurrent requests and nodes.
CREATE UNIQUE INDEX import_runs_one_active ON import_runs (import_id) WHERE status IN ('QUEUED', 'RUNNING', 'HELD');
CREATE INDEX import_runs_running_idx ON import_runs (heartbeat_at) WHERE status = 'RUNNING';

ALTER TABLE imports ADD CONSTRAINT imports_last_run_id_fkey FOREIGN KEY (last_run_id) REFERENCES import_runs (id);

-- Rows a run rejected (or, for a failed file, why it failed), by line.
CREATE TABLE import_run_errors (
    run_id       bigint  NOT NULL REFERENCES import_runs (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    line         integer NOT NULL,
    column_name  text,
    value        text,
    message      text    NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- A sample of what a run changed (or, dry, would change), field by field.
CREATE TABLE import_run_changes (
    run_id       bigint  NOT NULL REFERENCES import_runs (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    line         integer,
    external_id  text    NOT NULL,
    action       text    NOT NULL CHECK (action IN ('CREATE', 'UPDATE', 'REMOVE', 'RESTORE')),
    field        text,
    old_value    text,
    new_value    text,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE recipients (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_id          bigint      NOT NULL REFERENCES imports (id),
    external_id        text        NOT NULL CHECK (external_id <> ''),
    type               text        NOT NULL CHECK (type IN ('STUDENT', 'STAFF', 'CONTACT', 'OTHER')),
    first_name         text        NOT NULL DEFAULT '',
    last_name          text        NOT NULL DEFAULT '',
    grade              text,
    -- PK = -1, K = 0, 1 … 12; NULL for grades outside that scale. Range
    -- filters compare this.
    grade_rank         smallint    CHECK (grade_rank BETWEEN -1 AND 12),
    school             text,
    language           text,
    phones             jsonb       NOT NULL DEFAULT '[]',
    emails             jsonb       NOT NULL DEFAULT '[]',
    custom_fields      jsonb       NOT NULL DEFAULT '{}',
    -- Hash of the row as the file had it (mapped, before normalization), so
    -- an unchanged row is recognized without comparing columns.
    row_hash           bigint      NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- Set when a FULL run no longer had the recipient; nothing is deleted.
    removed_at         timestamptz,
    removed_by_run_id  bigint      REFERENCES import_runs (id),
    CONSTRAINT recipients_import_external_id_key UNIQUE (import_id, external_id)
);
