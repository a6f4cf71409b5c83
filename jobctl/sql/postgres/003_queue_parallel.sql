-- Migration 3.  `jobctl parallel N --queue Q`: how many of a queue's jobs
-- may run at once, over every daemon on the database.  NULL: not set here,
-- jobs.toml's [queues.Q] concurrency (or no limit) applies.  The queues
-- trigger (schema 001) already wakes every listening daemon on a change.
ALTER TABLE queues ADD COLUMN parallel bigint CHECK (parallel IS NULL OR parallel >= 1);
