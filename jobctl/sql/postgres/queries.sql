-- Every fixed SQL statement jobctl runs on PostgreSQL, by name: the twin of
-- sql/sqlite/queries.sql.  Same names, same parameters, rows of the same shape
-- (same columns in the same order, the same Python types), so that the code
-- both stores share runs either.  See that file for what each one is for;
-- the comments here say what differs and why.
--
-- Written with SQLite's parameters (named ones, and positional question
-- marks); store/named_sql.py turns them into psycopg's.  So no question mark
-- may appear in a statement (no jsonb existence operator), no percent sign,
-- no double dash inside a string, and no colon followed by a letter outside
-- a parameter: casts are written CAST(x AS t) or with a double colon.
--
-- psycopg sends a Python None untyped: a parameter that may be None and whose
-- type PostgreSQL cannot tell from a column it is stored into or compared
-- with is CAST.  Times are double precision Unix seconds, as in SQLite.
-- Booleans the Python reads are returned as integers 0/1, as SQLite's are.
-- JSON arrays of ids come in as text and are read with
-- jsonb_array_elements_text (one value a row) or jsonb_array_elements (for
-- arrays of arrays); json_group_array becomes json_agg, coalesced to '[]'
-- (json_agg of no rows is NULL) and cast to text: one row, one JSON text.
--
-- Concurrency: PostgreSQL runs these at READ COMMITTED, with many daemons on
-- many hosts writing at once, where SQLite let one writer at a time.  UPDATEs
-- that compare-and-set (WHERE state = ...) still do: an UPDATE that waited for
-- another transaction's row lock re-checks its WHERE against the row as that
-- transaction left it.  A read whose answer a write transaction then acts on
-- locks what it read (FOR UPDATE) where the decision could otherwise go stale:
-- job_state, unsucceeded_parents, cancel_asked, purge_select(_types),
-- retention_take, and schedule_last_due_locked (fire_schedule's read).

-- name: insert_job
-- ON CONFLICT DO NOTHING: a unique key or a schedule's due time that another
-- host inserted first returns no row (the store's DuplicateJob) instead of
-- an error, which would abort the whole transaction.
-- RETURNING id: the store reads the new id from the row (SQLite's store used
-- last_insert_rowid()).  Ids come from the identity column: unlike SQLite's
-- max(id) + 1 they are not guaranteed contiguous across concurrent inserts.
-- Parameters appear once each, in VALUES order (SQLite's store binds them by
-- position).
INSERT INTO jobs (type, command, shell, cwd, env, payload, queue, priority, state,
                  run_at, created_at, max_attempts, timeout, unique_key, waiting,
                  error, finished_at, schedule, due_at)
VALUES (:type, :command, :shell, :cwd, :env, :payload, :queue, :priority, :state,
        :run_at, :created_at, :max_attempts, :timeout, :unique_key, :waiting,
        :error, :finished_at, :schedule, :due_at)
ON CONFLICT DO NOTHING
RETURNING id;
-- The SQLite file's insert_batch (many jobs from one JSON array of payloads)
-- has no twin here on purpose: the PostgreSQL store does its bulk insert its
-- own way (COPY or an INSERT ... SELECT ... RETURNING id), written in Python.

-- name: find_unique
SELECT id FROM jobs
WHERE coalesce(type, '') = coalesce(CAST(:type AS text), '') AND unique_key = :unique_key
  AND state IN ('queued', 'running');

-- name: insert_dep
INSERT INTO job_deps (parent_id, job_id) VALUES (:parent_id, :job_id)
ON CONFLICT DO NOTHING;

-- name: job_state
-- FOR UPDATE: every caller reads this inside a write transaction and acts on
-- the answer (cancel, retry, and adding a job --after this one).  Adding a
-- child reads its parent's state, then inserts the child (waiting on the
-- parent) and its job_deps row.  Unlocked, a daemon could end the parent in
-- between: its succeeded_parents / children_of, run before our commit, would
-- not see the new job_deps row, and the child would wait (or stay queued
-- behind a failed parent) for ever.  Locked, the daemon's UPDATE of the
-- parent waits for our commit, and its next statements see the child; or, if
-- the daemon got there first, we wait for its commit and read the new state.
-- Likewise cancel and retry act on the state as it is, not as it was.
SELECT state FROM jobs WHERE id = :id FOR UPDATE;

-- name: parents_of
SELECT parent_id FROM job_deps WHERE job_id = :id ORDER BY parent_id;

-- name: children_of
SELECT job_id FROM job_deps WHERE parent_id = :id ORDER BY job_id;

-- name: unsucceeded_parents
-- `retry` counts the parents not yet succeeded, and stores the count in
-- jobs.waiting.  The parents are locked (in id order, against deadlocks)
-- for the reason job_state is: a parent succeeding between this count and
-- our commit would release its children that are queued, and this one is
-- not queued yet, so it would wait for ever.  The locking subquery returns
-- each parent as it is once locked.
SELECT count(*) FROM (
    SELECT p.state FROM job_deps d JOIN jobs p ON p.id = d.parent_id
    WHERE d.job_id = :id ORDER BY p.id FOR UPDATE OF p
) AS parents
WHERE state != 'succeeded';

-- name: attempts_of
SELECT job_id, number, started_at, finished_at, outcome, exit_status, signal, error,
       coalesce((SELECT o.start + length(o.data) FROM attempt_output o
                 WHERE o.job_id = a.job_id AND o.number = a.number
                 ORDER BY o.start DESC LIMIT 1), 0)
FROM attempts a WHERE job_id = :id ORDER BY number;

-- name: events_of
SELECT job_id, at, kind, attempt, detail FROM (
    SELECT created_at AS at, 0 AS rank, CAST(0 AS bigint) AS seq, id AS job_id,
           'created' AS kind, CAST(NULL AS bigint) AS attempt, CAST(NULL AS text) AS detail
    FROM jobs WHERE id = :id
    UNION ALL
    SELECT started_at, 1, number, job_id, 'started', number, NULL
    FROM attempts WHERE job_id = :id
    UNION ALL
    SELECT at, 2, id, job_id, kind, attempt, detail FROM events WHERE job_id = :id
    UNION ALL
    SELECT finished_at, 3, number, job_id, 'succeeded', number, NULL
    FROM attempts WHERE job_id = :id AND outcome = 'succeeded'
) AS history ORDER BY at, rank, seq;

-- name: output_after
SELECT start, data FROM attempt_output
WHERE job_id = :id AND number = :number AND start + length(data) > :seen ORDER BY start;

-- name: attempt_ended
SELECT CAST(finished_at IS NOT NULL AS integer) FROM attempts
WHERE job_id = :id AND number = :number;

-- name: latest_attempt
SELECT max(number) FROM attempts WHERE job_id = :id;

-- name: log_lines_of
SELECT job_id, attempt, at, message, data, level FROM job_logs
WHERE job_id = :id AND attempt = :attempt AND id > :after ORDER BY id;

-- name: add_event
INSERT INTO events (job_id, at, kind, attempt, detail)
VALUES (:job_id, :at, :kind, :attempt, :detail);

-- name: cancel_queued
UPDATE jobs SET state = 'cancelled', finished_at = :now, error = :reason
WHERE id = :id AND state = 'queued';

-- name: request_cancel
UPDATE jobs SET cancel_requested = :now
WHERE id = :id AND state = 'running' AND cancel_requested IS NULL;

-- name: requeue_finished
UPDATE jobs SET state = 'queued', attempt = 0, run_at = :now, finished_at = NULL,
                error = NULL, result = NULL, cancel_requested = NULL,
                daemon_id = NULL, lease_until = NULL, waiting = :waiting
WHERE id = :id AND state IN ('failed', 'cancelled');

-- name: retryable_ids
SELECT id FROM jobs
WHERE state = 'failed'
  AND (CAST(:type AS text) IS NULL OR type = CAST(:type AS text))
  AND (CAST(:queue AS text) IS NULL OR queue = CAST(:queue AS text))
ORDER BY id;

-- name: retryable_ids_types
SELECT id FROM jobs
WHERE state = 'failed'
  AND jobctl_type_glob(type, CAST(:types AS text)) != 0
  AND (CAST(:queue AS text) IS NULL OR queue = CAST(:queue AS text))
ORDER BY id;

-- name: stats
SELECT queue, state, count(*) FROM jobs
WHERE state IN ('succeeded', 'failed', 'cancelled') GROUP BY state, queue
UNION ALL
SELECT queue, 'running', count(*) FROM jobs WHERE state = 'running' GROUP BY queue
UNION ALL
SELECT queue, 'queued', count(*) FROM jobs WHERE state = 'queued' AND waiting = 0 GROUP BY queue
UNION ALL
SELECT queue, 'queued', count(*) FROM jobs WHERE state = 'queued' AND waiting != 0 GROUP BY queue;

-- name: paused_queues
SELECT name FROM queues WHERE paused = 1 ORDER BY name;

-- name: set_paused
INSERT INTO queues (name, paused) VALUES (:name, :paused)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused;

-- name: queue_parallel
-- The limits `jobctl parallel` set; a queue without one is not listed.
SELECT name, parallel FROM queues WHERE parallel IS NOT NULL ORDER BY name;

-- name: set_parallel
-- :parallel NULL goes back to jobs.toml's value.
INSERT INTO queues (name, parallel) VALUES (:name, CAST(:parallel AS bigint))
ON CONFLICT (name) DO UPDATE SET parallel = excluded.parallel;

-- name: claim_settings
-- What a claim obeys of the queues table: paused flags and parallel limits,
-- in one read (the rows of queues that hold neither are left out).
SELECT name, paused, parallel FROM queues WHERE paused = 1 OR parallel IS NOT NULL;

-- name: purge_prepare
-- One statement (so that it runs whether or not the store passes parameters,
-- in either protocol).  The temp table lives as long as the connection and
-- is emptied at every commit (ON COMMIT DELETE ROWS: a truncation, without
-- dead rows piling up; autovacuum never visits temp tables), so it is empty
-- whenever a transaction begins; purge_delete empties it within one.  The
-- purge statements must run inside a transaction, as the store's writes do:
-- in autocommit the rows would be gone after each statement.  A server-side
-- pooler in transaction mode would break this, as it would any temp table.
-- PostgreSQL answers an existing table with a NOTICE, which is harmless.
CREATE TEMP TABLE IF NOT EXISTS purge_ids (id bigint PRIMARY KEY) ON COMMIT DELETE ROWS;

-- name: purge_select
-- FOR UPDATE: the rows taken stay as read until purge_delete (a job retried
-- meanwhile by another host is left out, or waits for our commit).  Without
-- it, a job requeued between this statement and purge_delete would be deleted
-- while queued.  In id order, against deadlocks.
INSERT INTO pg_temp.purge_ids (id)
SELECT id FROM jobs
WHERE state IN (SELECT jsonb_array_elements_text(CAST(:states AS jsonb)))
  AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
ORDER BY id LIMIT :limit FOR UPDATE;

-- name: purge_delete
-- One statement, as purge_prepare.  The data-modifying WITHs all see the ids
-- as they were when it began, the last DELETE included.
WITH ids AS (SELECT id FROM pg_temp.purge_ids),
     gone_jobs AS (DELETE FROM jobs WHERE id IN (SELECT id FROM ids)),
     gone_attempts AS (DELETE FROM attempts WHERE job_id IN (SELECT id FROM ids)),
     gone_output AS (DELETE FROM attempt_output WHERE job_id IN (SELECT id FROM ids)),
     gone_events AS (DELETE FROM events WHERE job_id IN (SELECT id FROM ids)),
     gone_logs AS (DELETE FROM job_logs WHERE job_id IN (SELECT id FROM ids)),
     gone_labels AS (DELETE FROM job_labels WHERE job_id IN (SELECT id FROM ids)),
     gone_deps AS (DELETE FROM job_deps WHERE job_id IN (SELECT id FROM ids)
                                           OR parent_id IN (SELECT id FROM ids))
DELETE FROM pg_temp.purge_ids;

-- name: purge_count
SELECT state, count(*) FROM jobs
WHERE state IN (SELECT jsonb_array_elements_text(CAST(:states AS jsonb)))
  AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
GROUP BY state ORDER BY state;

-- name: purge_select_types
-- purge_select, of the types the globs in :types match; locked as it is.
INSERT INTO pg_temp.purge_ids (id)
SELECT id FROM jobs
WHERE state IN (SELECT jsonb_array_elements_text(CAST(:states AS jsonb)))
  AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
  AND jobctl_type_glob(type, CAST(:types AS text)) != 0
ORDER BY id LIMIT :limit FOR UPDATE;

-- name: purge_count_types
SELECT state, count(*) FROM jobs
WHERE state IN (SELECT jsonb_array_elements_text(CAST(:states AS jsonb)))
  AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
  AND jobctl_type_glob(type, CAST(:types AS text)) != 0
GROUP BY state ORDER BY state;

-- name: retention_scan
-- One row: how many, the (finished_at, id) of the last, the ids the rule
-- covers as one JSON text ('[]' for none), and the newest job's id.  :at is
-- -Infinity on the first call (psycopg sends float('-inf') as such).
WITH scanned AS MATERIALIZED (
    SELECT id, type, finished_at FROM jobs
    WHERE finished_at < :cutoff AND (finished_at, id) > (CAST(:at AS double precision), CAST(:id AS bigint))
    ORDER BY finished_at, id LIMIT :limit)
SELECT count(*),
       (SELECT finished_at FROM scanned ORDER BY finished_at DESC, id DESC LIMIT 1),
       (SELECT id FROM scanned ORDER BY finished_at DESC, id DESC LIMIT 1),
       CAST(coalesce(json_agg(id ORDER BY finished_at, id) FILTER (
           WHERE CASE WHEN CAST(:type AS text) IS NOT NULL
                      THEN type IS NOT DISTINCT FROM CAST(:type AS text)
                      ELSE type IS NULL OR type NOT IN (
                          SELECT jsonb_array_elements_text(CAST(:others AS jsonb)))
                 END), '[]') AS text),
       (SELECT max(id) FROM jobs)
FROM scanned;

-- name: retention_take
-- Locked as purge_select is, for the same reason.
INSERT INTO pg_temp.purge_ids (id)
SELECT id FROM jobs
WHERE id IN (SELECT CAST(value AS bigint)
             FROM jsonb_array_elements_text(CAST(:ids AS jsonb)) AS e(value))
  AND state IN ('succeeded', 'failed', 'cancelled') AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
ORDER BY id FOR UPDATE;

-- ---------------------------------------------------------------------------
-- The daemon.

-- name: register_daemon
-- RETURNING id, as insert_job.
INSERT INTO daemons (host, pid, pid_started, started_at, heartbeat_at, queues, token)
VALUES (:host, :pid, :pid_started, :now, :now, :queues, :token)
RETURNING id;

-- name: heartbeat
UPDATE daemons SET heartbeat_at = :now WHERE id = :id AND stopped_at IS NULL;

-- name: extend_leases
UPDATE jobs SET lease_until = :lease_until WHERE daemon_id = :id AND state = 'running';

-- name: extend_worker_leases
UPDATE workers SET lease_until = :lease_until WHERE daemon_id = :id;

-- name: daemon_stopped
UPDATE daemons SET stopped_at = :now WHERE id = :id;

-- name: other_live_daemons
SELECT id, host, pid, pid_started, heartbeat_at FROM daemons
WHERE stopped_at IS NULL AND id != :id;

-- name: mark_daemon_dead
-- Compare-and-set: with :stale_before, only if its heartbeat is still older
-- than that.  A heartbeat committing meanwhile holds the row: this UPDATE
-- waits for it, then reads the new heartbeat_at and leaves the daemon alive.
UPDATE daemons SET stopped_at = :now
WHERE id = :id AND stopped_at IS NULL
  AND (CAST(:stale_before AS double precision) IS NULL OR heartbeat_at < :stale_before);

-- name: orphaned_jobs
-- Only the jobs of daemons known dead (see the SQLite twin).
SELECT j.id, j.attempts_total FROM jobs j JOIN daemons d ON d.id = j.daemon_id
WHERE j.state = 'running' AND j.daemon_id != :id AND d.stopped_at IS NOT NULL;

-- name: orphaned_processes
SELECT a.job_id, a.pid, a.pid_started, d.host, d.token
FROM jsonb_array_elements(CAST(:attempts AS jsonb)) AS e(value)
JOIN attempts a ON a.job_id = CAST(e.value ->> 0 AS bigint)
               AND a.number = CAST(e.value ->> 1 AS bigint)
JOIN daemons d ON d.id = a.daemon_id
WHERE a.finished_at IS NULL;

-- name: dead_tokens
-- The run tokens of this host's daemons that stopped or were declared dead
-- (see recovery.stop_what_the_dead_left).
SELECT token FROM daemons WHERE host = :host AND stopped_at IS NOT NULL AND token IS NOT NULL;

-- name: set_attempt_pid
UPDATE attempts SET pid = :pid, pid_started = :pid_started
WHERE job_id = :id AND number = :number;

-- name: ready_queues
-- The same skip-scan over the jobs_ready partial index, one seek a queue.
WITH RECURSIVE q(name) AS (
    SELECT min(queue) FROM jobs WHERE state = 'queued' AND waiting = 0
    UNION ALL
    SELECT (SELECT min(queue) FROM jobs
            WHERE state = 'queued' AND waiting = 0 AND queue > q.name)
    FROM q WHERE q.name IS NOT NULL
)
SELECT name FROM q WHERE name IS NOT NULL;

-- name: ready_in_queue
-- [[id, type, priority, run_at], ...] as one JSON text ('[]' for none), in
-- claim order.  FOR UPDATE SKIP LOCKED: the rows another daemon is claiming
-- right now are passed over, not waited for, and the ones read here stay
-- this claim's until it commits (the few not chosen too, for that moment).  A run_at with no fraction comes back as a JSON integer (1.0
-- is written 1), where SQLite writes 1.0: the same number to Python's sort.
SELECT CAST(coalesce(json_agg(json_build_array(id, type, priority, run_at)
                              ORDER BY priority DESC, run_at, id), '[]') AS text)
FROM (
    SELECT id, type, priority, run_at FROM jobs
    WHERE state = 'queued' AND waiting = 0 AND queue = :queue AND run_at <= :now
    ORDER BY priority DESC, run_at, id LIMIT :limit
    FOR UPDATE SKIP LOCKED) AS ready;

-- name: top_priority
SELECT max(priority) FROM jobs
WHERE state = 'queued' AND waiting = 0 AND queue = :queue;

-- name: priority_below
SELECT max(priority) FROM jobs
WHERE state = 'queued' AND waiting = 0 AND queue = :queue AND priority < :below;

-- name: first_run_at
SELECT min(run_at) FROM jobs
WHERE state = 'queued' AND waiting = 0 AND queue = :queue AND priority = :priority;

-- name: ready_in_queue_types
-- ready_in_queue, of these types only.
SELECT CAST(coalesce(json_agg(json_build_array(id, type, priority, run_at)
                              ORDER BY priority DESC, run_at, id), '[]') AS text)
FROM (
    SELECT id, type, priority, run_at FROM jobs
    WHERE state = 'queued' AND waiting = 0 AND queue = :queue AND run_at <= :now
      AND coalesce(type, '') IN (SELECT jsonb_array_elements_text(CAST(:types AS jsonb)))
    ORDER BY priority DESC, run_at, id LIMIT :limit
    FOR UPDATE SKIP LOCKED) AS ready;

-- name: first_run_at_types
SELECT min(run_at) FROM jobs
WHERE state = 'queued' AND waiting = 0 AND queue = :queue
  AND coalesce(type, '') IN (SELECT jsonb_array_elements_text(CAST(:types AS jsonb)));

-- name: running_per_queue
SELECT queue, count(*) FROM jobs WHERE state = 'running' GROUP BY queue;

-- name: running_per_type
SELECT type, count(*) FROM jobs WHERE state = 'running' AND type IS NOT NULL GROUP BY type;

-- name: claim_jobs
-- Compare-and-set, as in SQLite: a job another daemon claimed first is no
-- longer queued when this UPDATE gets its row lock, and is left out.
UPDATE jobs SET state = 'running', daemon_id = :daemon_id, lease_until = :lease_until,
                started_at = :now, attempt = attempt + 1, attempts_total = attempts_total + 1,
                cancel_requested = NULL
WHERE id IN (SELECT CAST(value AS bigint)
             FROM jsonb_array_elements_text(CAST(:ids AS jsonb)) AS e(value))
  AND state = 'queued'
  AND EXISTS (SELECT 1 FROM daemons WHERE id = :daemon_id AND stopped_at IS NULL);

-- name: claimed_jobs
-- The jobs claim_jobs just claimed, as one JSON text, columns as get_job's.
-- PostgreSQL writes a double precision with no fraction as a JSON integer
-- (100, where SQLite writes 100.0), which json.loads makes an int: the six
-- float columns are written with their ".0" here, so that the Job's times
-- and timeout are floats as on SQLite.  (A non-finite one becomes a JSON
-- string, where SQLite's JSON would not parse either; none is ever stored.)
SELECT CAST(coalesce(json_agg(json_build_array(
    id, type, command, shell, cwd, env, payload, queue, priority, state,
    CASE WHEN run_at = trunc(run_at) AND abs(run_at) < 1e15
         THEN CAST(CAST(CAST(run_at AS bigint) AS text) || '.0' AS json) ELSE to_json(run_at) END,
    CASE WHEN created_at = trunc(created_at) AND abs(created_at) < 1e15
         THEN CAST(CAST(CAST(created_at AS bigint) AS text) || '.0' AS json) ELSE to_json(created_at) END,
    CASE WHEN started_at = trunc(started_at) AND abs(started_at) < 1e15
         THEN CAST(CAST(CAST(started_at AS bigint) AS text) || '.0' AS json) ELSE to_json(started_at) END,
    CASE WHEN finished_at = trunc(finished_at) AND abs(finished_at) < 1e15
         THEN CAST(CAST(CAST(finished_at AS bigint) AS text) || '.0' AS json) ELSE to_json(finished_at) END,
    attempt, attempts_total, max_attempts,
    CASE WHEN timeout = trunc(timeout) AND abs(timeout) < 1e15
         THEN CAST(CAST(CAST(timeout AS bigint) AS text) || '.0' AS json) ELSE to_json(timeout) END,
    unique_key, waiting, result, error,
    CASE WHEN cancel_requested = trunc(cancel_requested) AND abs(cancel_requested) < 1e15
         THEN CAST(CAST(CAST(cancel_requested AS bigint) AS text) || '.0' AS json)
         ELSE to_json(cancel_requested) END,
    daemon_id, schedule) ORDER BY id), '[]') AS text)
FROM jobs
WHERE id IN (SELECT CAST(value AS bigint)
             FROM jsonb_array_elements_text(CAST(:ids AS jsonb)) AS e(value))
  AND state = 'running' AND daemon_id = :daemon_id AND started_at = :now;

-- name: insert_attempts
INSERT INTO attempts (job_id, number, daemon_id, started_at)
SELECT id, attempts_total, :daemon_id, :now FROM jobs
WHERE id IN (SELECT CAST(value AS bigint)
             FROM jsonb_array_elements_text(CAST(:ids AS jsonb)) AS e(value))
  AND state = 'running' AND daemon_id = :daemon_id AND started_at = :now;

-- name: add_output
INSERT INTO attempt_output (job_id, number, start, data) VALUES (:id, :number, :start, :data);

-- name: trim_output
DELETE FROM attempt_output
WHERE job_id = :id AND number = :number AND start + length(data) <= :cut;

-- name: add_log_line
INSERT INTO job_logs (job_id, attempt, at, message, data, level)
VALUES (:id, :attempt, :at, :message, :data, :level);

-- name: end_attempt
UPDATE attempts SET finished_at = :now, outcome = :outcome, exit_status = :exit_status,
                    signal = :signal, error = :error
WHERE job_id = :id AND number = :number AND finished_at IS NULL;

-- name: end_attempts_succeeded
-- :batch is a JSON array of [job_id, number, exit_status, result].
UPDATE attempts SET finished_at = :now, outcome = 'succeeded',
                    exit_status = CAST(e.value ->> 2 AS bigint)
FROM jsonb_array_elements(CAST(:batch AS jsonb)) AS e(value)
WHERE attempts.job_id = CAST(e.value ->> 0 AS bigint)
  AND attempts.number = CAST(e.value ->> 1 AS bigint)
  AND attempts.finished_at IS NULL;

-- name: jobs_succeeded
-- `->> 3` turns the result, a JSON string holding JSON text, back into that
-- text (a JSON null into NULL), as SQLite's does.
UPDATE jobs SET state = 'succeeded', finished_at = :now, result = e.value ->> 3, error = NULL,
                daemon_id = NULL, lease_until = NULL
FROM jsonb_array_elements(CAST(:batch AS jsonb)) AS e(value)
WHERE jobs.id = CAST(e.value ->> 0 AS bigint)
  AND jobs.attempts_total = CAST(e.value ->> 1 AS bigint)
  AND jobs.state = 'running';

-- name: succeeded_parents
-- One JSON text, exactly '[]' when none (the store compares the text).
-- A child added --after one of these concurrently is seen here: adding it
-- locked the parent (job_state), so jobs_succeeded waited for its commit.
SELECT CAST(coalesce(json_agg(j.id ORDER BY j.id), '[]') AS text)
FROM jsonb_array_elements(CAST(:batch AS jsonb)) AS e(value)
JOIN jobs AS j ON j.id = CAST(e.value ->> 0 AS bigint)
              AND j.attempts_total = CAST(e.value ->> 1 AS bigint)
WHERE j.state = 'succeeded' AND j.finished_at = :now
  AND EXISTS (SELECT 1 FROM job_deps WHERE parent_id = j.id);

-- name: release_children_of_all
UPDATE jobs SET waiting = waiting - (
    SELECT count(*) FROM job_deps d
    WHERE d.job_id = jobs.id
      AND d.parent_id IN (SELECT CAST(value AS bigint)
                          FROM jsonb_array_elements_text(CAST(:ids AS jsonb)) AS e(value)))
WHERE id IN (SELECT job_id FROM job_deps
             WHERE parent_id IN (SELECT CAST(value AS bigint)
                                 FROM jsonb_array_elements_text(CAST(:ids AS jsonb)) AS e(value)))
  AND state = 'queued';

-- name: job_failed
UPDATE jobs SET state = :state, finished_at = :now, error = :error,
                daemon_id = NULL, lease_until = NULL
WHERE id = :id AND state = 'running';

-- name: job_requeued
UPDATE jobs SET state = 'queued', run_at = :run_at, error = :error,
                attempt = attempt - :refund, daemon_id = NULL, lease_until = NULL
WHERE id = :id AND state = 'running';

-- name: cancel_requests
SELECT id FROM jobs WHERE daemon_id = :id AND state = 'running' AND cancel_requested IS NOT NULL;

-- name: paused_names
SELECT name FROM queues WHERE paused = 1;

-- name: schedule_rows
SELECT s.name, s.last_due, s.last_job_id, s.last_fired_at,
       coalesce((SELECT j.due_at FROM jobs j WHERE j.id = s.last_job_id), s.last_fired_at)
FROM schedules s;

-- name: schedule_last_due
-- A plain read (the scheduler's "is anything owed?" outside a transaction).
-- fire_schedule reads schedule_last_due_locked instead.
SELECT last_due FROM schedules WHERE name = :name;

-- name: schedule_last_due_locked
-- fire_schedule's read: the schedule's row, created if missing (last_due
-- NULL, as no row reads) and locked until commit, so that two daemons firing
-- the same schedule take turns: the second reads the last_due the first
-- wrote, rather than both deciding from the old one and enqueueing the same
-- due times.  (A missing row cannot be locked by SELECT ... FOR UPDATE, hence
-- the upsert; the no-op update is what locks an existing row.)
INSERT INTO schedules (name) VALUES (:name)
ON CONFLICT (name) DO UPDATE SET name = excluded.name
RETURNING last_due;

-- name: schedule_busy
SELECT id, state FROM jobs
WHERE schedule = :name AND state IN ('queued', 'running') ORDER BY id DESC LIMIT 1;

-- name: schedule_advanced
-- greatest() where SQLite has the scalar max(); the coalesce keeps its
-- first argument non-NULL whenever :last_due is, so the two agree.
INSERT INTO schedules (name, last_due, last_job_id, last_fired_at)
VALUES (:name, :last_due, :job_id, :fired_at)
ON CONFLICT (name) DO UPDATE SET
    last_due = greatest(coalesce(schedules.last_due, excluded.last_due), excluded.last_due),
    last_job_id = coalesce(excluded.last_job_id, schedules.last_job_id),
    last_fired_at = coalesce(excluded.last_fired_at, schedules.last_fired_at);

-- name: add_worker
INSERT INTO workers (name, state, held) VALUES (:name, 'stopped', :held)
ON CONFLICT (name) DO NOTHING;

-- name: worker_takeable
SELECT w.daemon_id, w.pid, w.pid_started, d.host, d.token FROM workers w
LEFT JOIN daemons d ON d.id = w.daemon_id
WHERE w.name = :name
  AND (w.daemon_id IS NULL OR w.daemon_id = :id OR d.stopped_at IS NOT NULL
       OR (w.lease_until < :now AND d.host IS DISTINCT FROM CAST(:host AS text)));

-- name: take_worker
-- Compare-and-set on the owner worker_takeable read (:owner may be None).
UPDATE workers SET daemon_id = :id, lease_until = :lease_until
WHERE name = :name AND daemon_id IS NOT DISTINCT FROM CAST(:owner AS bigint)
  AND (daemon_id IS NULL OR daemon_id = :id
       OR daemon_id IN (SELECT id FROM daemons WHERE stopped_at IS NOT NULL)
       OR (lease_until < :now
           AND (SELECT host FROM daemons WHERE id = workers.daemon_id)
               IS DISTINCT FROM CAST(:host AS text)))
RETURNING state, held, restarts;

-- name: release_workers
UPDATE workers SET daemon_id = NULL, lease_until = NULL,
                   state = CASE WHEN state = 'gave-up' THEN state ELSE 'stopped' END,
                   pid = NULL, pid_started = NULL
WHERE daemon_id = :id;

-- name: release_worker
UPDATE workers SET daemon_id = NULL, lease_until = NULL,
                   state = CASE WHEN state = 'gave-up' THEN state ELSE 'stopped' END,
                   pid = NULL, pid_started = NULL
WHERE name = :name AND daemon_id = :id;

-- name: worker_run_started
-- Runs right after worker_running, whose UPDATE holds the worker's row lock
-- until commit: one daemon at a time numbers a worker's runs.
INSERT INTO worker_runs (worker, number, daemon_id, pid, started_at)
VALUES (:name, (SELECT coalesce(max(number), 0) + 1 FROM worker_runs WHERE worker = :name),
        :daemon_id, :pid, :now)
RETURNING number;

-- name: forget_old_worker_output
DELETE FROM worker_output
WHERE worker = :name AND number <= CAST(:number AS bigint) - CAST(:keep AS bigint);

-- name: worker_running
UPDATE workers SET state = 'running', pid = :pid, pid_started = :pid_started,
                   started_at = :now, next_start_at = NULL
WHERE name = :name AND daemon_id = :daemon_id;

-- name: add_worker_output
INSERT INTO worker_output (worker, number, start, data) VALUES (:name, :number, :start, :data);

-- name: trim_worker_output
DELETE FROM worker_output
WHERE worker = :name AND number = :number AND start + length(data) <= :cut;

-- name: worker_run_ended
UPDATE worker_runs SET finished_at = :now, exit_status = :exit_status, signal = :signal
WHERE worker = :name AND number = :number;

-- name: worker_settled
UPDATE workers SET state = :state, pid = NULL, pid_started = NULL, restarts = :restarts,
                   last_exit = :last_exit, last_exit_at = :now, held = :held,
                   next_start_at = :next_start_at
WHERE name = :name AND daemon_id = :daemon_id;

-- name: worker_set
UPDATE workers SET state = :state, held = :held, restarts = :restarts,
                   next_start_at = :next_start_at
WHERE name = :name AND daemon_id = :daemon_id;

-- name: owned_workers
SELECT name FROM workers WHERE daemon_id = :id;

-- name: worker_requests
SELECT name, requested FROM workers WHERE daemon_id = :id AND requested IS NOT NULL;

-- name: clear_worker_request
UPDATE workers SET requested = NULL WHERE name = :name AND requested = :requested;

-- name: request_worker
UPDATE workers SET requested = :requested WHERE name = :name;

-- name: worker_rows
SELECT w.name, w.state, w.daemon_id, w.pid, w.started_at, w.restarts, w.last_exit,
       w.last_exit_at, w.held, w.next_start_at, w.requested,
       (SELECT max(number) FROM worker_runs r WHERE r.worker = w.name)
FROM workers w ORDER BY w.name;

-- name: live_daemons
SELECT d.id, d.host, d.pid, d.started_at, d.heartbeat_at, d.queues,
       (SELECT count(*) FROM jobs j WHERE j.daemon_id = d.id AND j.state = 'running')
FROM daemons d WHERE d.stopped_at IS NULL ORDER BY d.id;

-- name: worker_output_after
SELECT start, data FROM worker_output
WHERE worker = :name AND number = :number AND start + length(data) > :seen ORDER BY start;

-- name: worker_run_ended_yet
SELECT CAST(finished_at IS NOT NULL AS integer) FROM worker_runs
WHERE worker = :name AND number = :number;

-- name: latest_worker_run
SELECT max(number) FROM worker_runs WHERE worker = :name;

-- name: finished_per_minute
-- trunc, as SQLite's CAST to INTEGER does (PostgreSQL's CAST would round).
SELECT CAST(trunc(finished_at / 60) AS bigint), state, count(*) FROM jobs
WHERE finished_at >= :since AND state IN ('succeeded', 'failed')
GROUP BY 1, 2;

-- name: cancel_asked
-- FOR UPDATE: the daemon decides from this whether a failed attempt is
-- retried or the job cancelled.  Unlocked, a `jobctl cancel` committing
-- between this read and job_requeued would be lost (its request is cleared
-- by the next claim).  Locked, that cancel waits for our commit and then
-- finds the job queued (and cancels it) or ended.
SELECT CAST(cancel_requested IS NOT NULL AS integer) FROM jobs
WHERE id = :id AND state = 'running' FOR UPDATE;

-- name: get_job
-- The store's SELECT of one job by id (positional), in Job's field order.
-- As the SQLite one.
SELECT id, type, command, shell, cwd, env, payload, queue, priority, state, run_at, created_at,
       started_at, finished_at, attempt, attempts_total, max_attempts, timeout, unique_key,
       waiting, result, error, cancel_requested, daemon_id, schedule
FROM jobs WHERE id = ?;
