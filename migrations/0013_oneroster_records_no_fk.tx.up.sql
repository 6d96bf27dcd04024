-- oneroster_records loses its foreign key to imports. Checking it cost a
-- trigger call and a lookup of the import per record written: about 40% of
-- writing a first export's records (2.4 of 5.7 s for 493,000 users, 3.3 of
-- 11 s for 610,000 enrollments, measured with auto_explain in
-- BenchmarkOneRoster). Only an import's own runs write its records,
-- under the import's lock, so a record cannot name an import that does not
-- exist; purging an import deletes its records explicitly
-- (internal/imports purgeImport), as the cascade did.
ALTER TABLE oneroster_records DROP CONSTRAINT oneroster_records_import_id_fkey;
