-- OneRoster imports (issue 16): an import reads either the flat district
-- file (CSV, every import so far) or a OneRoster CSV export (a zip of the
-- standard's files). Fixed at creation, like the method.
ALTER TABLE imports ADD COLUMN format text NOT NULL DEFAULT 'CSV'
	CONSTRAINT imports_format_check CHECK (format IN ('CSV', 'ONEROSTER'));

-- A OneRoster run's row errors name the file of the zip they are in
-- (users.csv, enrollments.csv, …); null for a flat file.
ALTER TABLE import_run_errors ADD COLUMN file_name text;

-- What a OneRoster import holds of its export, entity by entity (orgs,
-- users, roles, demographics, …): each record's columns as the standard
-- names them (and the export's extension columns), as a JSON object of the
-- non-empty ones. A run keeps the records current after it (bulk files
-- replace their entity, delta files change theirs) and closes those it
-- replaces rather than deleting them, so that reverting the run puts them
-- back: a record is current from the run that wrote it (from_run) until
-- the run that replaced or removed it (to_run, null while current).
-- Recipients are derived from the current records by each run.
CREATE TABLE oneroster_records (
	import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
	entity text NOT NULL,
	sourced_id text NOT NULL,
	data jsonb NOT NULL,
	from_run bigint NOT NULL,
	to_run bigint
);
CREATE UNIQUE INDEX oneroster_records_current ON oneroster_records (import_id, entity, sourced_id) WHERE to_run IS NULL;
CREATE INDEX oneroster_records_from_run ON oneroster_records (import_id, from_run);
CREATE INDEX oneroster_records_to_run ON oneroster_records (to_run) WHERE to_run IS NOT NULL;
