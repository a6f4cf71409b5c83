"""Long-running workers: start, watch, restart with backoff, stop; one copy per database.

The daemon's coordinator thread calls `tick()`; only it writes to the
database.  Each running worker has a thread that reads its output and
waits for it to exit, handing both back through deques.  Ownership is a
lease in the workers table: a daemon takes a worker that no live daemon
holds, first stopping what the last owner may have left running on this
host: the process recorded (pid and start time), and every process that
carries the old owner's run token and this worker's name, recorded or not
(see processes.py), so two copies never run.  A daemon that finds it no
longer owns a worker (another took it over while this one was stopped
past its lease) stops its copy at once and forgets it.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from jobctl.models import Config, WorkerSpec
from jobctl.output_tail import OutputTail
from jobctl.processes import (
    RUN_ENV,
    WORKER_ENV,
    mark_held,
    pid_alive,
    process_start_time,
    signal_group,
    stop_tagged,
)
from jobctl.runner import watch_process
from jobctl.store import Store


class Run:
    """One run of one worker: its process and the thread that watches it."""

    def __init__(
        self, spec: WorkerSpec, number: int, proc: subprocess.Popen[bytes], output_limit: int
    ) -> None:
        self.spec = spec
        self.number = number
        self.proc = proc
        self.output = OutputTail(output_limit)  # what it printed, not stored yet
        self.started = time.monotonic()
        self.stop_reason: str | None = None  # stop, restart, shutdown
        self.kill_grace = spec.kill_grace
        self.exit_status: int | None = None
        self.signal: int | None = None
        self.lived = 0.0  # seconds from start to exit


class Worker:
    """What the owning daemon knows of one worker between runs."""

    def __init__(self, spec: WorkerSpec, state: str, held: bool, restarts: int) -> None:
        self.spec = spec
        self.state = state
        self.held = held
        self.restarts = restarts
        self.next_start: float | None = None  # a clock() time
        self.run: Run | None = None


class Supervisor:
    def __init__(
        self,
        config: Config,
        store: Store,
        daemon_id: int,
        host: str,
        log: Callable[[str], None],
        wake: Callable[[], None],
        clock: Callable[[], float] = time.time,
        token: str = "",
    ) -> None:
        self.config = config
        self.specs = dict(config.workers)
        self.store = store
        self.daemon_id = daemon_id
        self.host = host
        self.token = token  # our run token: every worker process carries it
        self.log = log
        self.wake = wake
        self.clock = clock
        self.config_dir = str(Path(config.path).parent) if config.path else None
        self.owned: dict[str, Worker] = {}
        self.lost: set[Run] = set()  # runs of workers let go, until they have exited
        self.ended: deque[Run] = deque()
        self.fenced = False  # the daemon may have lost its lease: start nothing (see fence)
        self.output_due = 0.0  # when to store running workers' output next (time.monotonic())
        store.add_workers({name: spec.autostart for name, spec in self.specs.items()})

    # -- the coordinator's side ----------------------------------------------

    def pending(self) -> bool:
        if self.ended:
            return True
        runs = [w.run for w in self.owned.values() if w.run is not None] + list(self.lost)
        return time.monotonic() >= self.output_due and any(run.output for run in runs)

    def running(self) -> int:
        return sum(1 for w in self.owned.values() if w.run is not None) + len(self.lost)

    def tick(self, now: float, lease_until: float, look: bool) -> float | None:
        """Record output and exits, take free workers and act on requests (when
        `look`), start what is due; when to tick again at the latest."""
        self._store_output()
        self._take_ended(now)
        if look:
            self._take_free(now, lease_until)
            for name, requested in self.store.worker_requests(self.daemon_id):
                self._request(name, requested, now)
        soonest = None
        for worker in list(self.owned.values()):  # _start may let one go
            if worker.run is None and worker.next_start is not None and not self.fenced:
                if worker.next_start <= now:
                    self._start(worker, now)
                else:
                    soonest = min(soonest or worker.next_start, worker.next_start)
        return soonest

    def _store_output(self) -> None:
        """Store what the workers printed: the runs that ended (before their
        end is recorded), and the running ones every OUTPUT_SECONDS."""
        runs = {id(run): run for run in self.ended}  # before the runs: see _watch
        mono = time.monotonic()
        if mono >= self.output_due:
            self.output_due = mono + OUTPUT_SECONDS
            live = [w.run for w in self.owned.values() if w.run is not None] + list(self.lost)
            for run in live:
                runs.setdefault(id(run), run)
        pieces = []
        for run in runs.values():
            piece = run.output.take()
            if piece is not None:
                pieces.append((run, *piece))
        if not pieces:
            return
        try:
            self.store.worker_output(
                [(run.spec.name, run.number, start, data) for run, start, data in pieces],
                self.config.output_limit,
            )
        except BaseException:  # a full disk: kept for the next try, bounded by the tails
            for run, start, data in pieces:
                run.output.give_back(start, data)
            raise

    def reconfigure(self, config: Config, now: float) -> None:
        """A reloaded jobs.toml: added workers are taken and started at the
        next tick, removed ones stopped and let go, changed ones restarted
        with their new definition."""
        before = self.specs
        self.config = config
        self.specs = dict(config.workers)
        added = {name: spec.autostart for name, spec in self.specs.items() if name not in before}
        if added:
            self.store.add_workers(added)
        for name, worker in list(self.owned.items()):
            spec = self.specs.get(name)
            if spec == worker.spec:
                continue
            run = worker.run
            if spec is None:
                self.log(f"worker {name}: no longer in jobs.toml: stopping it")
                worker.next_start = None
                if run is None:
                    self._forget(name)
                elif run.stop_reason is None:
                    run.stop_reason = "removed"  # forgotten once it has stopped (_ended)
            else:
                self.log(f"worker {name}: changed in jobs.toml: restarting it")
                worker.spec = spec  # the next start uses it
                if run is not None and run.stop_reason is None:
                    run.stop_reason = "restart"  # its thread signals it (see stop_all)

    def _forget(self, name: str) -> None:
        """Let go of a worker no longer configured: another daemon may run it."""
        del self.owned[name]
        self.store.release_worker(name, self.daemon_id)

    def stop_all(self) -> None:
        """Stop every running worker: its thread sends SIGTERM to its group, and
        SIGKILL after kill_grace.  Only the thread signals: a second SIGTERM
        could reach a Python worker that handled the first and is exiting
        with its handlers reset, and turn its exit 0 into a death by signal."""
        for worker in self.owned.values():
            worker.next_start = None
            if worker.run is not None and worker.run.stop_reason is None:
                worker.run.stop_reason = "shutdown"

    def kill_now(self) -> None:
        """A second signal: SIGKILL at the next check instead of after kill_grace."""
        for run in [w.run for w in self.owned.values()] + list(self.lost):
            if run is not None:
                run.kill_grace = 0

    def keep_owned(self) -> None:
        """At each heartbeat: stop and forget the workers another daemon has taken over."""
        if self.owned:
            self.let_go(set(self.owned) - self.store.owned_workers(self.daemon_id))

    def fence(self) -> None:
        """The daemon may lose its lease (see lease_watch.py): stop every run at
        once and start none until `fenced` is cleared.  From any thread: it
        only sets flags, which the runs' own threads act on."""
        self.fenced = True
        for worker in list(self.owned.values()):
            run = worker.run
            if run is not None and run.stop_reason is None:
                run.stop_reason = "fenced"
                run.kill_grace = min(run.kill_grace, LOST_KILL_GRACE)

    def let_go(self, names: set[str]) -> None:
        """Stop these workers' runs at once (SIGTERM, SIGKILL a second later) and
        forget them, writing nothing: their rows belong to another daemon now."""
        for name in names:
            worker = self.owned.pop(name)
            self.log(f"worker {name}: another daemon runs it now: stopping this copy")
            if worker.run is not None:
                worker.run.stop_reason = "taken over"
                worker.run.kill_grace = min(worker.run.kill_grace, LOST_KILL_GRACE)
                self.lost.add(worker.run)  # its thread signals it (see stop_all)

    def release(self, now: float) -> None:
        """After stop_all and the last run's end: let another daemon take them."""
        self._take_ended(now)
        self.store.release_workers(self.daemon_id)

    def _take_ended(self, now: float) -> None:
        while self.ended:
            run = self.ended[0]  # taken off only once recorded: a full disk may stop it
            if run in self.lost:
                self.lost.discard(run)
                self.log(f"worker {run.spec.name}: the copy let go has stopped")
            else:
                self._ended(run, now)
            self.ended.popleft()

    def _take_free(self, now: float, lease_until: float) -> None:
        for name, spec in self.specs.items():
            if name in self.owned:
                continue
            takeable = self.store.worker_takeable(name, self.daemon_id, self.host, now)
            if takeable is None:
                continue
            owner, (pid, pid_started, host, token) = takeable
            # What the last owner left running is stopped before the take
            # commits: a daemon killed after taking would leave its
            # successor only its own token, not the one its copy carries.
            if (
                host == self.host
                and owner != self.daemon_id
                and not self._stop_leftovers(name, pid, pid_started, token, spec.kill_grace)
            ):
                continue  # a child of its dead daemon is still before exec: next tick
            taken = self.store.take_worker(name, self.daemon_id, owner, self.host, now, lease_until)
            if taken is None:
                continue
            state, held, restarts = taken
            worker = Worker(spec, state, held or state == "gave-up", restarts)
            self.owned[name] = worker
            self.log(f"worker {name}: now run by this daemon")
            if not worker.held:
                worker.next_start = now
            else:
                self._save(worker, "gave-up" if state == "gave-up" else "stopped")

    def _stop_leftovers(
        self,
        name: str,
        pid: int | None,
        pid_started: float | None,
        token: str | None,
        grace: float,
    ) -> bool:
        """Stop what the last owner on this host left running, recorded or not;
        False if that cannot be done yet."""
        if token and token != self.token and mark_held(token):
            return False  # its daemon, or a child of it before exec: not yet findable
        grace = min(grace, 5.0)
        if pid is not None and pid_started is not None and pid_alive(pid, pid_started):
            # Pids are reused: only the process that started when recorded.
            self.log(f"worker {name}: stopping process group {pid} its last daemon left running")
            signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and pid_alive(pid, pid_started):
                time.sleep(0.05)
            signal_group(pid, signal.SIGKILL)
        if token and token != self.token:
            # A copy started just before its daemon died, its pid not yet
            # recorded: found by the old owner's token.
            for found, group in stop_tagged(token, name, grace).items():
                if group != pid:  # not the recorded one, stopped above
                    self.log(f"worker {name}: stopped process {found} its last daemon left running")
        return True

    def _request(self, name: str, requested: str, now: float) -> None:
        worker = self.owned.get(name)
        if worker is None:
            return
        self.log(f"worker {name}: {requested} requested")
        if requested in ("stop", "restart") and worker.run is not None:
            worker.run.stop_reason = requested  # its thread signals it (see stop_all)
        # `held` is written at once: a daemon taking over after this one's
        # death starts the worker again only if it is not held.
        if requested == "stop":
            worker.held, worker.next_start = True, None
            self._save(worker, "stopped" if worker.run is None else worker.state)
        else:  # start, restart: a fresh start, failures forgotten
            worker.held, worker.restarts = False, 0
            if worker.run is None:
                worker.next_start = now
            self._save(worker, "starting" if worker.run is None else worker.state)

    def _start(self, worker: Worker, now: float) -> None:
        spec = worker.spec
        worker.next_start = None
        try:
            proc = subprocess.Popen(
                _argv(spec),
                cwd=self.config_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as a whole
                env=os.environ | {WORKER_ENV: spec.name, RUN_ENV: self.token},
                # Our fds are all close-on-exec; keeping them to the exec
                # itself keeps the run mark until the token shows (processes.py).
                close_fds=False,
            )
        except OSError as exc:
            self.log(f"worker {spec.name}: cannot start: {exc.strerror or exc}")
            self._after_failure(worker, now, lived=0.0)
            return
        try:
            number = self.store.worker_started(
                spec.name, self.daemon_id, proc.pid, process_start_time(proc.pid), now
            )
        except BaseException:
            # Not recorded (a full disk): no copy runs that the database does
            # not know of; the start is tried again with the next tick.
            _kill(proc)
            worker.next_start = now
            raise
        if number is None:  # another daemon took it over meanwhile
            _kill(proc)
            del self.owned[spec.name]
            self.log(f"worker {spec.name}: another daemon runs it now")
            return
        run = Run(spec, number, proc, self.config.output_limit)
        worker.run, worker.state = run, "running"
        if self.fenced:  # the lease was given up while this start was recorded
            run.stop_reason = "fenced"
            run.kill_grace = min(run.kill_grace, LOST_KILL_GRACE)
        self.log(f"worker {spec.name}: started run {number}, pid {proc.pid}")
        threading.Thread(target=self._watch, args=(run,), daemon=True).start()

    def _ended(self, run: Run, now: float) -> None:
        worker = self.owned[run.spec.name]
        worker.run = None
        lived = run.lived
        how = f"signal {run.signal}" if run.signal else f"exit status {run.exit_status}"
        self.log(f"worker {run.spec.name}: run {run.number} ended ({how}) after {lived:.1f}s")
        spec = worker.spec
        if lived >= spec.reset_after:
            worker.restarts = 0
        failed = run.stop_reason is None and (run.exit_status != 0 or run.signal is not None)
        if run.stop_reason in ("restart", "fenced"):  # fenced: again once unfenced
            worker.restarts, worker.next_start = 0, now
            self._save(worker, "starting", run)
        elif run.stop_reason is not None:  # stop, removed, or the daemon's shutdown
            self._save(worker, "stopped", run)
            if run.spec.name not in self.specs:
                self._forget(run.spec.name)
        elif spec.restart == "never" or (spec.restart == "on-failure" and not failed):
            worker.held = True  # exited as its policy allows: stays down until started
            self._save(worker, "stopped", run)
        elif failed:
            self._after_failure(worker, now, lived, run)
        else:  # exit 0 under restart = "always"
            worker.restarts = 0
            worker.next_start = now + _jitter(spec.restart_delay)
            self._save(worker, "backoff", run)

    def _after_failure(self, worker: Worker, now: float, lived: float, run: Run | None = None):
        spec = worker.spec
        worker.restarts += 1
        if spec.max_restarts and worker.restarts > spec.max_restarts:
            worker.held = True
            self.log(f"worker {spec.name}: gave up after {worker.restarts} failures in a row")
            self._save(worker, "gave-up", run)
            return
        delay = min(spec.restart_max_delay, spec.restart_delay * 2 ** (worker.restarts - 1))
        worker.next_start = now + _jitter(delay)
        self._save(worker, "backoff", run)

    def _save(self, worker: Worker, state: str, run: Run | None = None) -> None:
        worker.state = state
        if run is not None:
            self.store.worker_ended(
                worker.spec.name,
                self.daemon_id,
                run.number,
                run.exit_status,
                run.signal,
                self.clock(),
                state=state,
                restarts=worker.restarts,
                held=worker.held,
                next_start_at=worker.next_start,
            )
        else:
            self.store.set_worker(
                worker.spec.name,
                self.daemon_id,
                state,
                held=worker.held,
                restarts=worker.restarts,
                next_start_at=worker.next_start,
            )

    # -- a worker's own thread ------------------------------------------------

    def _watch(self, run: Run) -> None:
        status, _ = watch_process(
            run.proc,
            run.output.write,
            lambda: run.stop_reason,
            lambda: run.kill_grace,
        )
        run.exit_status, run.signal = (None, -status) if status < 0 else (status, None)
        run.lived = time.monotonic() - run.started
        self.ended.append(run)
        self.wake()


LOST_KILL_GRACE = 1.0  # a copy another daemon has taken over: SIGKILL this soon after SIGTERM
OUTPUT_SECONDS = 0.2  # running workers' output is stored this often (see daemon.py)


def _argv(spec: WorkerSpec) -> list[str]:
    if spec.handler is not None:
        # -P: not the current folder first on sys.path (see runner.run_handler_in_process).
        return [sys.executable, "-P", "-m", "jobctl.handler_process", "--worker", spec.handler]
    return shlex.split(spec.command or "")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    signal_group(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()  # type: ignore[union-attr]


def _jitter(delay: float) -> float:
    return delay * random.uniform(0.9, 1.1)
