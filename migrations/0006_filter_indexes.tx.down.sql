DROP STATISTICS recipients_school_grade_stats;
DROP INDEX recipients_grade_name_idx;
CREATE INDEX recipients_grade_idx ON recipients (grade_rank) INCLUDE (id) WHERE removed_at IS NULL;
DROP INDEX recipients_school_grade_idx;
ALTER TABLE recipients DROP COLUMN school_key;
CREATE INDEX recipients_school_grade_idx ON recipients (lower(school), grade_rank) INCLUDE (id) WHERE removed_at IS NULL;
