"""App config of the runs ledgers: blobs and their changes, runs, run events, run outcomes, task outputs."""

from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
