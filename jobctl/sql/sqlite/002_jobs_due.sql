-- Migration 2.  When is the next queued job due?  The daemon asks after
-- every claim that found nothing more to run; without this index that was a
-- scan of every queued job (half of a 20,000-job drain's time went there).
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'queued' AND waiting = 0;
