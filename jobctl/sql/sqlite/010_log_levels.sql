-- Migration 10.  A ctx.log() line has a level: ctx.log.debug/info/warning/
-- error(...), or info for ctx.log(...).  Lines kept before are info.
ALTER TABLE job_logs ADD COLUMN level TEXT NOT NULL DEFAULT 'info';
