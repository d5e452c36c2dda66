"""Advisory locks: the per-ledger append lock (one writer at a time, held only for the insert), and job locks."""

import hashlib
from contextlib import contextmanager

from django.db import DatabaseError


def _advisory_key(ledger_name):
    # A stable signed 64-bit key per ledger name for pg_advisory_xact_lock.
    return int.from_bytes(hashlib.sha256(f"ledger:{ledger_name}".encode()).digest()[:8], "big", signed=True)


def lock_ledger(connection, ledger_name):
    """Take the ledger's lock for the rest of the current transaction.

    PostgreSQL: a transaction-scoped advisory lock (released at commit or rollback; UNIQUE(seq)
    is the backstop). SQLite: the connection begins its transactions IMMEDIATE (settings), so the
    database write lock is already held once the transaction started.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_advisory_key(ledger_name)])
    elif connection.vendor == "sqlite":
        if not connection.in_atomic_block:
            raise RuntimeError("lock_ledger must run inside transaction.atomic()")
    else:  # pragma: no cover - settings refuse other engines
        raise RuntimeError(f"unsupported database vendor {connection.vendor}")


def lock_ledger_then_fetch(connection, ledger_name, sql, params):
    """Take the ledger's lock, then run the SELECT `sql`: its rows, read under the lock.

    PostgreSQL with client-side binding (Django's default) sends both statements in one message: one
    round trip fewer on every append, and the lock is held that much shorter. They stay two
    statements, so the read's snapshot is taken after the lock was granted (READ COMMITTED takes one
    per statement) and sees every append committed before.
    """
    if connection.vendor != "postgresql" or connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"):
        lock_ledger(connection, ledger_name)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_advisory_xact_lock(%s); {sql}", [_advisory_key(ledger_name), *params])
        if not cursor.nextset():  # pragma: no cover - PostgreSQL always answers both statements
            raise RuntimeError("the read after the ledger lock returned no result")
        return cursor.fetchall()


def job_key(name):
    """The advisory-lock key of a scheduled job (distinct from every ledger's append lock)."""
    return int.from_bytes(hashlib.sha256(f"job:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def job_lock(connection, name):
    """Hold the named job's lock for the block if no one else holds it; yields whether this run got it.

    PostgreSQL: a session-level advisory lock (pg_try_advisory_lock, never waiting), so of several
    servers that run the same scheduled job at the same moment one does the work and the others skip.
    It is released at the end of the block, or by the server if the connection drops. SQLite: one file
    on one machine, whose write lock already serializes the work; always held.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = job_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:  # the connection is gone, and the lock with it
                pass
