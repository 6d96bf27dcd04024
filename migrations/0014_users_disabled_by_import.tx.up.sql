-- Whether the import that manages an account disabled it (a USER import's
-- file no longer listing it, a OneRoster import's teacher who left the
-- export, or the import's delete), as against an administrator: a person
-- who is back in the file has an account the import disabled enabled
-- again, never one an administrator disabled. An administrator's
-- updateUser(disabled: …) clears it.
-- Accounts an import manages that are disabled now were most likely
-- disabled by it, and keep being enabled again as before.
ALTER TABLE users ADD COLUMN disabled_by_import boolean NOT NULL DEFAULT false;
UPDATE users SET disabled_by_import = true WHERE disabled AND import_id IS NOT NULL;
