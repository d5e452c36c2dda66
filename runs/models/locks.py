"""The order in which paths that take several of these ledgers' locks take them."""

from django.db import connections, router

from ledgerproject.ledger.locking import lock_ledger

# Every path that takes more than one of these ledgers' locks takes them in this order, so two
# writers never wait on each other in a cycle (an event append holds run_events, then run_outcomes).
LOCK_ORDER = ("run_events", "run_outcomes", "runs", "outputs", "blobs", "blob_changes")


def lock_ledgers(using, *names):
    """Take several ledgers' locks in the project-wide order (inside the caller's transaction)."""
    connection = connections[using]
    for name in sorted(set(names), key=LOCK_ORDER.index):
        lock_ledger(connection, name)


def _db_for(model):
    return router.db_for_write(model)
