-- Migration 8.  Every process a daemon starts carries the daemon's run token
-- in its environment (JOBCTL_RUN), so that recovery on the same host finds
-- them even when their pid was never recorded (see processes.py).
ALTER TABLE daemons ADD COLUMN token TEXT;
