DROP TABLE oneroster_records;
ALTER TABLE import_run_errors DROP COLUMN file_name;
ALTER TABLE imports DROP COLUMN format;
