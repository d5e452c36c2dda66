"""Integrates new entries into each ledger's Merkle tree and signs a checkpoint of every ledger that grew."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, router
from tqdm import tqdm

from ledgerproject.ledger import checkpoints
from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.locking import job_lock
from ledgerproject.ledger.models import newest_seq
from ledgerproject.ledger.registry import get_ledger, ledger_models


class Command(BaseCommand):
    help = (
        "Sign a checkpoint of every ledger (or the named ones) that grew since its last checkpoint. "
        "Run it from cron or a systemd timer, or keep it running with --every SECONDS. On PostgreSQL a "
        "run that finds another one (on any server) holding the job's advisory lock skips its round."
    )
    job_name = "checkpoint_ledgers"

    def add_arguments(self, parser):
        parser.add_argument("ledgers", nargs="*", help="ledger names (default: all)")
        parser.add_argument("--every", type=int, metavar="SECONDS", help="repeat every SECONDS until interrupted")
        parser.add_argument(
            "--rebuild", action="store_true", help="throw away the stored Merkle trees and rebuild them from entries"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, ledgers=(), every=None, rebuild=False, no_progress=False, **options):
        try:
            models = [get_ledger(name) for name in ledgers] if ledgers else ledger_models()
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        if every is not None and every < 1:
            raise CommandError("--every needs at least 1 second")
        # The primary: checkpoints are written there, and one lock there is seen by every server.
        connection = connections[router.db_for_write(checkpoints.Checkpoint)]
        if rebuild:
            with job_lock(connection, self.job_name) as held:
                if not held:
                    raise CommandError("another checkpoint_ledgers run holds the lock; rebuild later")
                self._rebuild(models, no_progress)
        while True:
            with job_lock(connection, self.job_name) as held:
                if held:
                    failed = self._round(models, no_progress)
                else:
                    failed = []
                    self.stdout.write("another checkpoint_ledgers run holds the lock: this round skipped")
            if every is None:
                break
            time.sleep(every)
        if failed:
            raise CommandError(f"could not checkpoint: {', '.join(failed)}")

    def _rebuild(self, models, no_progress):
        for model in models:
            total = model._base_manager.count()
            with tqdm(
                total=total,
                desc=f"rebuild {model.ledger_name}",
                unit="entry",
                disable=no_progress,
                file=self.stderr,
            ) as bar:
                size = checkpoints.rebuild(model, progress=bar.update)
            self.stdout.write(f"{model.ledger_name}: Merkle tree rebuilt, {size} leaves")

    def _round(self, models, no_progress):
        made, failed = 0, []
        for model in models:
            name = model.ledger_name
            try:
                behind = newest_seq(model._base_manager) - checkpoints.integrated_size(name)
                with tqdm(
                    total=max(behind, 0),
                    desc=name,
                    unit="entry",
                    disable=no_progress or behind < 10_000,
                    file=self.stderr,
                ) as bar:
                    checkpoints.integrate(model, progress=bar.update)
                checkpoint, created = checkpoints.make_checkpoint(model)
            except checkpoints.EmptyLedgerError:
                self.stdout.write(f"{name}: empty, nothing to checkpoint")
                continue
            except StateConflictError as exc:
                failed.append(name)
                self.stderr.write(f"{name}: {exc.message}")
                continue
            made += created
            state = "signed" if created else "unchanged"
            self.stdout.write(f"{name}: {state} checkpoint @{checkpoint.tree_size} root {checkpoint.root_hash[:16]}…")
        self.stdout.write(f"checkpointed {len(models)} ledgers: {made} new checkpoint(s)")
        return failed
