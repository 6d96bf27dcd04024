ALTER TABLE import_runs DROP COLUMN canceled_by;
