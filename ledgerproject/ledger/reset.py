"""The one path that may empty ledger tables: resetting a throwaway test database.

Django's test runner empties tables between transactional tests with the `flush` command; the
append-only triggers refuse that. Only when settings.LEDGER_ALLOW_TEST_RESET is true (the test
settings, never production) are the triggers lifted for the flush and put back right after. In
production the flush is refused before anything runs, and the database role has no right to touch
triggers anyway.
"""

from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError

from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.triggers import triggers_lifted


def append_only_models():
    """Ledger models, plus other tables that carry the append-only triggers (`append_only = True`)."""
    extra = [
        m
        for m in apps.get_models()
        if getattr(m, "append_only", False) and not m._meta.proxy and m not in ledger_models()
    ]
    return [*ledger_models(), *extra]


def ledger_tables(connection):
    present = set(connection.introspection.table_names())
    return [m._meta.db_table for m in append_only_models() if m._meta.db_table in present]


@contextmanager
def ledger_triggers_lifted(connection):
    tables = ledger_tables(connection)
    if tables and not settings.LEDGER_ALLOW_TEST_RESET:
        raise CommandError(
            "Refusing to flush: ledger tables are append-only (" + ", ".join(tables) + "). "
            "Only a test database (LEDGER_ALLOW_TEST_RESET) may be reset."
        )
    with triggers_lifted(connection, tables):
        yield
