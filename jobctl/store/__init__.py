"""The job store: the only code that runs SQL (see contract.py for what it promises)."""

from jobctl.store.contract import (
    WORKER_RUNS_WITH_OUTPUT,
    ChangeWatcher,
    LastRun,
    Piece,
    PurgeBatch,
    Store,
    describe_db,
    is_postgres_url,
)

__all__ = [
    "WORKER_RUNS_WITH_OUTPUT",
    "ChangeWatcher",
    "LastRun",
    "Piece",
    "PurgeBatch",
    "Store",
    "describe_db",
    "is_postgres_url",
]
