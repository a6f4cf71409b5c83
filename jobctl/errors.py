"""The exceptions jobctl raises.

Library code raises these and never prints; the CLI turns one into a single
line on stderr and the exit code the class carries.
"""

from __future__ import annotations


class JobctlError(Exception):
    """Something went wrong."""

    exit_code = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)


class InputError(JobctlError):
    """The input is not valid."""

    exit_code = 2


class Interrupted(Exception):  # noqa: N818 - named for what the job is, as the state is
    """Raised by a handler to give its job back without using an attempt:
    the job is queued again, as when a daemon stops in the middle of it.

    For a handler that sees ctx.shutting_down() and cannot finish in time.
    """


class ConfigError(InputError):
    """The configuration is not valid."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        first = self.problems[0] if self.problems else "the configuration is not valid"
        more = len(self.problems) - 1
        super().__init__(
            first + (f" (and {more} more problem(s); run `jobctl check`)" if more else "")
        )


class NoSuchJob(JobctlError):
    """No such job."""

    exit_code = 3

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(f"no job with id {job_id}")


class DatabaseError(JobctlError):
    """The database cannot be used."""


class DiskFull(DatabaseError):
    """The disk holding the database is full."""


class DatabaseBusy(DatabaseError):
    """Another process holds the database's lock."""


class WrongState(JobctlError):
    """The job is not in a state that allows this."""


class JobFailed(JobctlError):
    """The job failed."""

    def __init__(
        self, job_id: int, state: str, error: str | None, exit_status: int | None = None
    ) -> None:
        self.job_id = job_id
        self.state = state
        self.error = error
        # `jobctl wait` exits with a failed command's own status (1-123).
        if exit_status is not None and 1 <= exit_status <= 123:
            self.exit_code = exit_status
        super().__init__(f"job {job_id} {state}" + (f": {error}" if error else ""))


class WaitTimeout(JobctlError):
    """Waiting ran out of time."""

    exit_code = 124
