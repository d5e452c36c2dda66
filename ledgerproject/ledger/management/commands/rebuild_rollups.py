"""Recomputes the rollups (the counts pages show) and the latest-entry rows of every ledger, or the named ones, from their tables."""

from django.core.management.base import BaseCommand, CommandError

from ledgerproject.ledger import latest, rollups
from ledgerproject.ledger.registry import get_ledger, ledger_models


class Command(BaseCommand):
    help = "Rebuild the rollups and latest-entry rows of every ledger (or the named ones) from each table."

    def add_arguments(self, parser):
        parser.add_argument("ledgers", nargs="*", help="ledger names (default: all)")

    def handle(self, *args, ledgers=(), **options):
        try:
            models = [get_ledger(name) for name in ledgers] if ledgers else ledger_models()
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        for model in models:
            counted = rollups.rebuild(model)
            self.stdout.write(f"{model.ledger_name}: rollups rebuilt from {counted} entries")
            for kept, rows in latest.rebuild_all(model).items():
                self.stdout.write(f"{model.ledger_name}: {rows} current rows rebuilt ({kept._meta.label})")
