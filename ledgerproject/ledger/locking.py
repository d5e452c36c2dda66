"""The per-ledger append lock: one writer at a time per ledger, held only for the insert."""

import hashlib


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
