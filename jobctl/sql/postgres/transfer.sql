-- `jobctl dump` and `jobctl load` (see jobctl/store/transfer.py): every
-- column by name, a page of jobs at a time, their children by id range.

-- name: dump_jobs
SELECT id, type, command, shell, cwd, env, payload, queue, priority, state, run_at,
       created_at, started_at, finished_at, attempt, attempts_total, max_attempts, timeout,
       unique_key, waiting, result, error, cancel_requested, daemon_id, lease_until,
       schedule, due_at
FROM jobs WHERE id > :after ORDER BY id LIMIT :limit;

-- name: dump_deps
-- No index leads with job_id: a scan of job_deps per page, which is small.
SELECT job_id, parent_id FROM job_deps WHERE job_id BETWEEN :lo AND :hi
ORDER BY job_id, parent_id;

-- name: dump_attempts
SELECT job_id, number, daemon_id, started_at, finished_at, outcome, exit_status, signal,
       error, pid, pid_started
FROM attempts WHERE job_id BETWEEN :lo AND :hi ORDER BY job_id, number;

-- name: dump_events
SELECT job_id, at, kind, attempt, detail FROM events WHERE job_id BETWEEN :lo AND :hi
ORDER BY job_id, id;

-- name: dump_logs
SELECT job_id, attempt, at, message, data, level FROM job_logs
WHERE job_id BETWEEN :lo AND :hi ORDER BY job_id, id;

-- name: dump_output_sizes
-- octet_length of a stored bytea reads its size, not its bytes.
SELECT job_id, CAST(sum(octet_length(data)) AS bigint) FROM attempt_output
WHERE job_id BETWEEN :lo AND :hi
GROUP BY job_id ORDER BY job_id;

-- name: dump_output
SELECT job_id, number, start, data FROM attempt_output WHERE job_id BETWEEN :lo AND :hi
ORDER BY job_id, number, start;

-- name: dump_daemons
SELECT id, host, pid, pid_started, started_at, heartbeat_at, stopped_at, queues, token
FROM daemons ORDER BY id;

-- name: dump_schedules
SELECT name, last_due, last_job_id, last_fired_at FROM schedules ORDER BY name;

-- name: dump_queues
SELECT name, paused, parallel FROM queues ORDER BY name;

-- name: dump_workers
SELECT name, held FROM workers ORDER BY name;

-- name: load_taken_ids
-- The target's own ids in a page's range (a page's ids are checked against them).
SELECT id FROM jobs WHERE id > :after AND id <= :hi ORDER BY id LIMIT :limit;

-- name: load_job
INSERT INTO jobs (id, type, command, shell, cwd, env, payload, queue, priority, state, run_at,
                  created_at, started_at, finished_at, attempt, attempts_total, max_attempts,
                  timeout, unique_key, waiting, result, error, cancel_requested, daemon_id,
                  lease_until, schedule, due_at)
VALUES (:id, :type, :command, :shell, :cwd, :env, :payload, :queue, :priority, :state, :run_at,
        :created_at, :started_at, :finished_at, :attempt, :attempts_total, :max_attempts,
        :timeout, :unique_key, :waiting, :result, :error, :cancel_requested, :daemon_id,
        :lease_until, :schedule, :due_at);

-- name: load_dep
INSERT INTO job_deps (job_id, parent_id) VALUES (:job_id, :parent_id)
ON CONFLICT DO NOTHING;

-- name: load_attempt
INSERT INTO attempts (job_id, number, daemon_id, started_at, finished_at, outcome,
                      exit_status, signal, error, pid, pid_started)
VALUES (:job_id, :number, :daemon_id, :started_at, :finished_at, :outcome,
        :exit_status, :signal, :error, :pid, :pid_started);

-- name: load_event
INSERT INTO events (job_id, at, kind, attempt, detail)
VALUES (:job_id, :at, :kind, :attempt, :detail);

-- name: load_log
INSERT INTO job_logs (job_id, attempt, at, message, data, level)
VALUES (:job_id, :attempt, :at, :message, :data, :level);

-- name: load_output
INSERT INTO attempt_output (job_id, number, start, data)
VALUES (:job_id, :number, :start, :data);

-- name: load_daemon_taken
SELECT count(*) FROM daemons WHERE id = :id;

-- name: load_daemon
INSERT INTO daemons (id, host, pid, pid_started, started_at, heartbeat_at, stopped_at,
                     queues, token)
VALUES (:id, :host, :pid, :pid_started, :started_at, :heartbeat_at, :stopped_at,
        :queues, :token);

-- name: load_schedule
-- A schedule the target knows keeps whichever last fire is later: neither
-- database's due times fire again.
INSERT INTO schedules (name, last_due, last_job_id, last_fired_at)
VALUES (:name, :last_due, :last_job_id, :last_fired_at)
ON CONFLICT (name) DO UPDATE SET last_due = excluded.last_due,
    last_job_id = excluded.last_job_id, last_fired_at = excluded.last_fired_at
WHERE schedules.last_due IS NULL OR excluded.last_due > schedules.last_due;

-- name: load_queue
-- A queue paused in either database stays paused; a parallel limit set in
-- the dump replaces the target's, and one not set there keeps it.
INSERT INTO queues (name, paused, parallel) VALUES (:name, :paused, CAST(:parallel AS bigint))
ON CONFLICT (name) DO UPDATE SET paused = greatest(queues.paused, excluded.paused),
    parallel = coalesce(excluded.parallel, queues.parallel);

-- name: load_worker
-- Only whether it is held: the rest (its daemon, process, runs) is the
-- source hosts' own.  A worker held in either database stays held.
INSERT INTO workers (name, held) VALUES (:name, :held)
ON CONFLICT (name) DO UPDATE SET held = greatest(workers.held, excluded.held);

-- name: load_move_ids
-- Loaded rows bring their own ids: move each identity past them (never
-- back), so that the next insert does not collide.  nextval is what the
-- sequence would have given; setval with false makes the next one exactly
-- the greater of the two.
SELECT setval(pg_get_serial_sequence('jobs', 'id'),
              greatest((SELECT coalesce(max(id), 0) + 1 FROM jobs),
                       nextval(pg_get_serial_sequence('jobs', 'id'))), false),
       setval(pg_get_serial_sequence('daemons', 'id'),
              greatest((SELECT coalesce(max(id), 0) + 1 FROM daemons),
                       nextval(pg_get_serial_sequence('daemons', 'id'))), false);
