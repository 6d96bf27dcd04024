-- Automated imports: schedules, runs on arrival, and notifications of run
-- changes for subscribers on any node.

ALTER TABLE imports
    -- A schedule is days of the week (0 = Sunday … 6 = Saturday; empty:
    -- every day) at a time of day, or a cron expression, in a time zone.
    ADD COLUMN schedule_days      smallint[],
    ADD COLUMN schedule_time      text CHECK (schedule_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    ADD COLUMN schedule_cron      text,
    ADD COLUMN schedule_time_zone text,
    -- The next scheduled slot; the scheduler fires imports whose slot has
    -- come, and moves it on in the same transaction.
    ADD COLUMN schedule_next_at   timestamptz,
    -- The first slot that found no new file, until a file arrives.
    ADD COLUMN schedule_missed_at timestamptz,
    -- Apply each uploaded file at once (trigger UPLOAD).
    ADD COLUMN run_on_upload      boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT imports_schedule_shape CHECK (
        (schedule_time_zone IS NULL AND schedule_time IS NULL AND schedule_cron IS NULL AND schedule_days IS NULL)
        OR (schedule_time_zone IS NOT NULL AND ((schedule_time IS NULL) <> (schedule_cron IS NULL))));

CREATE INDEX imports_schedule_next_at_idx ON imports (schedule_next_at) WHERE schedule_next_at IS NOT NULL;

-- Every change of a run is announced on channel rollcall_import_run with
-- the run's id, so that a subscription on one node follows a run executing
-- on another. NOTIFY is delivered at commit.
CREATE FUNCTION import_runs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rollcall_import_run', NEW.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER import_runs_notify AFTER INSERT OR UPDATE ON import_runs
    FOR EACH ROW EXECUTE FUNCTION import_runs_notify();
