"""The code both stores share: the contract's operations over named SQL.

Each dialect names the same statements alike (named_sql.py), so the logic
of adding, cancelling, finishing and the rest is written once, in the parts
SqlStore is made of, over the few primitives of sql_base.SqlBase that a
dialect provides.  What a dialect does its own way (bulk inserts, claims,
listings, waking up) it writes in its own store: sqlite.py, postgres.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from jobctl.store.adding import Adding
from jobctl.store.changing import Changing
from jobctl.store.claiming import Claiming
from jobctl.store.daemons import Daemons
from jobctl.store.finishing import Finishing
from jobctl.store.reading import Reading


class SqlStore(Adding, Reading, Changing, Finishing, Daemons, Claiming):
    """The contract's operations that both dialects run alike."""

    # dump and load: transfer.py's functions, imported on first use: with the
    # dump format's checks they would cost `jobctl add`, which never needs
    # them, over a millisecond of start-up (tests/test_fastadd.py pins this).
    def dump(self, now: float) -> Iterator[str]:
        from jobctl.store import transfer

        return transfer.dump(self, now)

    def load(self, lines: Iterable[str | bytes]) -> dict[str, int]:
        from jobctl.store import transfer

        return transfer.load(self, lines)
