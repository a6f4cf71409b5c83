-- Every fixed SQL statement jobctl runs, by name; jobctl/store/named_sql.py loads
-- them, and only the stores run them.  Parameters are named (:name) so that callers pass
-- dicts and a reordered column list cannot silently swap values.
-- Times are REAL Unix seconds, passed in by the caller (never julianday('now')),
-- so that tests can inject a clock.

-- name: insert_job
INSERT INTO jobs (type, command, shell, cwd, env, payload, queue, priority, state,
                  run_at, created_at, max_attempts, timeout, unique_key, waiting,
                  error, finished_at, schedule, due_at)
VALUES (:type, :command, :shell, :cwd, :env, :payload, :queue, :priority, :state,
        :run_at, :created_at, :max_attempts, :timeout, :unique_key, :waiting,
        :error, :finished_at, :schedule, :due_at);
-- store.py binds this one by position (a tuple is cheaper than a dict for
-- 100,000 rows) and learns the ids from last_insert_rowid(): without
-- RETURNING, executemany() runs about twice as fast, and ids are contiguous
-- because the new rows take max(id) + 1 upwards while we hold the write lock.
-- The `created` event is not stored: jobs.created_at is it (see events_of).

-- name: insert_batch
-- Many jobs alike but for their payloads, in one statement: ?6 is a JSON
-- array of the payloads' JSON texts (as strings, so that each comes back
-- exactly as encoded).  The other parameters are insert_job's, in its order.
-- Binding 19 values per row through executemany() cost more than SQLite's
-- own work; this way a batch of 100,000 takes a fraction of the time.
INSERT INTO jobs (type, command, shell, cwd, env, payload, queue, priority, state,
                  run_at, created_at, max_attempts, timeout, unique_key, waiting,
                  error, finished_at, schedule, due_at)
SELECT ?1, ?2, ?3, ?4, ?5, value, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19
FROM json_each(?6);

-- name: get_job
-- The columns a Job is built from, in its fields' order (rows.JOB_COLUMNS).
SELECT id, type, command, shell, cwd, env, payload, queue, priority, state, run_at, created_at,
       started_at, finished_at, attempt, attempts_total, max_attempts, timeout, unique_key,
       waiting, result, error, cancel_requested, daemon_id, schedule
FROM jobs WHERE id = ?;

-- name: find_unique
SELECT id FROM jobs
WHERE coalesce(type, '') = coalesce(:type, '') AND unique_key = :unique_key
  AND state IN ('queued', 'running');

-- name: insert_dep
INSERT OR IGNORE INTO job_deps (parent_id, job_id) VALUES (:parent_id, :job_id);

-- name: job_state
SELECT state FROM jobs WHERE id = :id;

-- name: parents_of
SELECT parent_id FROM job_deps WHERE job_id = :id ORDER BY parent_id;

-- name: children_of
SELECT job_id FROM job_deps WHERE parent_id = :id ORDER BY job_id;

-- name: unsucceeded_parents
SELECT count(*) FROM job_deps d JOIN jobs p ON p.id = d.parent_id
WHERE d.job_id = :id AND p.state != 'succeeded';

-- name: attempts_of
-- The size written in all is where the last piece ends (see migration 9).
SELECT job_id, number, started_at, finished_at, outcome, exit_status, signal, error,
       coalesce((SELECT o.start + length(o.data) FROM attempt_output o
                 WHERE o.job_id = a.job_id AND o.number = a.number
                 ORDER BY o.start DESC LIMIT 1), 0)
FROM attempts a WHERE job_id = :id ORDER BY number;

-- name: events_of
-- `created` comes from the job row, and `started` and `succeeded` from the
-- attempts rows (see insert_job and claim_jobs): the hot path writes no
-- event rows.  Ties in time keep lifecycle order through `rank`.
SELECT job_id, at, kind, attempt, detail FROM (
    SELECT created_at AS at, 0 AS rank, 0 AS seq, id AS job_id, 'created' AS kind,
           NULL AS attempt, NULL AS detail
    FROM jobs WHERE id = :id
    UNION ALL
    SELECT started_at, 1, number, job_id, 'started', number, NULL
    FROM attempts WHERE job_id = :id
    UNION ALL
    SELECT at, 2, id, job_id, kind, attempt, detail FROM events WHERE job_id = :id
    UNION ALL
    SELECT finished_at, 3, number, job_id, 'succeeded', number, NULL
    FROM attempts WHERE job_id = :id AND outcome = 'succeeded'
) ORDER BY at, rank, seq;

-- name: output_after
-- The kept pieces of an attempt's output that end past :seen, in order.
SELECT start, data FROM attempt_output
WHERE job_id = :id AND number = :number AND start + length(data) > :seen ORDER BY start;

-- name: attempt_ended
-- Whether the attempt has ended (no row: it has not begun).  A follower
-- reads this before the pieces: output is stored before or with its end.
SELECT finished_at IS NOT NULL FROM attempts WHERE job_id = :id AND number = :number;

-- name: latest_attempt
SELECT max(number) FROM attempts WHERE job_id = :id;

-- name: log_lines_of
SELECT job_id, attempt, at, message, data, level FROM job_logs
WHERE job_id = :id AND attempt = :attempt AND id > :after ORDER BY id;

-- name: add_event
INSERT INTO events (job_id, at, kind, attempt, detail)
VALUES (:job_id, :at, :kind, :attempt, :detail);

-- name: cancel_queued
-- Compare-and-set: zero rows means the job was no longer queued.
UPDATE jobs SET state = 'cancelled', finished_at = :now, error = :reason
WHERE id = :id AND state = 'queued';

-- name: request_cancel
UPDATE jobs SET cancel_requested = :now
WHERE id = :id AND state = 'running' AND cancel_requested IS NULL;

-- name: requeue_finished
-- `jobctl retry`: the same job, its history kept, a fresh attempt budget.
UPDATE jobs SET state = 'queued', attempt = 0, run_at = :now, finished_at = NULL,
                error = NULL, result = NULL, cancel_requested = NULL,
                daemon_id = NULL, lease_until = NULL, waiting = :waiting
WHERE id = :id AND state IN ('failed', 'cancelled');

-- name: retryable_ids
-- The IN repeats the partial jobs_state_id index's condition (migration 7).
SELECT id FROM jobs
WHERE state = 'failed' AND state IN ('succeeded', 'failed', 'cancelled')
  AND (:type IS NULL OR type = :type)
  AND (:queue IS NULL OR queue = :queue)
ORDER BY id;

-- name: retryable_ids_types
-- retryable_ids, of the types the globs in :types match (see type_globs.py).
SELECT id FROM jobs
WHERE state = 'failed' AND state IN ('succeeded', 'failed', 'cancelled')
  AND jobctl_type_glob(type, :types)
  AND (:queue IS NULL OR queue = :queue)
ORDER BY id;

-- name: stats
-- One scan per index that holds a part of the jobs (migration 7), none of
-- them reading table rows but for the few running jobs: jobs_state_queue for
-- ended jobs, jobs_running, then jobs_ready and jobs_waiting for queued ones
-- (two rows for a queue with both; store.stats adds them up).
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
INSERT INTO queues (name, parallel) VALUES (:name, :parallel)
ON CONFLICT (name) DO UPDATE SET parallel = excluded.parallel;

-- name: claim_settings
-- What a claim obeys of the queues table: paused flags and parallel limits,
-- in one read (the rows of queues that hold neither are left out).
SELECT name, paused, parallel FROM queues WHERE paused = 1 OR parallel IS NOT NULL;

-- name: purge_prepare
CREATE TEMP TABLE IF NOT EXISTS purge_ids (id INTEGER PRIMARY KEY);
DELETE FROM temp.purge_ids;

-- name: purge_select
-- Finished jobs old enough, the :limit oldest, into a temp table the deletes
-- below share (purge() deletes a batch per transaction).  The
-- newest job stays whatever its age: ids are max(id) + 1 (see migration 7),
-- so deleting it would let its id be given again.
INSERT INTO temp.purge_ids (id)
SELECT id FROM jobs
WHERE state IN (SELECT value FROM json_each(:states)) AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
ORDER BY id LIMIT :limit;

-- name: purge_delete
DELETE FROM jobs WHERE id IN (SELECT id FROM temp.purge_ids);
DELETE FROM attempts WHERE job_id IN (SELECT id FROM temp.purge_ids);
DELETE FROM attempt_output WHERE job_id IN (SELECT id FROM temp.purge_ids);
DELETE FROM events WHERE job_id IN (SELECT id FROM temp.purge_ids);
DELETE FROM job_logs WHERE job_id IN (SELECT id FROM temp.purge_ids);
DELETE FROM job_labels WHERE job_id IN (SELECT id FROM temp.purge_ids);
DELETE FROM job_deps WHERE job_id IN (SELECT id FROM temp.purge_ids)
                        OR parent_id IN (SELECT id FROM temp.purge_ids);
DELETE FROM temp.purge_ids;

-- name: purge_count
-- `purge --dry-run`: what purge_select would take, per state.
SELECT state, count(*) FROM jobs
WHERE state IN (SELECT value FROM json_each(:states)) AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
GROUP BY state ORDER BY state;

-- name: purge_select_types
-- purge_select, of the types the globs in :types match (see type_globs.py).
INSERT INTO temp.purge_ids (id)
SELECT id FROM jobs
WHERE state IN (SELECT value FROM json_each(:states)) AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs) AND jobctl_type_glob(type, :types)
ORDER BY id LIMIT :limit;

-- name: purge_count_types
-- purge_count, of the types the globs in :types match.
SELECT state, count(*) FROM jobs
WHERE state IN (SELECT value FROM json_each(:states)) AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs) AND jobctl_type_glob(type, :types)
GROUP BY state ORDER BY state;

-- name: retention_scan
-- One batch of the daemon's retention (see retention.py), a read: the next
-- :limit jobs at most that ended before :cutoff, in the order they ended
-- from the position (:at, :id) on.  How many, the position of the last,
-- the ids of those the rule covers (:type, or with :type null every job not
-- of a type in :others), and the newest job's id (which stays).
WITH scanned AS MATERIALIZED (
    SELECT id, type, finished_at FROM jobs INDEXED BY jobs_finished
    WHERE finished_at < :cutoff AND (finished_at, id) > (:at, :id)
    ORDER BY finished_at, id LIMIT :limit)
SELECT count(*),
       (SELECT finished_at FROM scanned ORDER BY finished_at DESC, id DESC LIMIT 1),
       (SELECT id FROM scanned ORDER BY finished_at DESC, id DESC LIMIT 1),
       json_group_array(id) FILTER (WHERE CASE WHEN :type IS NOT NULL THEN type IS :type
           ELSE type IS NULL OR type NOT IN (SELECT value FROM json_each(:others)) END),
       (SELECT max(id) FROM jobs)
FROM scanned;

-- name: retention_take
-- Of the :ids retention_scan found, those still ended before :cutoff (one
-- may have been retried since), into temp.purge_ids for purge_delete.  The
-- newest job stays, as in purge_select.
INSERT INTO temp.purge_ids (id)
SELECT id FROM jobs
WHERE id IN (SELECT value FROM json_each(:ids))
  AND state IN ('succeeded', 'failed', 'cancelled') AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs);

-- ---------------------------------------------------------------------------
-- The daemon.  Only its coordinator thread runs these, on its one connection.

-- name: register_daemon
INSERT INTO daemons (host, pid, pid_started, started_at, heartbeat_at, queues, token)
VALUES (:host, :pid, :pid_started, :now, :now, :queues, :token);

-- name: heartbeat
-- No row changed: another daemon declared this one dead (see Daemon._heartbeat).
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
-- than that, so that a heartbeat committed since the look keeps it alive.
UPDATE daemons SET stopped_at = :now
WHERE id = :id AND stopped_at IS NULL
  AND (:stale_before IS NULL OR heartbeat_at < :stale_before);

-- name: orphaned_jobs
-- Running jobs whose daemon is known dead (mark_daemon_dead: by its pid on
-- this host, by its heartbeat's age elsewhere).  Only those: a job's own
-- lease read a moment ago may have been renewed since.  With the attempt
-- number read in the same breath, so that a recovery never ends a later
-- attempt another daemon started.
SELECT j.id, j.attempts_total FROM jobs j JOIN daemons d ON d.id = j.daemon_id
WHERE j.state = 'running' AND j.daemon_id != :id AND d.stopped_at IS NOT NULL;

-- name: orphaned_processes
-- The processes the orphaned attempts (:attempts, a JSON array of [job id,
-- number]) may have left running: the pid if it was recorded, and the host
-- and run token of the daemon that ran them.
SELECT a.job_id, a.pid, a.pid_started, d.host, d.token FROM json_each(:attempts) e
JOIN attempts a ON a.job_id = e.value ->> 0 AND a.number = e.value ->> 1
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
-- The queues that have a ready job: a skip-scan over the jobs_ready index.
WITH RECURSIVE q(name) AS (
    SELECT min(queue) FROM jobs WHERE state = 'queued' AND waiting = 0
    UNION ALL
    SELECT (SELECT min(queue) FROM jobs
            WHERE state = 'queued' AND waiting = 0 AND queue > q.name)
    FROM q WHERE q.name IS NOT NULL
)
SELECT name FROM q WHERE name IS NOT NULL;

-- name: ready_in_queue
-- [[id, type, priority, run_at], ...] as one JSON row, not one row per job:
-- apsw lets go of the GIL for every row stepped, and in a busy daemon each
-- time costs a wait for the worker threads to give it back (see claim_jobs).
SELECT json_group_array(json_array(id, type, priority, run_at)) FROM (
    SELECT id, type, priority, run_at FROM jobs INDEXED BY jobs_ready
    WHERE state = 'queued' AND waiting = 0 AND queue = :queue AND run_at <= :now
    ORDER BY priority DESC, run_at, id LIMIT :limit);

-- name: top_priority
-- The highest priority level of a queue's ready jobs: one seek in jobs_ready,
-- whose order is priority DESC.
SELECT max(priority) FROM jobs INDEXED BY jobs_ready
WHERE state = 'queued' AND waiting = 0 AND queue = :queue;

-- name: priority_below
-- The next level down (two queries, not one with an OR: that defeats the seek).
SELECT max(priority) FROM jobs INDEXED BY jobs_ready
WHERE state = 'queued' AND waiting = 0 AND queue = :queue AND priority < :below;

-- name: first_run_at
-- The earliest run_at of one (queue, priority) level: the first entry there.
SELECT min(run_at) FROM jobs INDEXED BY jobs_ready
WHERE state = 'queued' AND waiting = 0 AND queue = :queue AND priority = :priority;

-- name: ready_in_queue_types
-- ready_in_queue for a daemon with --types: only the type names in :types
-- (a JSON array, "" for ad hoc commands), resolved from its globs against
-- jobs.toml.  type is not in jobs_ready: each entry's row is read, and
-- ready jobs of other types ahead in the queue are stepped over.
SELECT json_group_array(json_array(id, type, priority, run_at)) FROM (
    SELECT id, type, priority, run_at FROM jobs INDEXED BY jobs_ready
    WHERE state = 'queued' AND waiting = 0 AND queue = :queue AND run_at <= :now
      AND coalesce(type, '') IN (SELECT value FROM json_each(:types))
    ORDER BY priority DESC, run_at, id LIMIT :limit);

-- name: first_run_at_types
-- The earliest run_at of a queue's ready jobs of the types in :types (as in
-- ready_in_queue_types): next_run_at for a daemon with --types.
SELECT min(run_at) FROM jobs INDEXED BY jobs_ready
WHERE state = 'queued' AND waiting = 0 AND queue = :queue
  AND coalesce(type, '') IN (SELECT value FROM json_each(:types));

-- name: running_per_queue
SELECT queue, count(*) FROM jobs WHERE state = 'running' GROUP BY queue;

-- name: running_per_type
SELECT type, count(*) FROM jobs WHERE state = 'running' AND type IS NOT NULL GROUP BY type;

-- name: claimed_jobs
-- The jobs claim_jobs just claimed, as one JSON row (columns as get_job's).
SELECT json_group_array(json_array(
    id, type, command, shell, cwd, env, payload, queue, priority, state, run_at, created_at,
    started_at, finished_at, attempt, attempts_total, max_attempts, timeout, unique_key,
    waiting, result, error, cancel_requested, daemon_id, schedule))
FROM jobs
WHERE id IN (SELECT value FROM json_each(:ids))
  AND state = 'running' AND daemon_id = :daemon_id AND started_at = :now;

-- name: claim_jobs
-- Compare-and-set: a job another daemon claimed first is no longer queued and
-- is left out; and a daemon declared dead claims nothing (its jobs would be
-- recovered, and run again, at once).  No RETURNING: a row stepped is a round trip for the GIL, and
-- with four worker threads wanting it a claim of 30 jobs took 4 times as
-- long (measured with threads busy beside Store.claim).  claimed_jobs and
-- insert_attempts read what this statement changed, in the same transaction.
UPDATE jobs SET state = 'running', daemon_id = :daemon_id, lease_until = :lease_until,
                started_at = :now, attempt = attempt + 1, attempts_total = attempts_total + 1,
                cancel_requested = NULL
WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'queued'
  AND EXISTS (SELECT 1 FROM daemons WHERE id = :daemon_id AND stopped_at IS NULL);

-- name: insert_attempts
INSERT INTO attempts (job_id, number, daemon_id, started_at)
SELECT id, attempts_total, :daemon_id, :now FROM jobs
WHERE id IN (SELECT value FROM json_each(:ids))
  AND state = 'running' AND daemon_id = :daemon_id AND started_at = :now;

-- name: add_output
INSERT INTO attempt_output (job_id, number, start, data) VALUES (:id, :number, :start, :data);

-- name: trim_output
-- The pieces that end before the last output_limit bytes (:cut is where those begin).
DELETE FROM attempt_output WHERE job_id = :id AND number = :number AND start + length(data) <= :cut;

-- name: add_log_line
INSERT INTO job_logs (job_id, attempt, at, message, data, level)
VALUES (:id, :attempt, :at, :message, :data, :level);

-- name: end_attempt
-- An attempt already ended (recovered while its daemon was thought dead) stays
-- as recovery wrote it.
UPDATE attempts SET finished_at = :now, outcome = :outcome, exit_status = :exit_status,
                    signal = :signal, error = :error
WHERE job_id = :id AND number = :number AND finished_at IS NULL;

-- name: end_attempts_succeeded
-- A batch of attempts that succeeded; :batch is a JSON array of
-- [job_id, number, exit_status, result].  Only attempts still open (see
-- end_attempt).  No RETURNING, for the GIL (see claim_jobs).
UPDATE attempts SET finished_at = :now, outcome = 'succeeded', exit_status = e.value ->> 2
FROM json_each(:batch) AS e
WHERE attempts.job_id = e.value ->> 0 AND attempts.number = e.value ->> 1
  AND attempts.finished_at IS NULL;

-- name: jobs_succeeded
-- The same batch, for the jobs; a job is only touched while this attempt is
-- its latest and it is running.  `->> 3` turns the result, sent as a JSON
-- string holding JSON text, back into that text.
UPDATE jobs SET state = 'succeeded', finished_at = :now, result = e.value ->> 3, error = NULL,
                daemon_id = NULL, lease_until = NULL
FROM json_each(:batch) AS e
WHERE jobs.id = e.value ->> 0 AND jobs.attempts_total = e.value ->> 1 AND jobs.state = 'running';

-- name: succeeded_parents
-- Of the batch jobs_succeeded just ended, those that other jobs wait on, as
-- one JSON array: usually none.
SELECT json_group_array(j.id) FROM json_each(:batch) AS e
JOIN jobs AS j ON j.id = e.value ->> 0 AND j.attempts_total = e.value ->> 1
WHERE j.state = 'succeeded' AND j.finished_at = :now
  AND EXISTS (SELECT 1 FROM job_deps WHERE parent_id = j.id);

-- name: release_children_of_all
-- One parent fewer to wait for, for each of the :ids (a JSON array) that is a parent.
UPDATE jobs SET waiting = waiting - (
    SELECT count(*) FROM job_deps d
    WHERE d.job_id = jobs.id AND d.parent_id IN (SELECT value FROM json_each(:ids)))
WHERE id IN (SELECT job_id FROM job_deps WHERE parent_id IN (SELECT value FROM json_each(:ids)))
  AND state = 'queued';

-- name: job_failed
UPDATE jobs SET state = :state, finished_at = :now, error = :error,
                daemon_id = NULL, lease_until = NULL
WHERE id = :id AND state = 'running';

-- name: job_requeued
-- A retry (attempt kept) or an interrupted attempt given back (:refund = 1).
UPDATE jobs SET state = 'queued', run_at = :run_at, error = :error,
                attempt = attempt - :refund, daemon_id = NULL, lease_until = NULL
WHERE id = :id AND state = 'running';

-- name: cancel_requests
SELECT id FROM jobs WHERE daemon_id = :id AND state = 'running' AND cancel_requested IS NOT NULL;

-- name: paused_names
SELECT name FROM queues WHERE paused = 1;

-- name: schedule_rows
-- last_due counts skipped due times and the moment a schedule was first
-- seen; the due time of its latest run is that run's (when fired, if purged).
SELECT s.name, s.last_due, s.last_job_id, s.last_fired_at,
       coalesce((SELECT j.due_at FROM jobs j WHERE j.id = s.last_job_id), s.last_fired_at)
FROM schedules s;

-- name: schedule_last_due
SELECT last_due FROM schedules WHERE name = :name;

-- name: schedule_last_due_locked
-- Inside fire_schedule's write transaction, which already holds SQLite's
-- one write lock: no other daemon can fire the schedule meanwhile.
SELECT last_due FROM schedules WHERE name = :name;

-- name: schedule_busy
-- overlap = "skip": an earlier run of this schedule still queued or running.
SELECT id, state FROM jobs
WHERE schedule = :name AND state IN ('queued', 'running') ORDER BY id DESC LIMIT 1;

-- name: schedule_advanced
-- last_due only moves forward, whichever daemon writes.
INSERT INTO schedules (name, last_due, last_job_id, last_fired_at)
VALUES (:name, :last_due, :job_id, :fired_at)
ON CONFLICT (name) DO UPDATE SET
    last_due = max(coalesce(schedules.last_due, excluded.last_due), excluded.last_due),
    last_job_id = coalesce(excluded.last_job_id, schedules.last_job_id),
    last_fired_at = coalesce(excluded.last_fired_at, schedules.last_fired_at);

-- name: add_worker
-- A worker in jobs.toml gets its row the first time a daemon sees it.
INSERT INTO workers (name, state, held) VALUES (:name, 'stopped', :held)
ON CONFLICT (name) DO NOTHING;

-- name: worker_takeable
-- Its owner, if this daemon may take it: free, ours already, or its daemon
-- is gone or silent.  Read before taking, so that what the owner left
-- running is stopped first: once taken, its run token is no longer at hand.
SELECT w.daemon_id, w.pid, w.pid_started, d.host, d.token FROM workers w
LEFT JOIN daemons d ON d.id = w.daemon_id
WHERE w.name = :name
  AND (w.daemon_id IS NULL OR w.daemon_id = :id OR d.stopped_at IS NOT NULL
       OR (w.lease_until < :now AND d.host IS NOT :host));

-- name: take_worker
-- Compare-and-set: the owner read by worker_takeable, still takeable.
UPDATE workers SET daemon_id = :id, lease_until = :lease_until
WHERE name = :name AND daemon_id IS :owner
  AND (daemon_id IS NULL OR daemon_id = :id
       OR daemon_id IN (SELECT id FROM daemons WHERE stopped_at IS NOT NULL)
       OR (lease_until < :now
           AND (SELECT host FROM daemons WHERE id = workers.daemon_id) IS NOT :host))
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
INSERT INTO worker_runs (worker, number, daemon_id, pid, started_at)
VALUES (:name, (SELECT coalesce(max(number), 0) + 1 FROM worker_runs WHERE worker = :name),
        :daemon_id, :pid, :now)
RETURNING number;

-- name: forget_old_worker_output
-- A worker restarting in a loop keeps the output of its last runs only.
DELETE FROM worker_output WHERE worker = :name AND number <= :number - :keep;

-- name: worker_running
-- This, worker_settled and worker_set change a worker only for the daemon
-- that owns it: one declared dead must not undo what its successor wrote.
UPDATE workers SET state = 'running', pid = :pid, pid_started = :pid_started,
                   started_at = :now, next_start_at = NULL
WHERE name = :name AND daemon_id = :daemon_id;

-- name: add_worker_output
INSERT INTO worker_output (worker, number, start, data) VALUES (:name, :number, :start, :data);

-- name: trim_worker_output
DELETE FROM worker_output WHERE worker = :name AND number = :number AND start + length(data) <= :cut;

-- name: worker_run_ended
UPDATE worker_runs SET finished_at = :now, exit_status = :exit_status, signal = :signal
WHERE worker = :name AND number = :number;

-- name: worker_settled
-- After a run: stopped, backoff (with when it starts again) or gave-up.
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
SELECT finished_at IS NOT NULL FROM worker_runs WHERE worker = :name AND number = :number;

-- name: latest_worker_run
SELECT max(number) FROM worker_runs WHERE worker = :name;

-- name: finished_per_minute
-- For the TUI's chart: the jobs_finished index keeps this to the last hour's rows.
SELECT CAST(finished_at / 60 AS INTEGER), state, count(*) FROM jobs INDEXED BY jobs_finished
WHERE finished_at >= :since AND state IN ('succeeded', 'failed')
GROUP BY 1, 2;

-- name: cancel_asked
SELECT cancel_requested IS NOT NULL FROM jobs WHERE id = :id AND state = 'running';
