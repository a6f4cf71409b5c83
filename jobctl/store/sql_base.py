"""The primitives under the code both stores share (see sql_store.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from jobctl.errors import NoSuchJob
from jobctl.models import Job, State
from jobctl.store.contract import Store
from jobctl.store.rows import job_from_row


class DuplicateJob(Exception):
    """An insert that a unique index refused: the job's key or its schedule's due time."""


class SqlBase(Store):
    """The primitives a dialect gives the shared code."""

    def _all(self, name: str, params: Any = None) -> list[tuple[Any, ...]]:
        """The rows of named statement `name`."""
        raise NotImplementedError

    def _exec(self, name: str, params: Any = None) -> int:
        """Run named statement `name`; the rows it changed."""
        raise NotImplementedError

    def _insert_id(self, name: str, params: Any) -> int:
        """Run an INSERT of one row; its id.  DuplicateJob if a unique index refused it."""
        raise NotImplementedError

    def _writing(self) -> AbstractContextManager[None]:
        """A write transaction, or a part of transaction()'s."""
        raise NotImplementedError

    def _exec_many(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Run named statement `name` once per row of parameters (a bulk insert)."""
        raise NotImplementedError

    def _reading(self) -> AbstractContextManager[None]:
        """A read-only transaction: every read inside sees one snapshot."""
        raise NotImplementedError

    def _value(self, name: str, params: Any = None) -> Any:
        rows = self._all(name, params)
        return rows[0][0] if rows else None

    def _get_in_txn(self, job_id: int) -> Job:
        return job_from_row(self._all("get_job", (job_id,))[0])

    def _state(self, job_id: int) -> State:
        rows = self._all("job_state", {"id": job_id})
        if not rows:
            raise NoSuchJob(job_id)
        return State(rows[0][0])

    def _event(
        self, job_id: int, at: float, kind: str, attempt: int | None, detail: str | None
    ) -> None:
        params = {"job_id": job_id, "at": at, "kind": kind, "attempt": attempt, "detail": detail}
        self._exec("add_event", params)
