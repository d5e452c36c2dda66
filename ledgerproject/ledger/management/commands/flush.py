"""`flush`, refused on ledger tables except for a throwaway test database (see ledger/reset.py)."""

from django.core.management.commands import flush
from django.db import connections

from ledgerproject.ledger.reset import ledger_triggers_lifted


class Command(flush.Command):
    def handle(self, **options):
        with ledger_triggers_lifted(connections[options["database"]]):
            return super().handle(**options)
