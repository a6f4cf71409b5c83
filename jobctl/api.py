"""The Python API: `jobctl.connect()` and the Queue it returns.

The CLI is a thin layer over this module: every command calls one method
here.  Inputs are checked before anything is written; an error raises a
JobctlError subclass and changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from jobctl import limits
from jobctl.config import find_config, find_db, load_config
from jobctl.durations import parse_at, parse_duration
from jobctl.errors import InputError, JobctlError, JobFailed, NoSuchJob, WaitTimeout, WrongState
from jobctl.labels import check as check_labels
from jobctl.models import Attempt, Config, Event, Job, JobType, LogLine, NewJob, iso
from jobctl.store import Store, is_postgres_url
from jobctl.templates import check_template, dash_field, fields, nul_field

Clock = Callable[[], float]
FINISHED_STATES = ("succeeded", "failed", "cancelled")
# A wait says no daemon serves its jobs this long after it began: not at
# once, so that `jobctl daemon & jobctl add --wait ...` does not warn.
SERVED_GRACE = 1.0


def connect(
    db: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    *,
    clock: Clock = time.time,
) -> Queue:
    """A Queue on the database the CLI would use, found the same way.

    `config`: --config, else $JOBCTL_CONFIG, else ./jobs.toml, else the XDG
    config folder; `db`: --db, else $JOBCTL_DB, else `db =` in the config,
    else $XDG_STATE_HOME/jobctl/jobctl.db.
    """
    cfg = load_config(find_config(os.fspath(config) if config else None))
    path = find_db(os.fspath(db) if db else None, cfg)
    return Queue(cfg, path, clock=clock)


class Queue:
    """Adds, reads and changes jobs in one jobctl database.

    Safe to share between threads: each thread gets its own connection.
    """

    def __init__(self, config: Config, db_path: Path | str, *, clock: Clock = time.time) -> None:
        self.config = config
        # An SQLite file, or a PostgreSQL URL (which Path would mangle).
        self.db_path = db_path if is_postgres_url(db_path) else Path(db_path)
        self.clock = clock
        self._local = threading.local()

    @property
    def store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store.open(self.db_path, self.config.durability)
            self._local.store = store
        return store

    def close(self) -> None:
        store = getattr(self._local, "store", None)
        if store is not None:
            store.close()
            self._local.store = None

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- adding ------------------------------------------------------------

    def add(
        self,
        type: str | None = None,
        payload: Any = None,
        *,
        command: Sequence[str] | None = None,
        shell: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        delay: str | float | None = None,
        at: str | datetime | None = None,
        max_attempts: int | None = None,
        timeout: str | float | None = None,
        unique: str | bool | None = None,
        after: Iterable[int] = (),
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        job_timeout: str | float | None = None,
        labels: Iterable[str] = (),
    ) -> Job:
        """Add one job: a typed job (`type`, `payload`) or an ad hoc `command` / `shell`.

        `delay` ("10m" or seconds) and `at` (a datetime, "HH:MM" or ISO 8601)
        set when it may run.  `unique` overrides the type's key.  Returns the
        job, or the existing one when a unique key matched.

        `job_timeout` ("30s" or seconds; `--timeout` on the command line) is
        the job's own: stored with it, each attempt is stopped when it runs
        longer.  Without it, the type's `timeout`, else the top-level one.
        add() does not wait, so its `timeout` is the same thing, the older
        name (run() and wait() use `timeout` for the wait).
        `max_attempts` defaults to the type's; for a command, to the
        top-level `command_max_attempts` (1: it runs once).  `labels`: short
        names to find the job by (see labels.py); a job found by its unique
        key keeps its own.
        """
        job = self._new_job(
            type,
            payload,
            command=command,
            shell=shell,
            queue=queue,
            priority=priority,
            delay=delay,
            at=at,
            max_attempts=max_attempts,
            timeout=timeout,
            unique=unique,
            after=after,
            cwd=cwd,
            env=env,
            job_timeout=job_timeout,
            labels=labels,
        )
        return self.store.add_and_get(job, self.clock())

    def add_id(self, type: str | None = None, payload: Any = None, **options: Any) -> int:
        """Like add(), returning only the id, for `jobctl add`."""
        return self.store.add_job(self._new_job(type, payload, **options), self.clock())

    def _new_job(self, type: str | None, payload: Any, **options: Any) -> NewJob:
        payload_json = self._payload_json(payload)
        return self._finish(self._template(type, **options), payload_json, payload)

    def scheduled_job(self, type: str, due: float) -> NewJob:
        """The job a schedule enqueues for one due time: the type's cron_data as payload."""
        payload = self._job_type(type).cron_data
        job = self._finish(self._template(type), self._payload_json(payload), payload)
        return job._replace(run_at=due, schedule=type, due_at=due)

    def add_many(self, type: str, payloads: Iterable[Any], **options: Any) -> list[int]:
        """Add one job of `type` per payload, all in one transaction (all or nothing)."""
        template = self._template(type, **options)
        return list(self._add_batch(template, ((None, p) for p in payloads), decode=False))

    def add_json_lines(self, type: str, lines: Iterable[str], **options: Any) -> Sequence[int]:
        """Add one job per line of JSON, all in one transaction.

        Blank lines are skipped; an error names its line and adds nothing.
        The ids come as a range when they are consecutive (no unique key with
        placeholders), so that a batch of millions does not hold them all.
        """
        template = self._template(type, **options)
        numbered = ((n, line) for n, line in enumerate(lines, 1) if line.strip())
        ids = self._add_batch(template, numbered, decode=True)
        if not ids:
            raise InputError("the batch has no lines")
        return ids

    def _add_batch(
        self, template: NewJob, numbered: Iterable[tuple[int | None, Any]], decode: bool
    ) -> Sequence[int]:
        """Jobs like `template`, one per payload (with its line number, if any).

        Two passes, so that memory does not grow with the batch and the
        write lock is not held while a slow producer writes the lines: each
        payload is checked and encoded as it is read, and its JSON text
        spooled to an anonymous temporary file; then one transaction inserts
        from the spool.
        """
        job_type = self.config.jobs.get(template.type) if template.type else None
        placeholders = job_type is not None and job_type.command is not None
        # A key with placeholders differs per job: those go row by row, each
        # spool line its key (as JSON) and its payload, split by a tab.
        keyed = template.unique_key is not None and "{" in template.unique_key
        import tempfile  # not at the top: it would slow every `jobctl add`

        count = 0
        with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY) as spool:
            # Lines go to the spool a few hundred kB at a time.
            pending: list[str] = []
            size = 0
            for number, item in numbered:
                try:
                    payload = json.loads(item) if decode else item
                    text = self._payload_json(payload)
                    if keyed:
                        key = self._finish(template, text, payload).unique_key
                        text = _encode_json(key) + "\t" + text
                    elif placeholders:
                        _check_placeholders(job_type, payload)
                except ValueError as exc:  # bad JSON, or an integer of over 4,300 digits
                    raise InputError(f"line {number}: invalid JSON: {exc}") from None
                except RecursionError:
                    raise InputError(f"line {number}: nested too deep") from None
                except InputError as exc:
                    if number is None:
                        raise
                    raise InputError(f"line {number}: {exc}") from None
                # The encoder writes ASCII without control characters: a text
                # is one line, and the key's JSON holds no tab.
                pending.append(text)
                size += len(text)
                if size > SPOOL_PIECE:
                    count += _spool(spool, pending)
                    size = 0
            count += _spool(spool, pending)
            if not count:
                return range(0)
            spool.seek(0)
            if keyed:
                return self.store.add_each(_keyed_jobs(template, spool), self.clock())
            return self.store.add_batch(template, spool, self.clock())

    def _payload_json(self, payload: Any) -> str:
        try:
            text = _encode_json(payload)
        except (TypeError, ValueError) as exc:
            raise InputError(f"the payload is not JSON-serializable: {exc}") from None
        except RecursionError:
            raise InputError(f"the payload is nested over {limits.MAX_DEPTH} levels deep") from None
        limits.check_depth(payload, text)
        size = len(text)  # ASCII (ensure_ascii), so characters are bytes
        if size > self.config.max_payload:
            raise InputError(
                f"the payload is {size} bytes, over max_payload ({self.config.max_payload} bytes)"
            )
        return text

    def _template(
        self,
        type: str | None = None,
        *,
        command: Sequence[str] | None = None,
        shell: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        delay: str | float | None = None,
        at: str | datetime | None = None,
        max_attempts: int | None = None,
        timeout: str | float | None = None,
        unique: str | bool | None = None,
        after: Iterable[int] = (),
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        job_timeout: str | float | None = None,
        labels: Iterable[str] = (),
    ) -> NewJob:
        """A NewJob with everything but the payload resolved and checked.

        `timeout` is the job's own, as `job_timeout` (its clearer name) is.
        """
        if job_timeout is not None:
            if timeout is not None:
                raise InputError("give job_timeout or timeout, not both")
            timeout = job_timeout
        if type is not None and (command or shell is not None):
            raise InputError("give a job type or a command, not both")
        job_type = self._job_type(type) if type is not None else None
        argv: list[str] | None = None
        if type is None:
            if shell is not None:
                if command:
                    raise InputError("give a command after -- or --shell, not both")
                if not shell.strip():
                    raise InputError("--shell needs a command")
                argv = ["/bin/sh", "-c", shell]
            elif command:
                argv = list(command)
            else:
                raise InputError("give a job type, or a command after --")
        if delay is not None and at is not None:
            raise InputError("give --in or --at, not both")
        now = self.clock()
        run_at = now
        if delay is not None:
            run_at = limits.moment(now + parse_duration(delay, "--in"), "--in")
        elif at is not None:
            run_at = limits.moment(self._moment(at, now), "--at")
        if priority is not None:
            if not isinstance(priority, int):
                raise InputError(f"--priority: {priority!r} is not an integer")
            limits.in_range(priority, *limits.PRIORITY, "--priority")
        if max_attempts is not None:
            if not isinstance(max_attempts, int) or max_attempts < 1:
                raise InputError(f"--max-attempts: {max_attempts!r} must be a whole number >= 1")
            limits.in_range(max_attempts, 1, limits.MAX_ATTEMPTS, "--max-attempts")
        for parent in after or ():
            limits.in_range(int(parent), 1, limits.MAX_ID, "--after")
        if timeout is not None:
            timeout = parse_duration(timeout, "--timeout")
            if timeout <= 0:
                raise InputError("--timeout must be more than 0s")
        if queue is not None:
            _check_queue(queue)
        if isinstance(unique, str):
            _utf8(unique, "--unique")
        key = _unique_key(unique if unique is not None else (job_type and job_type.unique))
        return NewJob(
            type=type,
            payload="null",
            queue=queue or (job_type.queue if job_type else "default"),
            priority=priority if priority is not None else (job_type.priority if job_type else 0),
            run_at=run_at,
            max_attempts=max_attempts
            or (job_type.max_attempts if job_type else self.config.command_max_attempts),
            timeout=_first(timeout, job_type and job_type.timeout, self.config.timeout),
            unique_key=key,
            command=argv,
            shell=shell is not None,
            cwd=(cwd or os.getcwd()) if argv else None,
            env=(env if env is not None else dict(os.environ)) if argv else None,
            after=tuple(dict.fromkeys(int(a) for a in after)) if after else (),
            labels=check_labels(labels) if labels else (),
        )

    def _finish(self, template: NewJob, payload_json: str, payload: Any) -> NewJob:
        """The template with its payload, placeholders checked and unique key filled."""
        job_type = self.config.jobs.get(template.type) if template.type else None
        if job_type is not None and job_type.command is not None:
            _check_placeholders(job_type, payload)
        key = template.unique_key
        if key is not None and "{" in key:
            key = _utf8(_fill(key, payload, "unique"), "the unique key")
            return template._replace(payload=payload_json, unique_key=key)
        # The payload is field 1: a tuple slice is several times cheaper than
        # _replace(), and a batch of 100,000 jobs makes 100,000 of these.
        return _new_tuple(NewJob, (template[0], payload_json, *template[2:]))

    def _job_type(self, name: str) -> JobType:
        job_type = self.config.jobs.get(name)
        if job_type is not None:
            return job_type
        from difflib import get_close_matches  # only on the error path

        known = sorted(self.config.jobs)
        close = get_close_matches(name, known, n=1)
        if close:
            hint = f" (did you mean {close[0]}?)"
        elif self.config.path is None:
            hint = " (no jobs.toml found; for a command, put it after --)"
        else:
            hint = f" ({self.config.path} declares: {', '.join(known) or 'none'})"
        raise InputError(f'unknown job type "{name}"{hint}')

    @staticmethod
    def _moment(at: str | datetime, now: float) -> float:
        try:
            return Queue._timestamp(at, now)
        except (ValueError, OverflowError):  # year 0 or 10000 in a zone
            raise InputError(f"--at: {at} is out of range (1970 to 9999)") from None

    @staticmethod
    def _timestamp(at: str | datetime, now: float) -> float:
        if isinstance(at, datetime):
            if at.tzinfo is None:
                at = at.astimezone()
            return at.timestamp()
        return parse_at(at, datetime.fromtimestamp(now, UTC)).timestamp()

    # -- reading -----------------------------------------------------------

    def get(self, job_id: int) -> Job:
        return self.store.get(job_id)

    def list(
        self,
        *,
        state: str | None = None,
        queue: str | None = None,
        type: str | None = None,
        limit: int | None = 50,
        before_id: int | None = None,
        after_id: int | None = None,
        text: str | None = None,
        types: Sequence[str] | None = None,
        labels: Iterable[str] | None = None,
    ) -> list[Job]:
        """Jobs newest first (`after_id` pages towards newer ones, oldest first);
        `types`: globs over the type (see type_globs.py); `labels`: only jobs
        that have every one of them."""
        if state is not None:
            _check_states([state])
        return self.store.list(
            labels=check_labels(labels) or None,
            state=state,
            queue=queue,
            type=type,
            limit=limit,
            before_id=before_id,
            after_id=after_id,
            text=text,
            types=types,
        )

    def finished_per_minute(self, minutes: int = 60) -> tuple[list[int], list[int]]:
        """Jobs that succeeded, and that failed, in each of the last `minutes` minutes."""
        now_minute = int(self.clock() // 60)
        first = now_minute - minutes + 1
        succeeded, failed = [0] * minutes, [0] * minutes
        for minute, state, count in self.store.finished_per_minute(first * 60):
            if first <= minute <= now_minute:
                (succeeded if state == "succeeded" else failed)[minute - first] += count
        return succeeded, failed

    def attempts(self, job_id: int) -> list[Attempt]:
        return self.store.attempts(job_id)

    def events(self, job_id: int) -> list[Event]:
        return self.store.events(job_id)

    def output(self, job_id: int, attempt: int | None = None) -> tuple[int | None, bytes]:
        """(attempt number, stored output) of `attempt`, default the latest."""
        self.store.get(job_id)  # NoSuchJob before anything else
        number = attempt if attempt is not None else self.store.latest_attempt(job_id)
        if number is None:
            return None, b""
        if attempt is not None and attempt not in {a.number for a in self.attempts(job_id)}:
            raise InputError(f"job {job_id} has no attempt {attempt}")
        # The daemon deletes whole pieces only: up to one more than the limit is kept.
        kept = b"".join(data for _, data in self.store.output(job_id, number))
        return number, kept[-self.config.output_limit :]

    def log_lines(self, job_id: int, attempt: int) -> list[LogLine]:
        return self.store.log_lines(job_id, attempt)

    def stats(self) -> Stats:
        """{queue: {state: count, ..., "total": n}}, every state present (zeros
        too); `.all` is the same counts over every queue."""
        counts = self.store.stats()
        per_queue = {name: _counts(per_state) for name, per_state in counts.items()}
        everything = {s: sum(c.get(s, 0) for c in counts.values()) for s in STATES}
        return Stats(per_queue, _counts(everything))

    def paused_queues(self) -> list[str]:
        return self.store.paused_queues()

    def parallel_limits(self) -> dict[str, tuple[int, str]]:
        """{queue: (limit, source)}: how many of its jobs may run at once over
        every daemon, set by `jobctl parallel` ("database") or by jobs.toml's
        concurrency ("jobs.toml"); a queue without a limit is left out."""
        limits = {n: (q.concurrency, "jobs.toml") for n, q in self.config.queues.items()}
        limits |= {n: (v, "database") for n, v in self.store.queue_parallel().items()}
        return {n: (v, source) for n, (v, source) in limits.items() if v is not None}

    def why_queued(self, jobs: Sequence[Job]) -> dict[int, str]:
        """{id: why it is not running} for the queued ones of `jobs` (see why.py).

        The paused queues, the live daemons and (only if a cap applies) the
        running jobs are read once for the whole list; parents one by one,
        for the jobs still waiting on some, up to the two that get named.
        """
        from jobctl import why

        queued = [job for job in jobs if job.state == "queued"]
        if not queued:
            return {}
        queue_caps, type_caps = why.caps(self.config)
        queue_caps |= self.store.queue_parallel()  # as the daemons claim (see set_parallel)
        per_type: dict[str, int] = {}
        per_queue: dict[str, int] = {}
        capped = any(job.type in type_caps or job.queue in queue_caps for job in queued)
        for running in self.store.list(state="running", limit=None) if capped else ():
            per_queue[running.queue] = per_queue.get(running.queue, 0) + 1
            if running.type is not None:
                per_type[running.type] = per_type.get(running.type, 0) + 1
        situation = why.Situation(
            paused=set(self.store.paused_queues()),
            running_per_type=per_type,
            running_per_queue=per_queue,
            type_caps=type_caps,
            queue_caps=queue_caps,
            unserved=set(self.unserved(job.queue for job in queued)),
        )
        now = self.clock()
        reasons = {}
        for job in queued:
            reason = why.why_queued(job, now, situation, self._parent_states(job))
            if reason is not None:
                reasons[job.id] = reason
        return reasons

    def _parent_states(self, job: Job) -> dict[int, str]:
        if job.waiting <= 0:
            return {}
        parents = job.parents or self.store.get(job.id).parents  # list() leaves them out
        states: dict[int, str] = {}
        for parent in parents:
            with contextlib.suppress(NoSuchJob):  # purged since
                states[parent] = self.store.get(parent).state
            if sum(state != "succeeded" for state in states.values()) >= 2:
                break
        return states

    # -- waiting -----------------------------------------------------------

    def wait(
        self,
        *job_ids: int,
        timeout: str | float | None = None,
        on_change: Callable[[], None] | None = None,
        on_unserved: Callable[[list[str]], None] | None = None,
    ) -> list[Job]:
        """Block until every job has ended; the jobs as they ended.

        A job that fails an attempt and will retry has not ended.  When
        `timeout` ("30s" or seconds) runs out, raises WaitTimeout: the jobs
        go on.  `on_change()` is called whenever another process committed
        to the database (to follow output, say).  `on_unserved(queues)` is
        called once, SERVED_GRACE seconds in, if no live daemon serves the
        queues of jobs still waiting (see unserved): the wait goes on.
        """
        store = self.store
        wanted = list(dict.fromkeys(job_ids))
        for job_id in wanted:
            store.get(job_id)  # NoSuchJob before any waiting
        ended: dict[int, Job] = {}

        def all_ended() -> bool:
            if on_change is not None:
                on_change()
            for job_id in wanted:
                if job_id not in ended:
                    try:
                        job = store.get(job_id)
                    except NoSuchJob:
                        raise JobctlError(f"job {job_id} was purged while waiting") from None
                    if job.state in FINISHED_STATES:
                        ended[job_id] = job
            return len(ended) == len(wanted)

        try:
            self.watch(all_ended, timeout=timeout, alarm=self._unserved_alarm(wanted, on_unserved))
        except WaitTimeout as exc:
            left = ", ".join(str(i) for i in wanted if i not in ended)
            raise WaitTimeout(f"{exc} waiting for job(s) {left} (they go on)") from None
        return [ended[i] for i in job_ids]  # one per id given, repeats too

    def watch(
        self,
        done: Callable[[], bool],
        *,
        timeout: str | float | None = None,
        poll: float = 0.02,
        alarm: tuple[float, Callable[[], None]] | None = None,
    ) -> None:
        """Call done() now and after each commit of another process, until it returns True.

        A commit wakes the wait at once where inotify works (see wakeup.py);
        elsewhere SQLite's data_version counter is read every `poll` seconds,
        which costs microseconds.  Raises WaitTimeout when `timeout` runs out
        first.  `alarm` (seconds, function): the function is called once
        when that long has passed, if the wait is still on.
        """
        limit = None if timeout is None else parse_duration(timeout, "--timeout")
        started = time.monotonic()
        deadline = None if limit is None else started + limit
        alarm_at = None if alarm is None else started + alarm[0]
        store = self.store
        watcher = store.watcher(poll)
        # With inotify a commit wakes us; the slow poll only covers a missed event.
        pause = 0.5 if watcher.live else poll
        last_version = None
        try:
            while True:
                version = store.data_version()
                if version != last_version:
                    last_version = version
                    if done():
                        return
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise WaitTimeout(f"timed out after {limit:g}s")
                if alarm is not None and alarm_at is not None and now >= alarm_at:
                    alarm_at = None
                    alarm[1]()
                    now = time.monotonic()
                wake = [t - now for t in (deadline, alarm_at) if t is not None]
                watcher.wait(max(0.0, min([pause, *wake])))
        finally:
            watcher.close()

    def unserved(self, queues: Iterable[str]) -> list[str]:
        """Those of `queues` that no live daemon serves, in the order given.

        Live: not stopped, a heartbeat (they come every second) within the
        lease, and on this host its process still running: a daemon killed
        with -9 leaves its row until another daemon recovers its jobs.  A
        daemon started without --queues serves them all.
        """
        import socket

        from jobctl.processes import pid_alive

        store = self.store
        now = self.clock()
        host = os.environ.get("JOBCTL_HOST") or socket.gethostname()
        started = {row[0]: row[3] for row in store.other_daemons(0)}
        served: set[str] = set()
        for daemon in (DaemonInfo(*row) for row in store.live_daemons()):
            if now - daemon.heartbeat_at > self.config.lease:
                continue
            if daemon.host == host and not pid_alive(daemon.pid, started.get(daemon.id)):
                continue
            if not daemon.queues:
                return []
            served.update(json.loads(daemon.queues))
        return [name for name in dict.fromkeys(queues) if name not in served]

    def _unserved_alarm(
        self, job_ids: Sequence[int], warn: Callable[[list[str]], None] | None
    ) -> tuple[float, Callable[[], None]] | None:
        """For watch(): SERVED_GRACE seconds in, warn() of the queues of the
        jobs still waiting that no live daemon serves."""
        if warn is None:
            return None

        def look() -> None:
            waiting = []
            try:
                for job_id in job_ids:
                    with contextlib.suppress(NoSuchJob):
                        job = self.store.get(job_id)
                        if job.state not in FINISHED_STATES:
                            waiting.append(job.queue)
                unserved = self.unserved(waiting)
            except JobctlError:
                return  # a busy database: only a warning is lost, the wait goes on
            if unserved:
                warn(unserved)

        return SERVED_GRACE, look

    def run(
        self,
        type: str | None = None,
        payload: Any = None,
        *,
        timeout: str | float | None = None,
        job_timeout: str | float | None = None,
        **options: Any,
    ) -> Any:
        """Add a job, wait for it to end and return its result.

        Raises JobFailed (with the job's error) when it failed or was
        cancelled, and WaitTimeout when `timeout` ran out first (the job goes
        on).  A daemon must be running to run it: when none serves the job's
        queue, a warning goes to the "jobctl" logger (once; the wait goes on).

        Two timeouts: `timeout` bounds this wait only; `job_timeout` ("30s"
        or seconds) is the job's own, stored with it, as add() takes it: the
        daemon stops an attempt that runs longer, and the job fails (or is
        retried).  The other `options` are add()'s.
        """
        job_id = self.add_id(type, payload, job_timeout=job_timeout, **options)
        (job,) = self.wait(job_id, timeout=timeout, on_unserved=_log_unserved)
        if job.state != "succeeded":
            raise JobFailed(job.id, job.state, job.error)
        return job.result

    def follow(self, job_id: int, attempt: int | None = None) -> OutputFollower:
        """A reader of a job's output as it is written (see OutputFollower)."""
        store = self.store
        store.get(job_id)
        return OutputFollower(
            lambda: store.latest_attempt(job_id),
            lambda number: store.attempt_ended(job_id, number),
            lambda number, seen: store.output_after(job_id, number, seen),
            attempt,
        )

    def follow_worker(self, name: str) -> OutputFollower:
        """A reader of a worker's output, run after run."""
        store = self.store
        self._worker_name(name)
        return OutputFollower(
            lambda: store.latest_worker_run(name),
            lambda number: store.worker_run_ended(name, number),
            lambda number, seen: store.worker_output_after(name, number, seen),
            None,
        )

    # -- workers -------------------------------------------------------------

    def workers(self) -> tuple[list[WorkerInfo], list[DaemonInfo]]:
        """The supervised workers, and the daemons that are alive."""
        now = self.clock()
        workers = [WorkerInfo(*row, now=now) for row in self.store.worker_rows()]
        configured = {w.name for w in workers}
        # Declared but never seen by a daemon yet.
        workers += [
            WorkerInfo(name, "stopped", None, None, None, 0, None, None, 0, None, None, None, now)
            for name in self.config.workers
            if name not in configured
        ]
        daemons = [DaemonInfo(*row) for row in self.store.live_daemons()]
        return sorted(workers), daemons

    def worker_request(self, name: str, action: str) -> None:
        """Ask the daemon that runs worker `name` to start, stop or restart it."""
        if action not in ("start", "stop", "restart"):
            raise InputError(f'"{action}" is not start, stop or restart')
        self._worker_name(name)
        if not self.store.request_worker(name, action):
            raise InputError(f"worker {name} has not been seen by a daemon yet: start one")

    def _worker_name(self, name: str) -> None:
        if name in self.config.workers or any(r[0] == name for r in self.store.worker_rows()):
            return
        known = ", ".join(sorted(self.config.workers)) or "none"
        raise InputError(f'unknown worker "{name}" (jobs.toml declares: {known})')

    def schedules(self) -> list[ScheduleInfo]:
        """Each scheduled type: its next due time and how its last run went."""
        from jobctl.schedule import Schedule

        now = self.clock()
        rows = self.store.schedule_rows()
        infos = []
        for job_type in self.config.jobs.values():
            if not job_type.scheduled:
                continue
            schedule = Schedule(job_type)
            # The row's last_due also moves for skipped runs and the moment a
            # schedule was first seen: "last" is the latest run actually queued.
            seen_due, last_job_id, _, last_due = rows.get(job_type.name, (None,) * 4)
            last_job = None
            if last_job_id is not None:
                with contextlib.suppress(NoSuchJob):  # purged since
                    last_job = self.store.get(last_job_id)
            infos.append(
                ScheduleInfo(
                    name=job_type.name,
                    expression=schedule.expression,
                    timezone=schedule.zone,
                    catch_up=schedule.catch_up,
                    overlap=schedule.overlap,
                    next_run=schedule.next_or_none(max(now, seen_due or now)),
                    last_due=last_due,
                    last_job=last_job,
                )
            )
        return infos

    # -- changing ----------------------------------------------------------

    def cancel(self, *job_ids: int) -> dict[int, str]:
        """Cancel jobs; {id: "cancelled" | "cancelling"} (a running job's daemon kills it)."""
        return self.store.cancel(job_ids, self.clock())

    def retry(self, *job_ids: int) -> list[int]:
        """Queue failed or cancelled jobs again, keeping their ids and history."""
        return self.store.retry(job_ids, self.clock())

    def restart(self, job_id: int) -> Job:
        """Add a new job like an ended one (pueue's restart); the new job.

        Its type or command, payload, queue, priority, max_attempts, timeout,
        cwd, env, unique key, --after parents and labels are the old job's, as
        stored; it may run now.  A unique key held by a queued or running job
        gives that job, as add() does.  WrongState if the job has not ended.
        """
        old = self.store.get(job_id)
        if old.state not in FINISHED_STATES:
            raise WrongState(
                f"job {job_id} is {old.state}; only ended jobs"
                " (succeeded, failed or cancelled) can be restarted"
            )
        if old.type is not None:
            self._job_type(old.type)  # gone from jobs.toml: refused, as add() refuses it
        now = self.clock()
        job = NewJob(
            type=old.type,
            payload=self._payload_json(old.payload),
            queue=old.queue,
            priority=old.priority,
            run_at=now,
            max_attempts=old.max_attempts,
            timeout=old.timeout,
            unique_key=old.unique_key,
            command=old.command,
            shell=old.shell,
            cwd=old.cwd,
            env=old.env,
            after=old.parents,
            labels=old.labels,
        )
        try:
            return self.store.add_and_get(job, now)
        except NoSuchJob as exc:
            raise WrongState(
                f"job {job_id} runs after job {exc.job_id}, which is purged: add it anew"
            ) from None

    def retry_failed(
        self,
        *,
        type: str | None = None,
        queue: str | None = None,
        types: Sequence[str] | None = None,
        labels: Iterable[str] | None = None,
    ) -> list[int]:
        labels = check_labels(labels) or None
        ids = self.store.failed_ids(type=type, queue=queue, types=types, labels=labels)
        return self.store.retry(ids, self.clock()) if ids else []

    def cancel_labelled(self, labels: Iterable[str]) -> dict[int, str]:
        """Cancel every queued or running job that has all of `labels`, as cancel()."""
        wanted = check_labels(labels)
        if not wanted:
            raise InputError("give at least one label")
        return self.store.cancel_labelled(wanted, self.clock())

    def purge(
        self,
        older_than: str | float,
        states: Sequence[str] = FINISHED_STATES,
        types: Sequence[str] | None = None,
        labels: Iterable[str] | None = None,
    ) -> int:
        """Delete finished jobs (and their history) older than `older_than`; how many.

        `types`: only jobs whose type one of these globs matches (see type_globs.py);
        `labels`: only jobs that have every one of them.
        """
        _check_states(states, finished_only=True)
        cutoff = self.clock() - parse_duration(older_than, "--older-than")
        return self.store.purge(cutoff, list(states), types, check_labels(labels) or None)

    def purgeable(
        self,
        older_than: str | float,
        states: Sequence[str] = FINISHED_STATES,
        types: Sequence[str] | None = None,
        labels: Iterable[str] | None = None,
    ) -> dict[str, int]:
        """What purge() would delete, per state; nothing is deleted."""
        _check_states(states, finished_only=True)
        cutoff = self.clock() - parse_duration(older_than, "--older-than")
        labels = check_labels(labels) or None
        return self.store.purge_count(cutoff, list(states), types, labels)

    def pause(self, queue: str) -> None:
        self.store.set_paused(queue, True)

    def resume(self, queue: str) -> None:
        self.store.set_paused(queue, False)

    def set_parallel(self, queue: str, limit: int | None) -> None:
        """Let `limit` (>= 1) of `queue`'s jobs run at once; None: jobs.toml's value again."""
        from jobctl.limits import MAX_PARALLEL, in_range

        _check_queue(queue)
        if limit is not None:
            in_range(limit, 1, MAX_PARALLEL, "parallel")
        self.store.set_parallel(queue, limit)

    # -- moving a queue between databases ------------------------------------

    def dump(self) -> Iterator[str]:
        """The database as the lines of `jobctl dump` (no newlines), from one snapshot."""
        return self.store.dump(self.clock())

    def load(self, lines: Iterable[str | bytes]) -> dict[str, int]:
        """Load a dump's lines, keeping ids, all or nothing; how many of each kind."""
        return self.store.load(lines)


STATES = ("queued", "running", "succeeded", "failed", "cancelled")


class Stats(dict[str, dict[str, int]]):
    """Queue.stats(): a dict per queue, as before, plus `all`, the totals."""

    def __init__(self, per_queue: dict[str, dict[str, int]], totals: dict[str, int]) -> None:
        super().__init__(per_queue)
        self.all = totals


def _counts(per_state: dict[str, int]) -> dict[str, int]:
    """Every state, zeros included, and their total."""
    counts = {s: per_state.get(s, 0) for s in STATES}
    return counts | {"total": sum(per_state.values())}


class WorkerInfo(NamedTuple):
    """What `jobctl workers` shows of one worker."""

    name: str
    state: str
    daemon_id: int | None
    pid: int | None
    started_at: float | None
    restarts: int
    last_exit: int | None  # exit status, or -signal
    last_exit_at: float | None
    held: int
    next_start_at: float | None
    requested: str | None
    runs: int | None
    now: float

    def last_exit_text(self) -> str:
        """'exit 1', 'signal 9', or '' before the first run ended."""
        if self.last_exit is None:
            return ""
        return f"signal {-self.last_exit}" if self.last_exit < 0 else f"exit {self.last_exit}"

    def to_json(self) -> dict[str, Any]:
        running = self.state == "running"
        return {
            "name": self.name,
            "state": self.state,
            "daemon_id": self.daemon_id,
            "pid": self.pid if running else None,
            "started_at": iso(self.started_at) if running else None,
            "uptime_seconds": round(self.now - self.started_at, 3)
            if running and self.started_at
            else None,
            "restarts": self.restarts,
            "runs": self.runs or 0,
            "last_exit": self.last_exit,
            "last_exit_at": iso(self.last_exit_at),
            "next_start_at": iso(self.next_start_at),
            "held": bool(self.held),
            "requested": self.requested,
        }


class DaemonInfo(NamedTuple):
    id: int
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    queues: str | None
    running_jobs: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "started_at": iso(self.started_at),
            "heartbeat_at": iso(self.heartbeat_at),
            "queues": json.loads(self.queues) if self.queues else None,
            "running_jobs": self.running_jobs,
        }


class ScheduleInfo(NamedTuple):
    """What `jobctl schedules` shows of one scheduled type."""

    name: str
    expression: str
    timezone: str
    catch_up: str
    overlap: str
    next_run: float | None  # None: the engine cannot compute it (the daemon logs why)
    last_due: float | None  # the due time of the latest run queued (None: never ran)
    last_job: Job | None  # the job of the latest run

    def to_json(self) -> dict[str, Any]:
        job = self.last_job
        return {
            "name": self.name,
            "expression": self.expression,
            "timezone": self.timezone,
            "catch_up": self.catch_up,
            "overlap": self.overlap,
            "next_run": iso(self.next_run),
            "last_due": iso(self.last_due),
            "last_job_id": job.id if job else None,
            "last_state": job.state.value if job else None,
            "last_finished_at": iso(job.finished_at) if job else None,
        }


class OutputFollower:
    """Reads output as it grows: a job's attempts (or a worker's runs) from the
    latest on, or one of them only.

    Each read() returns what is new as (number, bytes lost, data): "lost" is
    what output_limit dropped before the follower could read it.
    """

    def __init__(
        self,
        latest: Callable[[], int | None],
        ended: Callable[[int], bool | None],
        pieces_after: Callable[[int, int], list[tuple[int, bytes]]],
        number: int | None,
    ) -> None:
        self.latest = latest
        self.ended = ended  # None: not begun
        self.pieces_after = pieces_after  # the stored (start, bytes) that end past a byte
        self.one_attempt = number is not None
        self.number = number if number is not None else latest()
        self.seen = 0  # bytes of `number` already returned
        self.attempt_ended = False

    def read(self) -> list[tuple[int, int, bytes]]:
        chunks: list[tuple[int, int, bytes]] = []
        while True:
            if self.number is None:
                self.number = self.latest()
                if self.number is None:
                    return chunks  # not started yet
            # Whether it ended before its pieces: an attempt's output is
            # stored before or with its end, so none comes after this says so.
            ended = self.ended(self.number)
            if ended is None:
                return chunks
            self.attempt_ended = ended
            for start, data in self.pieces_after(self.number, self.seen):
                lost = max(0, start - self.seen)  # deleted before this read came
                chunks.append((self.number, lost, data[max(0, self.seen - start) :]))
                self.seen = start + len(data)
            if not self.attempt_ended or self.one_attempt:
                return chunks
            if self.ended(self.number + 1) is None:
                return chunks
            self.number, self.seen = self.number + 1, 0


# One encoder for every payload: json.dumps() with options builds a new one per call.
_encode_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_new_tuple = tuple.__new__

# A batch's spool (see Queue._add_batch) stays in memory up to this size, and
# then goes to an anonymous temporary file; lines are written to it in
# pieces of about SPOOL_PIECE characters.
SPOOL_IN_MEMORY = 4 << 20
SPOOL_PIECE = 256 << 10


def unserved_message(queues: Sequence[str]) -> str:
    """What a wait says when no live daemon serves these queues; made safe for a terminal."""
    from jobctl.render import safe

    names = ", ".join(f'"{safe(name)}"' for name in queues)
    what = "queue" if len(queues) == 1 else "queues"
    return f"no daemon is serving {what} {names} (start one with: jobctl daemon)"


def _log_unserved(queues: list[str]) -> None:
    # Queue.run() is library code: a warning on the "jobctl" logger, which
    # Python prints on stderr until the application configures logging.
    import logging

    logging.getLogger("jobctl").warning("%s", unserved_message(queues))


def _spool(spool: Any, texts: list[str]) -> int:
    """Write `texts` to `spool`, one a line, and empty the list; how many there were."""
    count = len(texts)
    if count:
        texts.append("")  # the last line's newline
        try:
            spool.write("\n".join(texts).encode("ascii"))
        except OSError as exc:  # the temporary folder is full, say
            raise JobctlError(f"cannot spool the batch to a temporary file: {exc}") from None
        texts.clear()
    return count


def _keyed_jobs(template: NewJob, spool: Any) -> Iterator[NewJob]:
    """The jobs of a spool of `key-as-JSON TAB payload` lines (see Queue._add_batch)."""
    for line in spool:
        key, _, text = line[:-1].decode("ascii").partition("\t")
        yield template._replace(payload=text, unique_key=json.loads(key))


def _first(*values: Any) -> Any:
    """The first value that is not None (a default's chain: job, type, top level)."""
    return next((value for value in values if value is not None), None)


def _unique_key(unique: str | bool | None) -> str | None:
    if unique is None or unique is False:
        return None
    if unique is True:
        return ""  # one queued-or-running job of the type
    return str(unique)


def _check_queue(queue: str) -> None:
    """A queue's name is some printable text: InputError otherwise."""
    if not queue.strip():
        raise InputError("--queue needs a name")
    if not queue.isprintable():
        raise InputError(f"--queue: {queue!r} is not a name (printable UTF-8 text)")


def _utf8(text: str, what: str) -> str:
    """`text`, if it can be stored: not lone surrogates (bytes that were not UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{what}: {text!r} is not UTF-8 text") from None
    return text


def _fill(template: str, payload: Any, what: str) -> str:
    check_template(template)
    for name in fields(template):
        if not isinstance(payload, dict) or name not in payload:
            raise InputError(f'the payload has no field "{name}", which {what} "{template}" uses')
    try:
        return template.format_map(payload)
    except (ValueError, TypeError, IndexError, AttributeError) as exc:  # e.g. {n:d} of a string
        raise InputError(f'cannot fill {what} "{template}" from the payload: {exc}') from None


@lru_cache(maxsize=64)
def _command_fields(command: str) -> tuple[str, ...]:
    """The {field} placeholders of a type's command, split as the daemon splits it."""
    return tuple(name for part in shlex.split(command) for name in fields(part))


def _check_placeholders(job_type: JobType, payload: Any) -> None:
    for name in _command_fields(job_type.command or ""):
        if not isinstance(payload, dict) or name not in payload:
            raise InputError(
                f'the payload has no field "{name}", which the command of "{job_type.name}" uses'
            )
    for part in _command_parts(job_type.command or ""):
        try:
            filled = part.format_map(payload)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
            raise InputError(
                f'cannot fill "{part}" of the command of "{job_type.name}": {exc}'
            ) from None
        nul_field(part, filled, job_type.name)
        if not job_type.allow_dash_values:
            dash_field(part, filled, job_type.name)


@lru_cache(maxsize=64)
def _command_parts(command: str) -> tuple[str, ...]:
    """The arguments of a type's command that hold a {field}."""
    return tuple(part for part in shlex.split(command) if fields(part))


def _check_states(states: Sequence[str], finished_only: bool = False) -> None:
    allowed = FINISHED_STATES if finished_only else ("queued", "running", *FINISHED_STATES)
    for state in states:
        if state not in allowed:
            raise InputError(f'"{state}" is not a state here (use {", ".join(allowed)})')
