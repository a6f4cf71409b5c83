"""Waiting on the command line: `jobctl add --wait`, `jobctl wait`, `jobctl logs -f`.

Shared by the fast `add` path and the typer app, so no typer here.  Output
is shown as it is written: escaped for a terminal, raw bytes when piped.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Callable
from typing import BinaryIO, TextIO

from jobctl.api import OutputFollower, Queue, unserved_message
from jobctl.errors import JobctlError, JobFailed
from jobctl.models import FINISHED, Job


class OutputPrinter:
    """Writes what an OutputFollower reads, marking attempts and dropped bytes."""

    def __init__(self, follower: OutputFollower, stdout: TextIO, stderr: TextIO) -> None:
        self.follower = follower
        self.stdout = stdout
        self.stderr = stderr
        self.tty = stdout.isatty()
        self.shown_attempt: int | None = None
        # A character split between two reads must not come out as two escapes.
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")

    def pump(self) -> None:
        from jobctl.render import printable_text

        for number, lost, data in self.follower.read():
            if number != self.shown_attempt:
                if self.shown_attempt is not None:
                    self._note(f"attempt {number}")
                self.shown_attempt = number
                self.decoder.reset()
            if lost:
                self._note(f"{lost} bytes not kept (output_limit)")
            if self.tty:
                self.stdout.write(printable_text(self.decoder.decode(data)))
                self.stdout.flush()
            else:
                self.stdout.flush()
                buffer: BinaryIO = self.stdout.buffer
                buffer.write(data)
                buffer.flush()

    def _note(self, text: str) -> None:
        self.stdout.flush()
        self.stderr.write(f"-- {text} --\n")
        self.stderr.flush()


def wait_for_jobs(
    queue: Queue,
    job_ids: list[int],
    timeout: str | None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> list[Job]:
    """Wait for the jobs to end, showing a single job's output on a terminal.

    Raises JobFailed (exit status: the command's own, or 1) or a JobctlError
    when a job did not succeed, WaitTimeout when the timeout ran out.
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    printer = None
    if len(set(job_ids)) == 1 and stdout.isatty():
        printer = OutputPrinter(queue.follow(job_ids[0]), stdout, stderr)
    jobs = queue.wait(
        *job_ids,
        timeout=timeout,
        on_change=printer.pump if printer else None,
        on_unserved=warn_unserved(stderr),
    )
    if printer is not None:
        printer.pump()
    check_succeeded(queue, jobs)
    return jobs


def check_succeeded(queue: Queue, jobs: list[Job]) -> None:
    unsuccessful = [job for job in jobs if job.state != "succeeded"]
    if not unsuccessful:
        return
    if len(jobs) == 1:
        job = jobs[0]
        attempts = queue.attempts(job.id)
        status = attempts[-1].exit_status if attempts and job.state == "failed" else None
        raise JobFailed(job.id, job.state, job.error, status)
    listed = ", ".join(f"job {job.id} {job.state}" for job in unsuccessful[:5])
    more = f" and {len(unsuccessful) - 5} more" if len(unsuccessful) > 5 else ""
    raise JobctlError(f"{len(unsuccessful)} of {len(jobs)} jobs did not succeed: {listed}{more}")


def follow_logs(queue: Queue, job_id: int, attempt: int | None) -> None:
    """`jobctl logs -f`: print output as it comes until the attempt (or the job) ends."""
    follower = queue.follow(job_id, attempt)
    printer = OutputPrinter(follower, sys.stdout, sys.stderr)
    if attempt is not None:

        def attempt_ended() -> bool:
            printer.pump()
            if follower.attempt_ended:
                return True
            # An attempt that has not begun never will once the job has ended.
            job = queue.get(job_id)
            return job.state in FINISHED and attempt > job.attempts_total

        queue.watch(attempt_ended, alarm=queue._unserved_alarm([job_id], warn_unserved(sys.stderr)))
        return
    queue.wait(job_id, on_change=printer.pump, on_unserved=warn_unserved(sys.stderr))
    printer.pump()


def warn_unserved(stderr: TextIO) -> Callable[[list[str]], None]:
    """One line on stderr when no live daemon serves the queues waited on:
    a warning, the wait goes on and the exit status is the jobs'."""

    def warn(queues: list[str]) -> None:
        stderr.write(f"jobctl: warning: {unserved_message(queues)}\n")
        stderr.flush()

    return warn


def show_worker_output(queue: Queue, name: str, follow: bool) -> None:
    """`jobctl logs --worker NAME [-f]`: its latest run's output; -f follows run
    after run until interrupted, like `tail -f`."""
    printer = OutputPrinter(queue.follow_worker(name), sys.stdout, sys.stderr)
    printer.pump()
    if not follow:
        return

    def never_done() -> bool:
        printer.pump()
        return False

    queue.watch(never_done)
