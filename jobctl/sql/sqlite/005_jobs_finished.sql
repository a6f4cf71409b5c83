-- Migration 5.  Jobs by the time they finished: the TUI's chart of the last
-- hour reads only that hour's rows, not a million.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
