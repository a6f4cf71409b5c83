-- Migration 11.  Labels (`jobctl add --label nightly --label db`): a job's
-- short names, any number of jobs each.  The primary key leads with the
-- label, for "the jobs labelled X" (ls/retry/cancel/purge --label); the
-- second index, by job, reads a page's labels and deletes a purged job's.
-- No foreign key, like job_deps: purge_delete removes a job's rows itself,
-- in the same transaction as the job.
CREATE TABLE job_labels (
    label  TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    PRIMARY KEY (label, job_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX job_labels_job ON job_labels (job_id, label);
