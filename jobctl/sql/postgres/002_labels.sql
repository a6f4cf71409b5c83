-- Migration 2.  Labels, as SQLite's migration 11: a job's short names.  The
-- primary key leads with the label, for "the jobs labelled X"; the second
-- index, by job, reads a page's labels and deletes a purged job's (which
-- purge_delete does itself, in the job's transaction, as for job_deps).
CREATE TABLE job_labels (
    label  text NOT NULL,
    job_id bigint NOT NULL,
    PRIMARY KEY (label, job_id)
);
CREATE INDEX job_labels_job ON job_labels (job_id, label);
