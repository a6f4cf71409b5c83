"""The code both stores share: the contract's operations over named SQL.

Each dialect names the same statements alike (named_sql.py), so the logic
of adding, cancelling, finishing and the rest is written once, in the parts
SqlStore is made of, over the few primitives of sql_base.SqlBase that a
dialect provides.  What a dialect does its own way (bulk inserts, claims,
listings, waking up) it writes in its own store: sqlite.py, postgres.py.
"""

from __future__ import annotations

from jobctl.store.adding import Adding
from jobctl.store.changing import Changing
from jobctl.store.claiming import Claiming
from jobctl.store.daemons import Daemons
from jobctl.store.finishing import Finishing
from jobctl.store.reading import Reading
from jobctl.store.transfer import Transfer


class SqlStore(Adding, Reading, Changing, Finishing, Daemons, Claiming, Transfer):
    """The contract's operations that both dialects run alike."""
