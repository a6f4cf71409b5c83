-- Migration 9.  Output is stored in pieces that are added and deleted, never
-- rewritten.  Before, each 64 KB a job printed rewrote the attempt's whole
-- kept output (up to output_limit, 1 MiB) inside the daemon's transaction:
-- a job printing 1 GB held the write lock for most of a minute.  Now each
-- write adds one piece (what the job printed since the last write, cut to
-- its last output_limit bytes) and deletes the pieces that end before the
-- last output_limit bytes.  `start` is where a piece begins in everything
-- the attempt (or run) wrote: the size written in all is the last piece's
-- end, and a gap between pieces is output that was not kept.
CREATE TABLE attempt_output (
    id     INTEGER PRIMARY KEY,   -- a rowid table: pieces run up to output_limit bytes
    job_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    start  INTEGER NOT NULL,
    data   BLOB NOT NULL
) STRICT;
CREATE UNIQUE INDEX attempt_output_pieces ON attempt_output (job_id, number, start);

CREATE TABLE worker_output (
    id     INTEGER PRIMARY KEY,
    worker TEXT NOT NULL,
    number INTEGER NOT NULL,      -- the run
    start  INTEGER NOT NULL,
    data   BLOB NOT NULL
) STRICT;
CREATE UNIQUE INDEX worker_output_pieces ON worker_output (worker, number, start);

INSERT INTO attempt_output (job_id, number, start, data)
SELECT job_id, number, output_size - length(output), output FROM attempts
WHERE length(output) > 0;
INSERT INTO worker_output (worker, number, start, data)
SELECT worker, number, output_size - length(output), output FROM worker_runs
WHERE length(output) > 0;

ALTER TABLE attempts DROP COLUMN output;
ALTER TABLE attempts DROP COLUMN output_size;
ALTER TABLE worker_runs DROP COLUMN output;
ALTER TABLE worker_runs DROP COLUMN output_size;
