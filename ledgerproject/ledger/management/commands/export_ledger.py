"""Writes a ledger's verifiable JSONL export: a manifest with a signed checkpoint, then every entry up to it."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ledgerproject.ledger import checkpoints
from ledgerproject.ledger.proofs_api import ExportRefused, check_before_export, export_lines
from ledgerproject.ledger.registry import get_ledger


class Command(BaseCommand):
    help = "Export a ledger as verifiable JSONL (check it with `python -m ledgerproject.ledger.verify export`)."

    def add_arguments(self, parser):
        parser.add_argument("ledger", help="the ledger's name")
        parser.add_argument("-o", "--output", help="file to write (default: standard output)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, ledger, output=None, no_progress=False, **options):
        try:
            model = get_ledger(ledger)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        try:
            checkpoint, _ = checkpoints.make_checkpoint(model)
        except checkpoints.EmptyLedgerError:
            raise CommandError(f"ledger {ledger} is empty: there is nothing to export") from None
        except checkpoints.MerkleStateError as exc:
            raise CommandError(exc.message) from None
        try:
            # The entries must still give the signed roots before anything is called "consistent" with them.
            check_before_export(model, checkpoint)
        except ExportRefused as exc:
            raise CommandError(exc.message) from None
        handle = open(output, "w", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
        try:
            with tqdm(
                total=checkpoint.tree_size, desc=ledger, unit="entry", disable=no_progress, file=self.stderr
            ) as bar:
                for line in export_lines(model, checkpoint, progress=bar.update):
                    handle.write(line)
        finally:
            if output:
                handle.close()
        if output:
            self.stdout.write(
                f"{ledger}: exported {checkpoint.tree_size} entries to {output}, consistent with the checkpoint "
                f"@{checkpoint.tree_size} root {checkpoint.root_hash}"
            )
