-- Migration 7.  Fewer pages written per enqueue: each page a commit changes
-- is one more WAL frame, and an enqueue wrote five (the row, the
-- AUTOINCREMENT counter in sqlite_sequence, jobs_ready, jobs_state_queue and
-- jobs_state_id).  Now it writes two: the row and one index.
--
-- 1. No AUTOINCREMENT.  A rowid table gives max(id) + 1, which only reuses an
--    id if the newest job is deleted, and purge never deletes the newest job
--    (see purge_select).  If a purge before this migration did delete it, a
--    placeholder row takes the counter's value so that its id stays used.
-- 2. The state indexes hold only jobs that ended.  Queued jobs are in
--    jobs_ready, or in the new jobs_waiting while they wait on parents, and
--    running ones in jobs_running; a job passing through no longer adds and
--    removes entries in two more indexes on its way (a drain does three
--    fewer index writes per job).  Queries that use them repeat the
--    condition in so many words, because SQLite only uses a partial index
--    whose condition the query's WHERE contains.
CREATE TABLE jobs_new (
    id              INTEGER PRIMARY KEY,        -- never reused: purge keeps the newest job
    type            TEXT,
    command         TEXT,
    shell           INTEGER NOT NULL DEFAULT 0,
    cwd             TEXT,
    env             TEXT,
    payload         TEXT NOT NULL DEFAULT 'null',
    queue           TEXT NOT NULL DEFAULT 'default',
    priority        INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    run_at          REAL NOT NULL,
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    attempt         INTEGER NOT NULL DEFAULT 0,
    attempts_total  INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL DEFAULT 3,
    timeout         REAL,
    unique_key      TEXT,
    waiting         INTEGER NOT NULL DEFAULT 0,
    result          TEXT,
    error           TEXT,
    cancel_requested REAL,
    daemon_id       INTEGER,
    lease_until     REAL,
    schedule        TEXT,
    due_at          REAL
) STRICT;
INSERT INTO jobs_new SELECT * FROM jobs;
INSERT INTO jobs_new (id, command, state, run_at, created_at, finished_at, error)
SELECT seq, '["true"]', 'cancelled', unixepoch('subsec'), unixepoch('subsec'),
       unixepoch('subsec'), 'placeholder: keeps the ids of purged jobs from being reused'
FROM sqlite_sequence
WHERE name = 'jobs' AND seq > (SELECT coalesce(max(id), 0) FROM jobs);
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id)
    WHERE state = 'queued' AND waiting = 0;
CREATE INDEX jobs_waiting ON jobs (queue, id) WHERE state = 'queued' AND waiting != 0;
CREATE INDEX jobs_state_queue ON jobs (state, queue)
    WHERE state IN ('succeeded', 'failed', 'cancelled');
CREATE INDEX jobs_state_id ON jobs (state, id)
    WHERE state IN ('succeeded', 'failed', 'cancelled');
CREATE INDEX jobs_running ON jobs (daemon_id) WHERE state = 'running';
CREATE UNIQUE INDEX jobs_unique ON jobs (coalesce(type, ''), unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('queued', 'running');
CREATE UNIQUE INDEX jobs_schedule_due ON jobs (schedule, due_at) WHERE schedule IS NOT NULL;
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
