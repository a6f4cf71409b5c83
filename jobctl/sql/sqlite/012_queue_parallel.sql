-- Migration 12.  `jobctl parallel N --queue Q`: how many of a queue's jobs
-- may run at once, over every daemon on the database.  NULL: not set here,
-- jobs.toml's [queues.Q] concurrency (or no limit) applies.
ALTER TABLE queues ADD COLUMN parallel INTEGER CHECK (parallel IS NULL OR parallel >= 1);
