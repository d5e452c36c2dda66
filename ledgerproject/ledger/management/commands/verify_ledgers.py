"""Re-walks every ledger's hash chain (or the named ones) and compares it with the signed checkpoints
(with --rollups, also the pages' rollups with a count over the table, and the latest-entry rows
with each key's newest entry); records each result and
exits non-zero if any ledger fails."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ledgerproject.ledger import latest, rollups
from ledgerproject.ledger.chain import default_workers, record_check, verify_ledger
from ledgerproject.ledger.models import newest_seq
from ledgerproject.ledger.registry import get_ledger, ledger_models


class Command(BaseCommand):
    help = "Verify the hash chain of every ledger (or the named ones) and compare it with its signed checkpoints."

    def add_arguments(self, parser):
        parser.add_argument("ledgers", nargs="*", help="ledger names (default: all)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--links-only",
            action="store_true",
            help="only re-hash the stored canonical forms (fast); skip comparing them with the columns",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=default_workers(),
            help=(
                "processes that walk each large ledger (PostgreSQL), each with its own database connection"
                " (default: one per CPU this process may use, up to 8; 1 leaves the other cores to the server)"
            ),
        )
        parser.add_argument(
            "--rollups",
            action="store_true",
            help=(
                "also compare the rollups pages read with a count over each table, and the latest-entry rows"
                " with each key's newest entry (rebuild_rollups repairs both)"
            ),
        )

    def handle(self, *names, ledgers=(), no_progress=False, links_only=False, workers=1, **options):
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        try:
            models = [get_ledger(name) for name in ledgers] if ledgers else ledger_models()
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        broken = []
        for model in models:
            total = newest_seq(model._base_manager)
            with tqdm(total=total, desc=model.ledger_name, unit="entry", disable=no_progress, file=self.stderr) as bar:
                result = verify_ledger(model, progress=bar.update, links_only=links_only, workers=workers)
            record_check(result, checked_by="verify_ledgers")
            if result.ok:
                self.stdout.write(
                    f"{model.ledger_name}: ok, {result.checked} entries, "
                    f"{result.checkpoints_checked} signed checkpoint(s) match"
                )
            else:
                broken.append(model.ledger_name)
                where = f" at seq {result.first_bad_seq}" if result.first_bad_seq else ""
                if result.bad_checkpoint is not None:
                    where += f" (checkpoint @{result.bad_checkpoint})"
                self.stdout.write(f"{model.ledger_name}: BROKEN{where}: {result.reason}")
        stale = self._check_rollups(models) if options.get("rollups") else []
        if broken:
            raise CommandError(f"broken chain in: {', '.join(broken)}")
        if stale:
            raise CommandError(f"rollups differ from the table in: {', '.join(stale)} (run rebuild_rollups)")
        self.stdout.write(f"verified {len(models)} ledgers: all chains intact and consistent with their checkpoints")

    def _check_rollups(self, models):
        stale = []
        for model in models:
            if self._latest_differ(model):
                stale.append(model.ledger_name)
            differences = rollups.check(model)
            if not differences:
                self.stdout.write(f"{model.ledger_name}: rollups match the table")
                continue
            if model.ledger_name not in stale:
                stale.append(model.ledger_name)
            for dimension, day, tenant, key, kept, counted in differences[:10]:
                self.stdout.write(
                    f"{model.ledger_name}: rollup {dimension}/{key or '-'} on {day} "
                    f"(tenant {tenant or 'none'}): stored {kept}, counted {counted}"
                )
        return stale

    def _latest_differ(self, model):
        differ = False
        for kept in latest.latest_models(model):
            differences = latest.check(kept)
            differ = differ or bool(differences)
            if not differences:
                self.stdout.write(f"{model.ledger_name}: current rows of {kept._meta.label} match the entries")
            for row, expected in differences[:10]:
                self.stdout.write(
                    f"{model.ledger_name}: current rows of {kept._meta.label}: stored {row}, expected {expected}"
                )
        return differ
