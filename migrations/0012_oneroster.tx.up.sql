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
	-- What a filter compares, folded (internal/fold): a class's sourcedId,
	-- classCode and title (RecipientFilter.class).
	match text[],
	from_run bigint NOT NULL,
	to_run bigint
);
CREATE UNIQUE INDEX oneroster_records_current ON oneroster_records (import_id, entity, sourced_id) WHERE to_run IS NULL;
CREATE INDEX oneroster_records_from_run ON oneroster_records (import_id, from_run);
CREATE INDEX oneroster_records_to_run ON oneroster_records (to_run) WHERE to_run IS NOT NULL;

-- The lookups of classes and guardians (internal/recipients/links.go):
-- a person's enrollments, a class's, a class by what a filter says of it,
-- and the guardian links (entity "guardians", derived by each run from
-- users' agentSourcedIds) both ways.
CREATE INDEX oneroster_enrollments_user ON oneroster_records (import_id, (data->>'userSourcedId'))
	WHERE entity = 'enrollments' AND to_run IS NULL;
CREATE INDEX oneroster_enrollments_class ON oneroster_records (import_id, (data->>'classSourcedId'))
	WHERE entity = 'enrollments' AND to_run IS NULL;
CREATE INDEX oneroster_classes_match ON oneroster_records USING gin (match)
	WHERE entity = 'classes' AND to_run IS NULL;
CREATE INDEX oneroster_guardians_student ON oneroster_records (import_id, (data->>'student'))
	WHERE entity = 'guardians' AND to_run IS NULL;
CREATE INDEX oneroster_guardians_guardian ON oneroster_records (import_id, (data->>'guardian'))
	WHERE entity = 'guardians' AND to_run IS NULL;

-- Teachers' accounts (provisionTeacherAccounts): a OneRoster import may
-- create and keep a USER account for each teacher of its export, restricted
-- to the students of their classes and those students' guardians. The
-- restriction is the import's while restriction_from_import holds; an
-- administrator who sets or clears it makes it theirs, and the import never
-- writes it again.
ALTER TABLE imports ADD COLUMN provision_teacher_accounts boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN restriction_from_import boolean NOT NULL DEFAULT false;
-- A person's roles (OneRoster 1.2), for teachers' accounts.
CREATE INDEX oneroster_roles_user ON oneroster_records (import_id, (data->>'userSourcedId'))
	WHERE entity = 'roles' AND to_run IS NULL;
