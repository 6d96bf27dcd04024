-- Who canceled a run (cancelImportRun), when an administrator did: a file
-- whose latest run an administrator canceled is set aside, never run again
-- by a schedule, run-on-upload or recovery, until a new file arrives or an
-- administrator runs it by hand. Runs canceled by the system (the import
-- deleted) have none, and leave their file as it was.
ALTER TABLE import_runs ADD COLUMN canceled_by bigint REFERENCES users (id);
