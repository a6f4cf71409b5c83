-- Migration 4.  `held`: a worker that must not start by itself (autostart =
-- false, `jobctl workers stop`, or gave up) until `jobctl workers start`.
-- `next_start_at`: when a worker in backoff starts again.
ALTER TABLE workers ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN next_start_at REAL;
