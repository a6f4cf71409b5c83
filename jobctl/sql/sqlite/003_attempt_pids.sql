-- Migration 3.  The process that runs an attempt (a command's process group
-- leader), so that the daemon recovering a dead daemon's jobs can stop what
-- they left running on this host before the job runs again.
ALTER TABLE attempts ADD COLUMN pid INTEGER;
ALTER TABLE attempts ADD COLUMN pid_started REAL;
