-- Indexes for the commonest lists, a grade at some schools (measured in
-- docs/benchmarks.md; docs/filters.md says which field uses which).
--
-- school_key is school lower-cased, stored: filters match schools without
-- regard to case, and an index on lower(school) could not answer a count
-- by itself (PostgreSQL only scans an index without the table when the
-- query's columns, not expressions, are in it), nor could it be
-- deduplicated with school included. On (school_key, grade_rank) the
-- count of "grade 5 at three schools" reads about 50 index pages.
ALTER TABLE recipients ADD COLUMN school_key text GENERATED ALWAYS AS (lower(school)) STORED;

DROP INDEX recipients_school_grade_idx;
CREATE INDEX recipients_school_grade_idx ON recipients (school_key, grade_rank) WHERE removed_at IS NULL;

-- A grade's members by name ("grade 5 at Lincoln and Adams", by name)
-- walk the grade in name order: about two rows read per row of the page
-- where recipients_name_idx reads thirty. It also counts a grade alone.
DROP INDEX recipients_grade_idx;
CREATE INDEX recipients_grade_name_idx ON recipients (grade_rank, last_name, first_name, id) WHERE removed_at IS NULL;

-- School and grade are far from independent (grade 5 is only at
-- elementary schools): without this the planner guesses "grade 5 at three
-- schools" 30 times too small and picks the wrong index.
CREATE STATISTICS recipients_school_grade_stats (mcv, dependencies) ON school_key, grade_rank FROM recipients;
