"""`jobctl daemon`: claim jobs, run them on a thread pool, record how they end.

One coordinator thread (the main thread) owns the database connection: it
claims in batches, writes output and finished attempts in batches, heartbeats
and recovers jobs of dead daemons.  Worker threads never touch the database;
they run one attempt each and hand back bytes and outcomes through queues.
Idle, it sleeps until another process commits (inotify on the WAL, see
wakeup.py), a signal, or the next due time; SQLite's data_version counter
then tells whether anything changed, so there is no query of the jobs
table until something did.  Signal handlers only set flags.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from jobctl import capture, recovery, runner, stop_signals, systemd, type_globs, why
from jobctl.config import describe
from jobctl.config_watch import CHECK_SECONDS, ConfigWatch
from jobctl.daemon_log import DaemonLog
from jobctl.errors import DatabaseBusy, DatabaseError, DiskFull, JobctlError
from jobctl.file_safety import put_handlers_on_path
from jobctl.lease_watch import LeaseWatch
from jobctl.models import Config, Job, JobType, Outcome, storable
from jobctl.output_tail import OutputTail
from jobctl.processes import RUN_ENV, WORKER_ENV, RunMark, new_run_token, process_start_time
from jobctl.retention import Retention
from jobctl.store import Store, is_postgres_url

if TYPE_CHECKING:
    from jobctl.scheduler import Scheduler
    from jobctl.supervisor import Supervisor

POLL_SECONDS = 0.01  # without inotify (see wakeup.py): poll data_version this often
HEARTBEAT_SECONDS = 1.0
SHORT_JOB_SECONDS = 0.05  # work claimed ahead per thread, at most (see _capacity)
MAX_AHEAD_PER_THREAD = 128  # short jobs claimed ahead per thread, at most
REFILL_PER_THREAD = 16  # wake the coordinator when fewer are left waiting
HOOK_WAIT_SECONDS = 30.0  # how long an exiting daemon waits for hooks
HOOK_TIMEOUT_SECONDS = 300.0  # a hook running longer: SIGTERM, SIGKILL after kill_grace
HOOKS_OF = {  # a job's final state: the hooks it runs, in this order
    "succeeded": ("on_success", "on_finish"),
    "failed": ("on_failure", "on_finish"),
    "cancelled": ("on_finish",),
}
DRAIN_RETRY_WINDOW = 60.0  # --drain waits for retries due this soon (see _retries_soon)
WAIT_OUT_MAX_SECONDS = 5.0  # a full disk: try again at most this long after the last failure
LOST_KILL_GRACE = 1.0  # a job or worker another daemon took over: SIGKILL this soon after SIGTERM
# Output of running jobs is stored this often (a job's last output goes with
# its end): a job printing without pause costs a short write five times a
# second, whatever it prints, and followers see its output that late at most.
OUTPUT_SECONDS = 0.2
# ctx.log() lines waiting to be stored, at most (more are counted, not kept),
# and the most characters of one line's message (or of its data, as JSON).
MAX_PENDING_LOG_LINES = 100_000
MAX_LOG_CHARS = 64 * 1024
# Settings a running daemon cannot take up: a reload logs that they changed.
RESTART_SETTINGS = ("db", "durability", "concurrency", "lease")
_DEFAULT_TYPE = JobType(name="")  # the retry policy of ad hoc commands


class Running:
    """A job this daemon claimed: waiting for a worker thread, or running on one."""

    def __init__(self, job: Job, number: int, output_limit: int) -> None:
        self.job = job
        self.number = number
        self.output = OutputTail(output_limit)  # what it printed, not stored yet
        # Its type as configured when it was claimed: a reload does not change
        # a job that is already running (None: an ad hoc command, or not known).
        self.job_type: JobType | None = None
        self.logs_dropped = 0  # ctx.log() lines dropped while too many waited (see _log_line)
        self.stop_reason: str | None = None
        self.attempt: runner.Attempt | None = None
        self.started = time.monotonic()  # claimed; then when a worker began it
        self.took: float | None = None  # how long it ran, once ended


class Daemon:
    def __init__(
        self,
        config: Config,
        db_path: Path | str,
        *,
        concurrency: int | None = None,
        queues: list[str] | None = None,
        types: list[str] | None = None,
        drain: bool = False,
        schedules: bool = True,
        workers: bool = True,
        log_format: str = "text",
        clock: Callable[[], float] = time.time,
        config_source: str | None = None,
    ) -> None:
        self.config = config
        self.config_source = config_source  # --config, to find the file again at a reload
        self.db_path = db_path
        self.concurrency = concurrency or config.concurrency or max(4, os.cpu_count() or 1)
        self.queues = queues
        # --types globs; _use_config resolves them to type names (see type_globs.py).
        self.type_patterns = types
        self.types: list[str] | None = None
        self.drain = drain
        self.schedules_on = schedules
        self.run_schedules = schedules and any(t.scheduled for t in config.jobs.values())
        # A drain exits when its jobs are done: it has no business starting workers.
        self.workers_on = workers and not drain
        self.run_workers = self.workers_on and bool(config.workers)
        self.stopping = False  # from the first stop signal: ctx.shutting_down() is true
        self.clock = clock
        self.config_dir = str(Path(config.path).parent) if config.path else None
        self.todo: queue.Queue[Running | None] = queue.Queue()
        # Workers append, the coordinator pops: deque's append and popleft
        # are atomic, and checking an empty deque costs next to nothing.
        # (Output goes to each Running's own bounded OutputTail.)
        self.logs: deque[tuple[int, int, float, str, str | None, str]] = deque()
        self.done: deque[tuple[Running, Outcome]] = deque()
        self.pids: deque[tuple[int, int, int, float | None]] = deque()
        self.running: dict[int, Running] = {}
        self.retrying: set[int] = set()  # jobs this daemon ran that will be tried again
        self.hooks: list[threading.Thread] = []  # on_failure commands still running
        self.typical_seconds = 1.0  # moving average of how long attempts take
        self.wake = threading.Event()
        # JOBCTL_HOST: the name this daemon goes by, for machines that share
        # one (containers with their own pid namespaces on one database).
        self.host = os.environ.get("JOBCTL_HOST") or socket.gethostname()
        self.fatal: str | None = None  # why the daemon must stop at once, and exit 1
        self.stale: set[int] = set()  # jobs of a registration declared dead, still stopping
        self.lease = (
            config.lease
        )  # a daemon on another host is presumed dead this long after its heartbeat
        self.log = DaemonLog(log_format, clock)
        self._use_config(config)

    def _use_config(self, config: Config) -> None:
        """Serve `config` from now on: at start, and at each reload."""
        self.config = config
        if self.type_patterns is not None:
            # The daemon only runs the types it knows: the globs become names.
            self.types = type_globs.resolve(self.type_patterns, config.jobs)
        # Shared with `ls`, which says when a job waits for a cap.
        self._queue_caps, self._type_caps = why.caps(config)

    # -- signals: a counter only ------------------------------------------------

    @property
    def signals(self) -> int:
        # Counted by stop_signals: Event.set() in a handler could deadlock on
        # the lock the main thread holds inside wake.wait().  The wake-up fd
        # ends an idle select(); a busy loop looks within POLL_SECONDS.
        return stop_signals.received + (2 if self.fatal else 0)  # fatal: stop at once

    # -- the coordinator -----------------------------------------------------

    def run(self) -> int:
        if self.config_dir:
            put_handlers_on_path(self.config_dir)  # handlers import relative to jobs.toml
        stop_signals.install()  # already, when started by `jobctl daemon`
        store = Store.open(self.db_path, self.config.durability)
        self.store = store
        self.db_file = _file_identity(self.db_path) if isinstance(self.db_path, Path) else None
        # The token marks every process this daemon starts; it is committed
        # with the registration, and the mark is held, before any starts.
        # One inherited from a job that started this daemon is not ours.
        os.environ.pop(RUN_ENV, None)
        os.environ.pop(WORKER_ENV, None)
        # systemd's notify socket: read once, and kept from jobs and workers,
        # which must not tell systemd that we are ready (see systemd.py).
        self.systemd = systemd.Notifier.from_environment(
            on_error=lambda line: self._log(None, line)
        )
        self.run_marks: list[RunMark] = []
        self._new_token()
        pid = os.getpid()
        now = self.clock()
        self.id = store.register_daemon(
            self.host, pid, process_start_time(pid), self.queues, now, self.token
        )
        # Processes a dead daemon of this host left, whose jobs another host
        # has taken (see recovery.py): before anything of ours starts.
        recovery.stop_what_the_dead_left(store, self.host, self.token, lambda s: self._log(None, s))
        # A signal also writes a byte here, which ends an idle select() at once.
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        self.signal_fds = (wake_read,)
        self._wake_write = wake_write
        self.watcher = store.watcher(POLL_SECONDS)
        # Only where another host may take over its jobs (see lease_watch.py).
        self.lease_watch = (
            LeaseWatch(self.lease, LOST_KILL_GRACE, self._lease_lost)
            if is_postgres_url(self.db_path)
            else None
        )
        self.config_watch = ConfigWatch(self.config_source, self.config)
        self.supervisor = self._new_supervisor() if self.run_workers else None
        self.scheduler = self._new_scheduler() if self.run_schedules else None
        threads = [
            threading.Thread(target=self._worker, name=f"jobctl-worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        if self.lease_watch is not None:
            self.lease_watch.start()
        self.workers_stopped = 0  # counted by _begin_stop, for the last line
        started = f"daemon {self.id} started: pid {pid}, {self.concurrency} threads"
        self._log(None, f"{started}, {self._served()}")
        self.systemd.ready(f"daemon {self.id}: {self.concurrency} threads")
        # print() and logging in a thread handler: its attempt's output (capture.py).
        capture.install()
        try:
            self._loop()
        finally:
            capture.restore()  # first: nothing below can skip it
            self.systemd.stopping()  # said already, unless a fatal error ends the loop
            for _ in threads:
                self.todo.put(None)
            # on_failure hooks run once: let them finish (a drain may exit in
            # the same pass that started them), but not for ever.
            deadline = time.monotonic() + HOOK_WAIT_SECONDS
            for hook in self.hooks:
                hook.join(max(0.0, deadline - time.monotonic()))
            store.daemon_stopped(self.id, self.clock())
            self._log(None, f"Stopped {self.workers_stopped} worker(s), {len(threads)} threads")
            if self.supervisor is not None:
                self.supervisor.release(self.clock())
            self._flush_log()
            if self.scheduler is not None:
                self.scheduler.close()
            if self.lease_watch is not None:
                self.lease_watch.stop()
            store.close()
            self.watcher.close()
            signal.set_wakeup_fd(-1)
            os.close(wake_read)
            os.close(wake_write)
            for mark in self.run_marks:
                mark.close()
            self.systemd.close()
            stop_signals.restore()
        return 1 if self.fatal else 0

    def _new_supervisor(self) -> Supervisor:
        from jobctl.supervisor import Supervisor

        return Supervisor(
            self.config,
            self.store,
            self.id,
            self.host,
            lambda line: self._log(None, line),
            self._wake_up,
            self.clock,
            self.token,
        )

    def _new_scheduler(self) -> Scheduler:
        from jobctl.scheduler import Scheduler

        return Scheduler(self.config, self.db_path, self.store, lambda line: self._log(None, line))

    def _loop(self) -> None:
        timers = _Timers(
            schedule=0.0 if self.scheduler is not None else None,
            worker=0.0 if self.supervisor is not None else None,
        )
        self.timers = timers
        while True:
            try:
                if timers.recover:
                    self._recover(self.clock())
                    timers.recover = False
                if self._pass(timers):
                    return
            except DatabaseError as exc:
                # A full disk (or a lock held past the busy timeout) passes:
                # wait it out, keeping what the jobs produced meanwhile.  A
                # second signal ends the wait, and the daemon.
                if not isinstance(exc, DiskFull | DatabaseBusy) or self.signals > 1:
                    raise
                now = self.clock()
                if self.signals:  # a shutdown goes on in memory: grace, then stop the jobs
                    self._begin_stop(now, timers)
                    self._stop_jobs_after_grace(now, timers)
                self._wait_out(exc, timers)
                continue
            if timers.waited_out:
                # Empty the WAL while there is room: it only shrinks at a
                # checkpoint, which SQLite runs every 4,000 pages, and
                # otherwise it grows back into the space just freed.
                self.store.shrink_wal()
                self._log(None, "the database is writable again: going on")
                timers.waited_out = 0

    def _pass(self, timers: _Timers) -> bool:
        """One pass of the loop: True when the daemon is done."""
        store = self.store
        supervisor = self.supervisor
        # Every pass, not the heartbeat: it says the loop turns, whether the
        # database takes writes or not (a full disk is waited out), and a
        # WatchdogSec under 2s needs more than one a second.
        self.systemd.watchdog()
        now = self.clock()
        version = store.data_version()
        changed = version != timers.version
        timers.version = version
        wakeups = [timers.heartbeat]
        wakeups += [t for t in (timers.due, timers.schedule, timers.worker) if t is not None]
        wakeups.append(timers.purge)
        busy = self.running or self.signals or self.pids or self.logs
        busy = busy or stop_signals.reloads != timers.reloads  # SIGHUP: reload now
        if supervisor is not None and (supervisor.pending() or timers.stop is not None):
            busy = True
        if not (changed or busy) and now < min(wakeups):
            # Idle, and nothing changed: sleep until a commit, a signal,
            # the next heartbeat, due job or schedule (or systemd's watchdog).
            pause = min(min(wakeups) - now, self.systemd.watchdog_pause())
            self.watcher.wait(pause, self.signal_fds)
            return False
        if stop_signals.reloads != timers.reloads or time.monotonic() >= timers.config_check:
            # SIGHUP, or time to look whether jobs.toml changed on disk.
            asked = stop_signals.reloads != timers.reloads
            timers.reloads = stop_signals.reloads
            timers.config_check = time.monotonic() + CHECK_SECONDS
            changed = self._reload(now, timers, asked) or changed
        if timers.schedule is not None and now >= timers.schedule and not self.signals:
            timers.schedule = self.scheduler.tick(now)
            if self.drain:
                timers.schedule = None  # once: what is owed now, not what comes later
            changed = True  # our own commits do not move data_version
        if now >= timers.heartbeat:
            self._heartbeat(now)
            now = self.clock()  # recovery may have taken a while: leases from now
            timers.heartbeat = now + HEARTBEAT_SECONDS
            changed = True
        if now >= timers.purge and not self.signals:
            # `retention`: one batch of old ended jobs at most per pass.
            timers.purge = timers.retention.purge(
                store, self.config, now, lambda line: self._log(None, line)
            )
        if supervisor is not None:
            due_now = timers.worker is not None and now >= timers.worker
            if changed or due_now or supervisor.pending():
                # While stopping: record exits, take and start nothing new.
                look = changed and timers.stop is None and not self.signals
                timers.worker = supervisor.tick(now, now + self.lease, look)
        if changed and self.running:
            for job_id in store.cancel_requests(self.id):
                item = self.running.get(job_id)
                if item is not None and item.stop_reason is None:
                    item.stop_reason = "cancelled"
        # Shutdown: the first signal stops claiming and waits for
        # shutdown_grace; then (or at a second signal) jobs are stopped
        # and given back without using an attempt.  Jobs claimed ahead
        # (see _capacity) are running as far as anyone can see: they
        # are short, and they run too.
        if self.signals:
            self._begin_stop(now, timers)
        # After a takeover (see _declared_dead), claim nothing until the old
        # registration's jobs have stopped: one of them may be given back
        # and claimed again at once, and two copies would run.
        if self.stale and not self.stale & self.running.keys():
            self.stale = set()
        fenced = self.lease_watch is not None and self.lease_watch.lost
        claiming = timers.stop is None and not self.stale and not fenced
        # What ended and what starts next share one transaction: the
        # commit is most of the cost of a short job.
        mono = time.monotonic()
        flush = mono >= timers.output
        if flush:
            timers.output = mono + OUTPUT_SECONDS
        produced = self._take_produced(all_output=flush)
        free = self._capacity() - len(self.running) + len(produced.done)
        due = timers.due is not None and now >= timers.due
        retries: dict[int, float] = {}  # the jobs that will be tried again: when
        try:
            with store.transaction():
                failed = self._record(produced, now, retries=retries)
                claimed = []
                if claiming and free > 0 and (changed or due or produced.done):
                    claimed = self._claim(now, free)
        except BaseException:
            self._give_back(produced)  # nothing was written: write it next time
            raise
        self._after_commit(produced.done, failed, claimed, retries)
        if claiming:
            if free > 0 and len(claimed) < free and (changed or due or produced.done):
                # Nothing more is ready now: ask when something will be.
                timers.due = store.next_run_at(self.queues, self.types)
                if timers.due is not None and timers.due <= now and not claimed:
                    # Due, but held back by a concurrency cap: wait for a
                    # change (a job ending) instead of asking again at once.
                    timers.due = None
                nothing_due = timers.due is None or timers.due > now
                idle = not self.running and nothing_due
                if self.drain and idle and not self._retries_soon(now):
                    return True
            elif claimed:
                timers.due = now  # there may be more ready at once
        elif timers.stop is not None and self._stopping(now, timers):
            return True
        self._flush_log()
        room = claiming and len(self.running) < self._capacity()
        self._sleep(now, timers.due if room else None)
        return False

    def _reload(self, now: float, timers: _Timers, asked: bool) -> bool:
        """Serve jobs.toml anew if it changed (or SIGHUP `asked`); whether it did.

        An invalid file is logged, once per version of it, and the config
        in use goes on serving.  Jobs already running keep the definition
        they started with (Running.job_type).
        """
        if asked:
            self.systemd.reloading()
        try:
            config = self.config_watch.load(force=asked)
        except JobctlError as exc:
            problems = getattr(exc, "problems", None) or [str(exc)]
            self._log(
                None, "jobs.toml not reloaded, the config in use goes on: " + "; ".join(problems)
            )
            config = None
        if config is None:
            if asked:
                self.systemd.ready("reload refused: the config in use goes on")
            return False
        kept = [
            name for name in RESTART_SETTINGS if getattr(config, name) != getattr(self.config, name)
        ]
        if kept:
            self._log(None, f"{', '.join(kept)} changed: that takes a restart of the daemon")
            config = config._replace(**{name: getattr(self.config, name) for name in kept})
        self._use_config(config)
        if config.path and str(Path(config.path).parent) != self.config_dir:
            self.config_dir = str(Path(config.path).parent)
            put_handlers_on_path(self.config_dir)
        if self.scheduler is not None:
            self.scheduler.close()
        self.run_schedules = self.schedules_on and bool(config.schedules)
        self.scheduler = self._new_scheduler() if self.run_schedules else None
        timers.schedule = 0.0 if self.run_schedules else None
        if self.supervisor is not None:
            self.supervisor.reconfigure(config, now)
            timers.worker = 0.0
        elif self.workers_on and config.workers:
            self.supervisor = self._new_supervisor()
            timers.worker = 0.0
        why = "SIGHUP" if asked else "the file changed"
        served = f"; {self._type_filter()}" if self.type_patterns is not None else ""
        self._log(None, f"reloaded ({why}): {describe(config)}{served}")
        if asked:
            self.systemd.ready(f"reloaded: {describe(config)}")
        return True

    def _begin_stop(self, now: float, timers: _Timers) -> None:
        """The first stop signal: claim nothing more, stop the workers, give
        running jobs shutdown_grace to finish."""
        if timers.stop is not None:
            return
        timers.stop = now + self.config.shutdown_grace
        self.stopping = True  # handlers see ctx.shutting_down() from now on
        self.systemd.stopping()
        if self.supervisor is not None:
            self.workers_stopped = sum(w.run is not None for w in self.supervisor.owned.values())
            self.supervisor.stop_all()
        self._log(
            None,
            f"stopping: waiting up to {self.config.shutdown_grace:g}s"
            f" for {len(self.running)} job(s)",
        )

    def _stop_jobs_after_grace(self, now: float, timers: _Timers) -> None:
        """Once shutdown_grace is over (or at a second signal), stop the jobs still running."""
        if self.signals > 1 and self.supervisor is not None:
            self.supervisor.kill_now()
        if timers.stop is not None and (now >= timers.stop or self.signals > 1):
            for item in self.running.values():
                if item.stop_reason is None:
                    item.stop_reason = "interrupted"
                if self.signals > 1 and item.attempt is not None:
                    item.attempt.kill_grace = 0
            if timers.hard_stop is None:
                timers.hard_stop = now + self.config.kill_grace + 2

    def _stopping(self, now: float, timers: _Timers) -> bool:
        """Shutting down: stop what still runs once the grace is over; True when all ended."""
        supervisor = self.supervisor
        if not self.running and (supervisor is None or not supervisor.running()):
            return True
        self._stop_jobs_after_grace(now, timers)
        if timers.hard_stop is not None and now >= timers.hard_stop:
            self._abandon(now)  # handler threads that would not stop
            return True
        return False

    def _heartbeat(self, now: float) -> None:
        """Renew leases, check that this daemon still owns what it runs, and
        that its database is still the file at its path; recover the dead."""
        if self.fatal:
            return
        if self.db_file and _file_identity(self.db_path, self.db_file) != self.db_file:
            self.fatal = (
                f"the database {self.db_path} was removed or replaced:"
                " stopping (start a daemon again to serve the new file)"
            )
            self._log(None, self.fatal)
            return
        began = time.monotonic()
        if not self.store.heartbeat(self.id, now, now + self.lease):
            self._declared_dead(now)
        elif self.supervisor is not None:
            self.supervisor.keep_owned()
        if self.lease_watch is not None and self.lease_watch.renewed(began):
            self._log(None, "a heartbeat got through again: claiming and starting workers again")
            if self.supervisor is not None:
                self.supervisor.fenced = False
        self._recover(now)

    def _wait_out(self, exc: DatabaseError, timers: _Timers) -> None:
        """Sleep a while before trying the failed pass again; say so once."""
        if not timers.waited_out:
            self._log(None, f"{exc.message}: retrying until it can write again")
        self._flush_log()
        timers.waited_out += 1
        if isinstance(exc, DiskFull):
            self.store.checkpoint_often()
            self.store.shrink_wal()  # what it frees may be what the next pass needs
        pause = min(WAIT_OUT_MAX_SECONDS, 0.05 * 2 ** min(timers.waited_out, 10))
        until = time.monotonic() + pause
        signals = self.signals
        while self.signals == signals and time.monotonic() < until:
            self.watcher.wait(min(0.1, until - time.monotonic()), self.signal_fds)
        timers.recover = True  # a recovery cut short by the error
        timers.version = None  # and look again at what changed meanwhile

    def _declared_dead(self, now: float) -> None:
        """Another daemon took this one for dead (its host stopped it past the
        lease) and recovered its jobs and workers: stop running them at once,
        and start over under a new id.  The jobs' attempts are ended, so what
        they report now changes nothing; the workers' rows are not ours."""
        self._log(
            None,
            f"daemon {self.id} was presumed dead: stopping its jobs and workers, registering again",
        )
        for item in self.running.values():
            item.stop_reason = item.stop_reason or "interrupted"
            if item.attempt is not None:
                item.attempt.kill_grace = min(item.attempt.kill_grace, LOST_KILL_GRACE)
        self.stale = set(self.running)
        if self.supervisor is not None:
            self.supervisor.let_go(set(self.supervisor.owned))
        # A new token too: the old one's processes are ours to stop, and a
        # daemon on this host recovering the old registration's jobs must
        # not take the new one's for them.  The old mark stays held.
        self._new_token()
        pid = os.getpid()
        self.id = self.store.register_daemon(
            self.host, pid, process_start_time(pid), self.queues, now, self.token
        )
        if self.supervisor is not None:
            self.supervisor.daemon_id, self.supervisor.token = self.id, self.token

    def _lease_lost(self, silent: float) -> None:
        """From the lease watch's thread: no heartbeat got through for `silent`
        seconds, near the lease, so another host may soon take this daemon's
        jobs and workers.  Stop them first (their own threads signal them);
        claim and start nothing until a heartbeat gets through."""
        self._log(
            None,
            f"no heartbeat got through for {silent:.1f}s (lease {self.lease:g}s):"
            " stopping its jobs and workers before another daemon takes them",
        )
        for item in list(self.running.values()):
            item.stop_reason = item.stop_reason or "interrupted"
            if item.attempt is not None:
                item.attempt.kill_grace = min(item.attempt.kill_grace, LOST_KILL_GRACE)
        if self.supervisor is not None:
            self.supervisor.fence()
        self._wake_up()

    def _new_token(self) -> None:
        self.token = new_run_token()
        self.run_marks.append(RunMark(self.token))

    def _wake_up(self) -> None:
        """From another thread: end the coordinator's sleep, whichever kind it is in."""
        self.wake.set()
        with contextlib.suppress(OSError):  # a full pipe is awake enough
            os.write(self._wake_write, b"w")

    def _retries_soon(self, now: float) -> bool:
        """--drain waits for the retries of jobs it ran, when due within DRAIN_RETRY_WINDOW.

        A drain from cron should finish what it started (a flaky job's
        second attempt) but not sit out an hour-long backoff.
        """
        soon = []
        for job_id in self.retrying:
            job = self.store.get(job_id)
            if job.state == "queued" and job.run_at <= now + DRAIN_RETRY_WINDOW:
                soon.append(job_id)
        self.retrying = set(soon)
        return bool(soon)

    def _capacity(self) -> int:
        """How many jobs to hold: one per thread, plus some in hand while jobs are short.

        Claiming ahead shares one commit among many jobs when jobs take
        milliseconds.  A job claimed ahead waits for a thread (at most
        about SHORT_JOB_SECONDS) and shows as running meanwhile; with jobs
        that take a second or more nothing is claimed ahead, so a daemon
        never sits on work that another daemon could start.
        """
        # Enough in hand for about SHORT_JOB_SECONDS of work per thread.
        ahead = int(self.concurrency * SHORT_JOB_SECONDS / max(self.typical_seconds, 1e-6))
        return self.concurrency + min(ahead, self.concurrency * MAX_AHEAD_PER_THREAD)

    def _sleep(self, now: float, next_due: float | None) -> None:
        """Until the next poll, a due job, or (while jobs run) a worker's wake-up.

        Workers wake the coordinator when their queue runs low (see _worker),
        not at every job's end: with short jobs, that lets one pass record
        and claim a hundred jobs instead of a few, for nearly the same cost.
        """
        pause = POLL_SECONDS
        if next_due is not None and next_due - now < pause:
            pause = max(0.0, next_due - now)
        if self.running:
            self.wake.wait(pause)  # workers set it when a job ends
            self.wake.clear()
        elif pause > 0:
            self.watcher.wait(pause, self.signal_fds)

    def _claim(self, now: float, free: int) -> list[Running]:
        """Claim up to `free` jobs; they join self.running in _after_commit."""
        claimed = self.store.claim(
            self.id,
            free,
            now,
            self.clock() + self.lease,  # from now, not the pass's start: a claim may wait
            queues=self.queues,
            queue_caps=self._queue_caps,
            type_caps=self._type_caps,
            types=self.types,
        )
        limit = self.config.output_limit
        items = [Running(c.job, c.attempt, limit) for c in claimed]
        for item in items:
            item.job_type = self._job_type(item.job)
        return items

    def _take_produced(self, all_output: bool = True) -> _Produced:
        """What the workers produced since the last pass, taken off their
        queues: the output of jobs that ended, and of running ones too if
        `all_output`."""
        # `done` first: a worker writes its last output before its outcome, so
        # whatever outcome is taken here has all its output taken below.
        done = _take_all(self.done)
        printed = {id(item): item for item, _ in done}
        if all_output:
            for item in self.running.values():
                printed.setdefault(id(item), item)
        outputs = []
        for item in printed.values():
            piece = item.output.take()
            if piece is not None:
                outputs.append((item, *piece))
        return _Produced(done, _take_all(self.pids), outputs, _take_all(self.logs))

    def _give_back(self, produced: _Produced) -> None:
        """Put back what a failed write did not store, ahead of anything newer."""
        self.done.extendleft(reversed(produced.done))
        self.pids.extendleft(reversed(produced.pids))
        self.logs.extendleft(reversed(produced.logs))
        for item, start, data in produced.outputs:
            item.output.give_back(start, data)  # bounded: a tail keeps output_limit

    def _record(
        self,
        produced: _Produced,
        now: float,
        more: Sequence[Outcome] = (),
        retries: dict[int, float] | None = None,
    ) -> list[Job]:
        """Write what the workers produced (and `more` outcomes); the jobs
        that failed for good (those to be retried go into `retries`)."""
        if not (produced or more):
            return []
        return self.store.record(
            [outcome for _, outcome in produced.done] + list(more),
            [(item.job.id, item.number, start, data) for item, start, data in produced.outputs],
            produced.logs,
            now,
            self.config.output_limit,
            self._retry_delay,
            produced.pids,
            retries,
        )

    def _after_commit(
        self,
        ended: list[tuple[Running, Outcome]],
        failed: list[Job],
        claimed: list[Running],
        retries: dict[int, float] | None = None,
    ) -> None:
        """Log, hand claimed jobs to the workers, run hooks: only once committed."""
        for item, _ in ended:
            self.running.pop(item.job.id, None)
        mono = time.monotonic()
        retries = retries or {}
        failed_ids = {job.id for job in failed}
        hooked = []  # jobs that may have ended for good, of types with hooks for that
        for item, outcome in ended:
            will_retry: bool | None = None
            if outcome.outcome in ("failed", "timed_out"):
                will_retry = item.job.id in retries
            if item.job.id in retries:
                self.retrying.add(item.job.id)
            else:
                self.retrying.discard(item.job.id)
                if (
                    outcome.outcome != "interrupted"
                    and item.job.id not in failed_ids
                    and (self._hook(item.job, "on_success") or self._hook(item.job, "on_finish"))
                ):
                    hooked.append(item.job.id)
            # Run time, as the worker measured it: not the wait to be recorded.
            took = item.took if item.took is not None else mono - item.started
            self.typical_seconds += (took - self.typical_seconds) * 0.2
            what = outcome.outcome + (
                f": {outcome.error}" if outcome.error not in (None, outcome.outcome) else ""
            )
            self._log(item.job, what, item.number, took, will_retry, retries.get(item.job.id))
        for job in failed:
            self._run_hooks(job)
        for job_id in hooked:  # succeeded, or cancelled while it ran (read after commit)
            try:
                job = self.store.get(job_id)
            except JobctlError:  # purged meanwhile, or the database busy: no hook
                continue
            if job.state in ("succeeded", "cancelled"):
                self._run_hooks(job)
        for item in claimed:
            self.running[item.job.id] = item
            if self.lease_watch is not None and self.lease_watch.lost:
                # The lease was given up while this claim waited to commit
                # (_lease_lost saw running without it): give it back unrun.
                item.stop_reason = "interrupted"
            self._log(item.job, "started", item.number)
            if item.job.type is not None and item.job_type is None:
                # Added by a command that read a newer jobs.toml than this
                # daemon's, perhaps: look again before failing it.
                if self.config_watch.changed():
                    self._reload(self.clock(), self.timers, asked=False)
                item.job_type = self._job_type(item.job)
                if item.job_type is None:  # truly unknown: fails once, no retries
                    error = f'job type "{item.job.type}" is not in jobs.toml'
                    outcome = Outcome(item.job.id, item.number, "failed", error=error, final=True)
                    self.done.append((item, outcome))
                    continue
            self.todo.put(item)

    def _retry_delay(self, job: Job, outcome: Outcome) -> float:
        if outcome.outcome == "recovered":
            return 0.0  # the job did nothing wrong: run it again at once
        # The type the attempt ran under (see Running.job_type); an ad hoc
        # command follows the defaults a job type has.
        item = self.running.get(job.id)
        policy = (item.job_type if item is not None else self._job_type(job)) or _DEFAULT_TYPE
        try:
            grown = policy.retry_delay * policy.retry_backoff ** max(0, job.attempt - 1)
        except OverflowError:  # 2.0 ** 1100 (max_attempts goes to 1,000,000): past any cap
            grown = policy.retry_max_delay
        delay = min(policy.retry_max_delay, grown)
        return delay * random.uniform(0.9, 1.1)

    def _job_type(self, job: Job) -> JobType | None:
        return self.config.jobs.get(job.type) if job.type else None

    def _recover(self, now: float) -> None:
        """Give back the running jobs of daemons that are gone, once their
        processes on this host are stopped (see recovery.py)."""
        recovery.mark_the_dead(self.store, self.id, self.host, self.lease, now)
        orphans = self.store.orphaned_jobs(self.id)
        if not orphans:
            return
        not_yet = recovery.stop_leftovers(
            self.store, self.host, self.token, orphans, lambda line: self._log(None, line)
        )
        outcomes = []
        for job_id, number in orphans:
            if job_id in not_yet:
                continue  # at the next heartbeat
            # The attempt read with the orphan: if another daemon recovered and
            # restarted the job meanwhile, this attempt is already ended and
            # recording it again changes nothing (see end_attempt).
            outcomes.append(Outcome(job_id, number, "recovered", error="daemon died"))
            self._log(self.store.get(job_id), "recovered: its daemon died", number)
        failed = self.store.record(
            outcomes, [], [], now, self.config.output_limit, self._retry_delay
        )
        for job in failed:
            self._run_hooks(job)

    def _abandon(self, now: float) -> None:
        """Give back the jobs whose threads would not stop (what did end is kept)."""
        produced = self._take_produced()
        ended = {item.job.id for item, _ in produced.done}
        interrupted = [
            Outcome(item.job.id, item.number, "interrupted", error="daemon stopped")
            for item in self.running.values()
            if item.job.id not in ended
        ]
        retries: dict[int, float] = {}
        try:
            failed = self._record(produced, now, interrupted, retries)
        except BaseException:
            self._give_back(produced)  # a full disk: the real outcomes, next try
            raise
        self._after_commit(produced.done, failed, [], retries)
        self.running.clear()

    def _hook(self, job: Job, name: str) -> str | None:
        """A hook's command: the job type's (which defaults to the top-level
        one), or the top-level one for an ad hoc command."""
        job_type = self._job_type(job)
        return getattr(job_type if job_type is not None else self.config, name)

    def _run_hooks(self, job: Job) -> None:
        """Run the hooks of a job that ended for good, once, in a thread:
        on_success or on_failure, then on_finish; each gets the job as JSON on stdin."""
        commands = [(name, self._hook(job, name)) for name in HOOKS_OF.get(job.state, ())]
        commands = [(name, command) for name, command in commands if command]
        if not commands:
            return
        import shlex

        if not job.labels:
            # Claims and record() read no labels: only jobs that have hooks
            # pay for the look.
            with contextlib.suppress(JobctlError):  # purged meanwhile, or the database busy
                job = job._replace(labels=self.store.get(job.id).labels)
        job_type = self._job_type(job)
        grace = job_type.kill_grace if job_type is not None else self.config.kill_grace
        data = json.dumps(job.to_json()).encode()

        def run_hooks() -> None:
            for name, command in commands:
                self._run_hook(job, name, shlex.split(command), data, grace)

        hook = threading.Thread(target=run_hooks, daemon=True)
        hook.start()
        self.hooks = [h for h in self.hooks if h.is_alive()] + [hook]

    def _run_hook(self, job: Job, name: str, argv: list[str], data: bytes, grace: float) -> None:
        """One hook, in its own process group: one that hangs gets SIGTERM
        after HOOK_TIMEOUT_SECONDS, and SIGKILL kill_grace later, as a job does."""
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=self.config_dir,
                start_new_session=True,
            )
        except OSError as exc:
            self._log(job, f"{name} did not run: {exc}")
            return
        try:
            proc.communicate(data, timeout=HOOK_TIMEOUT_SECONDS)
            return
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self._log(job, f"{name} did not finish in {HOOK_TIMEOUT_SECONDS:.0f}s: stopped")

    # -- worker threads --------------------------------------------------------

    def _worker(self) -> None:
        while True:
            item = self.todo.get()
            if item is None:
                return
            job = item.job
            item.started = time.monotonic()
            reason = item.stop_reason
            if reason is not None:  # cancelled or given back before it began
                self.done.append((item, Outcome(job.id, item.number, reason, error=reason)))
                self.wake.set()
                continue
            job_type = item.job_type
            number = item.number
            attempt = runner.Attempt(
                job,
                number,
                job_type,
                output=item.output.write,
                log=lambda message, data, level, item=item: self._log_line(
                    item, message, data, level
                ),
                stop_reason=lambda item=item: item.stop_reason,
                shutting_down=lambda item=item: item.stop_reason is not None or self.stopping,
                started=lambda pid, j=job.id, n=number: self.pids.append(
                    (j, n, pid, process_start_time(pid))
                ),
                kill_grace=job_type.kill_grace if job_type else self.config.kill_grace,
                config_dir=self.config_dir,
                run_token=self.token,
            )
            item.attempt = attempt
            # A type unknown here never reaches a thread: _after_commit fails it.
            try:
                outcome = runner.run(attempt)
            except Exception as exc:  # the daemon never dies of one job
                outcome = attempt.outcome("failed", error=f"internal error: {exc!r}")
            if outcome.error is not None:
                outcome = outcome._replace(error=storable(outcome.error))
            item.took = time.monotonic() - item.started
            self.done.append((item, outcome))
            if self.todo.qsize() < self.concurrency * REFILL_PER_THREAD:
                # Running low: record and claim now.  With plenty in hand the
                # coordinator comes by within POLL_SECONDS anyway, and a pass
                # for many jobs costs hardly more than a pass for one.
                self.wake.set()

    def _log_line(self, item: Running, message: str, data: dict | None, level: str) -> None:
        """A ctx.log() line, for the coordinator to store; bounded like output:
        a handler logging in a loop while the disk is full must not fill memory."""
        if len(self.logs) >= MAX_PENDING_LOG_LINES:
            item.logs_dropped += 1
            return
        at = time.time()
        if item.logs_dropped:
            note = f"{item.logs_dropped} log lines not kept (too many waiting to be stored)"
            self.logs.append((item.job.id, item.number, at, note, None, "warning"))
            item.logs_dropped = 0
        if len(message) > MAX_LOG_CHARS:
            message = message[:MAX_LOG_CHARS] + f"... ({len(message)} characters)"
        text = json.dumps(data, default=str) if data else None
        if text is not None and len(text) > MAX_LOG_CHARS:
            text = json.dumps({"truncated": text[:MAX_LOG_CHARS]})
        self.logs.append((item.job.id, item.number, at, storable(message), text, level))

    # -- logging -----------------------------------------------------------------

    def _served(self) -> str:
        """For the start line: the queues, the database and the config it serves."""
        queues = ", ".join(f'"{name}"' for name in self.queues or ())
        skipped = [
            f"{what} not started ({why})"
            for what, why, off in (
                ("workers", "--drain" if self.drain else "--no-workers", not self.run_workers),
                ("schedules", "--no-schedules", not self.run_schedules),
            )
            if off and getattr(self.config, what)
        ]
        where = [f"queues {queues}" if queues else "all queues", f"database {self.store.where}"]
        if self.type_patterns is not None:
            where.insert(1, self._type_filter())
        return "; ".join([*where, describe(self.config), *skipped])

    def _type_filter(self) -> str:
        """For the start line and reloads: the --types globs, and what they take."""
        globs = ", ".join(f'"{p}"' for p in self.type_patterns or ())
        names = [n or "ad hoc commands" for n in self.types or ()]
        return f"types {globs} ({', '.join(names) if names else 'no type in jobs.toml matches'})"

    def _log(
        self,
        job: Job | None,
        what: str,
        attempt: int | None = None,
        took: float | None = None,
        will_retry: bool | None = None,
        retry_at: float | None = None,
    ) -> None:
        """Queue one log line; _flush_log writes them, once per pass of the loop."""
        self.log.add(getattr(self, "id", None), job, what, attempt, took, will_retry, retry_at)

    def _flush_log(self) -> None:
        self.log.flush()


class _Timers:
    """The loop's state between passes: when to do what next."""

    def __init__(self, schedule: float | None, worker: float | None) -> None:
        self.version: int | None = None  # data_version at the last pass
        self.heartbeat = 0.0
        self.due: float | None = 0.0  # when the next job is due
        self.schedule = schedule  # when the scheduler ticks next (None: never)
        self.worker = worker  # when the supervisor ticks next
        self.stop: float | None = None  # shutting down: the end of shutdown_grace
        self.hard_stop: float | None = None  # then: when to give up on handler threads
        self.recover = True  # recover the jobs of dead daemons before the next pass
        self.waited_out = 0  # passes failed in a row on a full disk or a lock
        self.output = 0.0  # when to store running jobs' output next (time.monotonic())
        self.purge = 0.0  # when retention purges next
        self.retention = Retention()  # where each retention rule stands
        self.reloads = stop_signals.reloads  # SIGHUPs acted on
        self.config_check = time.monotonic() + CHECK_SECONDS  # when to look at jobs.toml next


class _Produced(NamedTuple):
    """What the worker threads handed over since the last pass."""

    done: list[tuple[Running, Outcome]]
    pids: list[tuple[int, int, int, float | None]]
    outputs: list[tuple[Running, int, bytes]]  # (job, where the piece starts, its bytes)
    logs: list[tuple[int, int, float, str, str | None, str]]

    def __bool__(self) -> bool:
        return bool(self.done or self.pids or self.outputs or self.logs)


def _file_identity(path: Path, unknown: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`: None if there is none, `unknown`
    if it cannot be told (a permission, a network file system's hiccup)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError:
        return unknown
    return info.st_dev, info.st_ino


def _take_all(items: deque) -> list:
    taken = []
    while items:
        taken.append(items.popleft())
    return taken
