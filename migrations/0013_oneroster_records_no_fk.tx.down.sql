DELETE FROM oneroster_records r WHERE NOT EXISTS (SELECT FROM imports i WHERE i.id = r.import_id);
ALTER TABLE oneroster_records ADD CONSTRAINT oneroster_records_import_id_fkey
	FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE CASCADE;
