DROP TRIGGER import_runs_notify ON import_runs;
DROP FUNCTION import_runs_notify();
DROP INDEX imports_schedule_next_at_idx;
ALTER TABLE imports
    DROP CONSTRAINT imports_schedule_shape,
    DROP COLUMN run_on_upload,
    DROP COLUMN schedule_missed_at,
    DROP COLUMN schedule_next_at,
    DROP COLUMN schedule_time_zone,
    DROP COLUMN schedule_cron,
    DROP COLUMN schedule_time,
    DROP COLUMN schedule_days;
