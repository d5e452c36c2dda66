"""Advisory locks: the per-ledger append lock (one writer at a time, held only for the insert), the one
order in which several ledgers' locks are taken, and job locks."""

import hashlib
from contextlib import contextmanager

from django.db import DatabaseError


def advisory_key(kind, name):
    """The stable signed 64-bit key of a PostgreSQL advisory lock: SHA-256 of "kind:name", first 8 bytes.
    The kind ("ledger" for appends, "merkle" for tree integration, "job" for scheduled jobs) keeps
    the locks of one name apart."""
    return int.from_bytes(hashlib.sha256(f"{kind}:{name}".encode()).digest()[:8], "big", signed=True)


def lock_ledger(connection, ledger_name):
    """Take the ledger's lock for the rest of the current transaction.

    PostgreSQL: a transaction-scoped advisory lock (released at commit or rollback; UNIQUE(seq)
    is the backstop). SQLite: the connection begins its transactions IMMEDIATE (settings), so the
    database write lock is already held once the transaction started.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key("ledger", ledger_name)])
    elif connection.vendor == "sqlite":
        if not connection.in_atomic_block:
            raise RuntimeError("lock_ledger must run inside transaction.atomic()")
    else:  # pragma: no cover - settings refuse other engines
        raise RuntimeError(f"unsupported database vendor {connection.vendor}")


def lock_ledgers(connection, names, holding=None):
    """Take several ledgers' locks for the rest of the transaction, in the one project-wide order:
    sorted by ledger name. Two writers that each need several locks then never wait on each other
    in a cycle.

    `holding` names a ledger whose lock the caller already holds (check_append_allowed runs under
    its own ledger's lock): every lock taken after it must sort after it, or a writer taking the
    same locks in the project order could be waiting on us while we wait on it.
    """
    for name in _in_lock_order(names, holding):
        lock_ledger(connection, name)


def _in_lock_order(names, holding):
    wanted = sorted(set(names))
    early = [name for name in wanted if holding is not None and name < holding]
    if early:
        raise RuntimeError(
            f"holding the lock of {holding!r}, the locks of {early} may not be taken: they come before it"
        )
    return wanted


def lock_another_ledger_then_fetch(connection, ledger_name, holding, sql, params):
    """lock_ledgers(connection, [ledger_name], holding) and then the SELECT `sql`, in one round trip where
    the connection allows it (lock_ledger_then_fetch): the rows it read under that lock."""
    _in_lock_order([ledger_name], holding)
    return lock_ledger_then_fetch(connection, ledger_name, sql, params)


def sends_statements_together(connection):
    """Whether `connection` can send several statements, with their parameters, in one message: PostgreSQL
    with client-side binding (Django's default; server-side binding prepares one statement at a time)."""
    return connection.vendor == "postgresql" and not connection.settings_dict.get("OPTIONS", {}).get(
        "server_side_binding"
    )


def lock_ledger_then_fetch(connection, ledger_name, sql, params):
    """Take the ledger's lock, then run the SELECT `sql`: its rows, read under the lock."""
    return lock_ledger_then_fetch_all(connection, ledger_name, [(sql, params)])[0]


def lock_ledger_then_fetch_all(connection, ledger_name, statements):
    """Take the ledger's lock, then run each (sql, params) SELECT of `statements` in turn: a list of each one's
    rows, all read under the lock.

    PostgreSQL with client-side binding (Django's default) sends the lock and the statements in one message:
    one round trip fewer on every append, and the lock is held that much shorter. They stay separate
    statements, so each read's snapshot is taken after the lock was granted (READ COMMITTED takes one
    per statement) and sees every append committed before.
    """
    found = []
    if not sends_statements_together(connection):
        lock_ledger(connection, ledger_name)
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                found.append(cursor.fetchall())
        return found
    text = "; ".join(["SELECT pg_advisory_xact_lock(%s)", *(sql for sql, _ in statements)])
    values = [advisory_key("ledger", ledger_name), *(value for _, params in statements for value in params)]
    with connection.cursor() as cursor:
        cursor.execute(text, values)
        for _ in statements:
            if not cursor.nextset():  # pragma: no cover - PostgreSQL answers every statement
                raise RuntimeError("a read after the ledger lock returned no result")
            found.append(cursor.fetchall())
    return found


def job_key(name):
    """The advisory-lock key of a scheduled job (distinct from every ledger's append lock)."""
    return advisory_key("job", name)


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
