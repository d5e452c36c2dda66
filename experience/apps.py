"""App config of the experience ledger (seed 001: converge-core's ExperienceStore)."""

from django.apps import AppConfig


class ExperienceConfig(AppConfig):
    name = "experience"
    verbose_name = "Experience events"
