-- jobctl schema, version 1.  Times are REAL seconds since the Unix epoch (UTC).
-- Each migration in db.py brings user_version from N-1 to N; this file is
-- migration 1.

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even after purge
    type            TEXT,                       -- NULL for an ad hoc command
    command         TEXT,                       -- ad hoc: JSON argv
    shell           INTEGER NOT NULL DEFAULT 0, -- 1: argv is [sh, -c, text] from --shell
    cwd             TEXT,                       -- ad hoc: the caller's folder
    env             TEXT,                       -- ad hoc: JSON object, the caller's environment
    payload         TEXT NOT NULL DEFAULT 'null',
    queue           TEXT NOT NULL DEFAULT 'default',
    priority        INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    run_at          REAL NOT NULL,              -- not before; also the retry time
    created_at      REAL NOT NULL,
    started_at      REAL,                       -- of the latest attempt
    finished_at     REAL,
    attempt         INTEGER NOT NULL DEFAULT 0, -- attempts used of the current budget
    attempts_total  INTEGER NOT NULL DEFAULT 0, -- attempts ever made (numbers in `attempts`)
    max_attempts    INTEGER NOT NULL DEFAULT 3,
    timeout         REAL,                       -- seconds; NULL: none
    unique_key      TEXT,                       -- with type: one queued-or-running job per key
    waiting         INTEGER NOT NULL DEFAULT 0, -- --after parents not yet succeeded
    result          TEXT,                       -- JSON
    error           TEXT,
    cancel_requested REAL,                      -- a running job to be killed by its daemon
    daemon_id       INTEGER,                    -- the daemon running it
    lease_until     REAL,                       -- that daemon's claim expires then
    schedule        TEXT,                       -- the schedule that enqueued it
    due_at          REAL                        -- the schedule's due time it stands for
) STRICT;

-- Claiming: the next ready job of a queue, by priority, run_at, id.
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id)
    WHERE state = 'queued' AND waiting = 0;
-- Counting per state and queue (covering), and listing one state newest first.
CREATE INDEX jobs_state_queue ON jobs (state, queue);
CREATE INDEX jobs_state_id ON jobs (state, id);
-- Recovery: running jobs by daemon.
CREATE INDEX jobs_running ON jobs (daemon_id) WHERE state = 'running';
-- At most one queued-or-running job per (type, unique key).
CREATE UNIQUE INDEX jobs_unique ON jobs (coalesce(type, ''), unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('queued', 'running');
-- A schedule's due time is enqueued once, however many daemons race for it.
CREATE UNIQUE INDEX jobs_schedule_due ON jobs (schedule, due_at) WHERE schedule IS NOT NULL;

CREATE TABLE job_deps (
    job_id    INTEGER NOT NULL,
    parent_id INTEGER NOT NULL,
    PRIMARY KEY (parent_id, job_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE attempts (
    job_id      INTEGER NOT NULL,
    number      INTEGER NOT NULL,               -- 1, 2, ... over the job's whole life
    daemon_id   INTEGER,
    started_at  REAL NOT NULL,
    finished_at REAL,
    outcome     TEXT,                           -- succeeded, failed, timed_out, cancelled, recovered, interrupted
    exit_status INTEGER,
    signal      INTEGER,
    error       TEXT,
    output      BLOB NOT NULL DEFAULT x'',      -- the last output_limit bytes of stdout+stderr
    output_size INTEGER NOT NULL DEFAULT 0,     -- bytes written in all, kept or not
    PRIMARY KEY (job_id, number)
) STRICT, WITHOUT ROWID;

CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    job_id  INTEGER NOT NULL,
    at      REAL NOT NULL,
    kind    TEXT NOT NULL,   -- created, started, succeeded, failed, retrying, timed_out, cancelled, recovered, ...
    attempt INTEGER,
    detail  TEXT
) STRICT;
CREATE INDEX events_job ON events (job_id, id);

CREATE TABLE job_logs (       -- ctx.log() lines of handler jobs
    id      INTEGER PRIMARY KEY,
    job_id  INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at      REAL NOT NULL,
    message TEXT NOT NULL,
    data    TEXT             -- JSON object
) STRICT;
CREATE INDEX job_logs_job ON job_logs (job_id, attempt, id);

CREATE TABLE queues (
    name   TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE daemons (
    id           INTEGER PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    pid_started  REAL,             -- the process's start time, to tell a reused pid
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    stopped_at   REAL,
    queues       TEXT              -- JSON list; NULL: all
) STRICT;

CREATE TABLE schedules (
    name         TEXT PRIMARY KEY,
    last_due     REAL,             -- the latest due time enqueued (or skipped)
    last_job_id  INTEGER,
    last_fired_at REAL
) STRICT;

CREATE TABLE workers (
    name          TEXT PRIMARY KEY,
    state         TEXT NOT NULL DEFAULT 'stopped',  -- starting, running, backoff, stopped, gave-up
    daemon_id     INTEGER,        -- the daemon that owns it
    lease_until   REAL,
    pid           INTEGER,
    pid_started   REAL,
    started_at    REAL,
    restarts      INTEGER NOT NULL DEFAULT 0,       -- consecutive
    last_exit     INTEGER,
    last_exit_at  REAL,
    requested     TEXT            -- start, stop, restart: for the owning daemon
) STRICT;

CREATE TABLE worker_runs (
    worker      TEXT NOT NULL,
    number      INTEGER NOT NULL,
    daemon_id   INTEGER,
    pid         INTEGER,
    started_at  REAL NOT NULL,
    finished_at REAL,
    exit_status INTEGER,
    signal      INTEGER,
    output      BLOB NOT NULL DEFAULT x'',
    output_size INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (worker, number)
) STRICT, WITHOUT ROWID;
