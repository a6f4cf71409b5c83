-- The statements only PostgresStore runs (see jobctl/store/postgres.py):
-- bulk inserts, the claim's cap lock, and the shapes the shared code reads
-- that SQLite builds in its own way.

-- name: insert_jobs
-- add_jobs without keys or parents: each parameter an array, one element
-- per job, unnested together.  RETURNING gives the ids in the order of the
-- rows inserted, which is the arrays' order (WITH ORDINALITY, ORDER BY).
INSERT INTO jobs (type, command, shell, cwd, env, payload, queue, priority, state,
                  run_at, created_at, max_attempts, timeout, unique_key, waiting,
                  error, finished_at, schedule, due_at)
SELECT type, command, shell, cwd, env, payload, queue, priority, state,
       run_at, created_at, max_attempts, timeout, unique_key, waiting,
       error, finished_at, schedule, due_at
FROM unnest(CAST(:type AS text[]), CAST(:command AS text[]), CAST(:shell AS bigint[]),
            CAST(:cwd AS text[]), CAST(:env AS text[]), CAST(:payload AS text[]),
            CAST(:queue AS text[]), CAST(:priority AS bigint[]), CAST(:state AS text[]),
            CAST(:run_at AS float8[]), CAST(:created_at AS float8[]),
            CAST(:max_attempts AS bigint[]), CAST(:timeout AS float8[]),
            CAST(:unique_key AS text[]), CAST(:waiting AS bigint[]), CAST(:error AS text[]),
            CAST(:finished_at AS float8[]), CAST(:schedule AS text[]),
            CAST(:due_at AS float8[]))
     WITH ORDINALITY AS j(type, command, shell, cwd, env, payload, queue, priority, state,
                          run_at, created_at, max_attempts, timeout, unique_key, waiting,
                          error, finished_at, schedule, due_at, n)
ORDER BY n
RETURNING id;

-- name: insert_batch
-- add_batch: jobs alike but for their payloads (an array); the rest is
-- insert_job's parameters, once for all.
INSERT INTO jobs (type, command, shell, cwd, env, payload, queue, priority, state,
                  run_at, created_at, max_attempts, timeout, unique_key, waiting,
                  error, finished_at, schedule, due_at)
SELECT CAST(:type AS text), CAST(:command AS text), CAST(:shell AS bigint),
       CAST(:cwd AS text), CAST(:env AS text), p.payload, CAST(:queue AS text),
       CAST(:priority AS bigint), CAST(:state AS text), CAST(:run_at AS float8),
       CAST(:created_at AS float8), CAST(:max_attempts AS bigint),
       CAST(:timeout AS float8), CAST(:unique_key AS text), CAST(:waiting AS bigint),
       CAST(:error AS text), CAST(:finished_at AS float8), CAST(:schedule AS text),
       CAST(:due_at AS float8)
FROM unnest(CAST(:payload AS text[])) WITH ORDINALITY AS p(payload, n)
ORDER BY n
RETURNING id;

-- name: claim_cap_lock
-- Held by a claim that counts running jobs against a queue's or a type's
-- cap, to its transaction's end: two daemons never both count the same
-- free place.  Claims without caps never take it.
SELECT pg_advisory_xact_lock(hashtextextended('jobctl claim caps ' || current_schema(), 0));
