"""Re-walks every ledger's hash chain (or the named ones); exits non-zero if any chain is broken."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ledgerproject.ledger.chain import record_check, verify_chain, verify_links
from ledgerproject.ledger.registry import get_ledger, ledger_models


class Command(BaseCommand):
    help = "Verify the hash chain of every ledger (or the named ones)."

    def add_arguments(self, parser):
        parser.add_argument("ledgers", nargs="*", help="ledger names (default: all)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--links-only",
            action="store_true",
            help="only re-hash the stored canonical forms (fast); skip comparing them with the columns",
        )

    def handle(self, *names, ledgers=(), no_progress=False, links_only=False, **options):
        try:
            models = [get_ledger(name) for name in ledgers] if ledgers else ledger_models()
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        broken = []
        for model in models:
            total = model._base_manager.count()
            with tqdm(total=total, desc=model.ledger_name, unit="entry", disable=no_progress, file=self.stderr) as bar:
                result = (verify_links if links_only else verify_chain)(model, progress=bar.update)
            record_check(result, checked_by="verify_ledgers")
            if result.ok:
                self.stdout.write(f"{model.ledger_name}: ok, {result.checked} entries")
            else:
                broken.append(model.ledger_name)
                self.stdout.write(f"{model.ledger_name}: BROKEN at seq {result.first_bad_seq}: {result.reason}")
        if broken:
            raise CommandError(f"broken chain in: {', '.join(broken)}")
        self.stdout.write(f"verified {len(models)} ledgers: all chains intact")
