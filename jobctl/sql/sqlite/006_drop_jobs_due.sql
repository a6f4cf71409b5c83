-- Migration 6.  jobs_due cost every enqueue one more page written (13 pwrites
-- per job in all, measured with strace -c); the next due time is now found
-- by skipping through jobs_ready per (queue, priority) instead (see
-- Store.next_run_at).
DROP INDEX jobs_due;
