ALTER TABLE users DROP COLUMN restriction_from_import;
DROP TABLE oneroster_records;
ALTER TABLE import_run_errors DROP COLUMN file_name;
ALTER TABLE imports DROP COLUMN provision_teacher_accounts;
ALTER TABLE imports DROP COLUMN format;
