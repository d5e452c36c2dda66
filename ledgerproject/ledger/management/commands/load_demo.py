"""Loads a realistic demo data set into every ledger (each app's demo.py), with a progress bar."""

import importlib

from django.conf import settings
from django.core.management.base import BaseCommand
from tqdm import tqdm


def demo_modules():
    found = []
    for app in settings.LEDGER_APPS:
        try:
            found.append((app, importlib.import_module(f"{app}.demo")))
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.demo":
                raise
    return found


class Command(BaseCommand):
    help = "Load demo data into every ledger; ledgers that already hold entries are left as they are."

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument("--seed", type=int, default=20261121, help="random seed, for repeatable data")

    def handle(self, no_progress=False, seed=20261121, **options):
        modules = demo_modules()
        for app, module in tqdm(modules, desc="demo data", unit="ledger", disable=no_progress, file=self.stderr):
            summary = module.load(seed=seed)
            self.stdout.write(f"{app}: {summary or 'loaded'}")
