ALTER TABLE users DROP COLUMN disabled_by_import;
