"""Running a hot statement on its own on PostgreSQL: autocommit while the connection is idle.

A statement that is atomic by itself and the first of its session can run as its own transaction
(psycopg autocommit): that saves the ``BEGIN`` and ``COMMIT`` round trips, and the session's later
commit has nothing to do. Anywhere else (SQLite, or a transaction already open) it runs in the
session's transaction as usual.

Example::

    with alone_if_idle(dbapi_connection) as alone:
        cursor.execute(sql, params)        # its own transaction when ``alone``
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["alone_if_idle", "postgres_idle"]


def postgres_idle(dbapi: Any) -> bool:
    """True for a psycopg connection outside any transaction (nothing sent since the last commit)."""
    from psycopg import Connection  # only needed (and installed) with PostgreSQL
    from psycopg.pq import TransactionStatus

    return isinstance(dbapi, Connection) and dbapi.info.transaction_status == TransactionStatus.IDLE


@contextlib.contextmanager
def alone_if_idle(dbapi: Any) -> Iterator[bool]:
    """Autocommit for the block when ``dbapi`` is an idle psycopg connection; yields whether it is."""
    alone = postgres_idle(dbapi)
    if alone:
        dbapi.autocommit = True
    try:
        yield alone
    finally:
        if alone:
            dbapi.autocommit = False
