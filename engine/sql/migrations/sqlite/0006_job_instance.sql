-- The Aisle instance (process, by its persistent instance id) that queued a job: at
-- start-up an instance marks only its own unfinished jobs failed, so on a shared
-- database another node's running jobs are left alone. NULL: a job recorded before
-- this migration (treated as the single-node install's own). Twin of the other
-- engine's 0006_job_instance.sql.
ALTER TABLE jobs ADD COLUMN instance_id TEXT;
CREATE INDEX jobs_unfinished_by_instance ON jobs (instance_id, status);
